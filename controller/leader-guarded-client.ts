// The controller's only way to write: an ObjectClient that refuses every create, replace, patch
// and delete while this process does not hold the leader Lease. Reads stay open (caches, finds),
// so a follower keeps warm; a pass that reaches a write after losing the Lease ends with
// NotLeader, which the reconcilers treat as "nothing to do", never as a failure to retry.
// One check here instead of a guard threaded through every writer's constructor: a writer added
// later cannot forget it.
import type { KubeObject, ObjectClient, PatchType, ResourceRef } from '../lib/kube/client.js';

export class NotLeader extends Error {
  constructor(what: string) {
    super(`not the leader: refused to ${what}`);
  }
}

export function leaderGuarded(client: ObjectClient, isLeader: () => boolean): ObjectClient {
  const check = (verb: string, ref: ResourceRef) => {
    if (!isLeader()) throw new NotLeader(`${verb} ${ref.plural}${ref.name ? `/${ref.name}` : ''}`);
  };
  return {
    get: <T extends KubeObject>(ref: ResourceRef) => client.get<T>(ref),
    find: <T extends KubeObject>(ref: ResourceRef) => client.find<T>(ref),
    create: async <T extends KubeObject>(ref: ResourceRef, body: unknown) => {
      check('create', ref);
      return client.create<T>(ref, body);
    },
    replace: async <T extends KubeObject>(ref: ResourceRef, body: unknown) => {
      check('replace', ref);
      return client.replace<T>(ref, body);
    },
    patch: async <T extends KubeObject>(ref: ResourceRef, body: unknown, type?: PatchType) => {
      check('patch', ref);
      return client.patch<T>(ref, body, type);
    },
    delete: async (ref: ResourceRef) => {
      check('delete', ref);
      return client.delete(ref);
    },
  };
}
