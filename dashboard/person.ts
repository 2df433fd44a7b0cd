// A person using the dashboard, and what the apiserver lets them do. Every read and action goes
// through `client`, which carries that person's own credentials: the apiserver decides, and the
// dashboard only asks it ahead of time which buttons to draw.

import { ACTION_REF, BREAK_GLASS_VERB } from '../api/canary-action.js';
import type { KubeClient, KubeObject } from '../lib/kube/client.js';

export interface Person {
  client: KubeClient;
}

const SELF_REVIEW = { group: 'authentication.k8s.io', version: 'v1', plural: 'selfsubjectreviews' } as const;
const SELF_ACCESS_REVIEW = { group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectaccessreviews' } as const;

/** The name the apiserver knows the person by. */
export async function whoAmI(client: KubeClient): Promise<string> {
  const review = await client.create<KubeObject & { status?: { userInfo?: { username?: string } } }>(SELF_REVIEW, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
  });
  return review.status?.userInfo?.username ?? 'unknown';
}

export async function canI(
  client: KubeClient,
  attrs: { group: string; resource: string; verb: string; namespace?: string },
): Promise<boolean> {
  const review = await client.create<KubeObject & { status?: { allowed?: boolean } }>(SELF_ACCESS_REVIEW, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: attrs },
  });
  return review.status?.allowed === true;
}

export interface Rights {
  /** May create CanaryActions here: promote, abort, retry, pause, resume. */
  act: boolean;
  /** May break glass here (its own RBAC verb, never implied by act). */
  breakGlass: boolean;
}

/** What a person may do in a namespace, asked of the apiserver and kept briefly. */
export class RightsCache {
  private readonly kept = new Map<string, { rights: Promise<Rights>; until: number }>();

  constructor(private readonly ttlMs = 10_000) {}

  rights(client: KubeClient, namespace: string): Promise<Rights> {
    const now = Date.now();
    const hit = this.kept.get(namespace);
    if (hit && now < hit.until) return hit.rights;
    const ask = (verb: string) => canI(client, { group: ACTION_REF.group, resource: ACTION_REF.plural, verb, namespace });
    const rights = Promise.all([ask('create'), ask(BREAK_GLASS_VERB)]).then(([act, breakGlass]) => ({ act, breakGlass }));
    this.kept.set(namespace, { rights, until: now + this.ttlMs });
    rights.catch(() => this.kept.delete(namespace));
    return rights;
  }
}

/** Can the person list Canaries in every namespace? Otherwise the dashboard shows the namespaces it was given. */
export async function mayListEverywhere(client: KubeClient, ref: { group: string; plural: string }): Promise<boolean> {
  return canI(client, { group: ref.group, resource: ref.plural, verb: 'watch' }).then(
    async (watch) => watch && (await canI(client, { group: ref.group, resource: ref.plural, verb: 'list' })),
  );
}

const SUBJECT_ACCESS_REVIEW = { group: 'authorization.k8s.io', version: 'v1', plural: 'subjectaccessreviews' } as const;

/**
 * Whether a person may list Canaries in a namespace, asked of the apiserver by the dashboard's own
 * identity (a SubjectAccessReview) and kept briefly: the in-cluster dashboard shares one watch
 * among everyone and shows each person only what their RBAC lets them read.
 */
export class ReadAccess {
  private readonly kept = new Map<string, { allowed: Promise<boolean>; until: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly ref: { group: string; plural: string },
    private readonly ttlMs = 30_000,
    private readonly max = 50_000,
  ) {}

  private ask(who: { username: string; uid?: string; groups: string[] }, namespace: string): Promise<boolean> {
    const key = `${who.username}\u0000${who.groups.join(',')}\u0000${namespace}`;
    const now = Date.now();
    const hit = this.kept.get(key);
    if (hit && now < hit.until) return hit.allowed;
    const allowed = this.client
      .create<KubeObject & { status?: { allowed?: boolean } }>(SUBJECT_ACCESS_REVIEW, {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: who.username,
          ...(who.uid ? { uid: who.uid } : {}),
          groups: who.groups,
          resourceAttributes: { group: this.ref.group, resource: this.ref.plural, verb: 'list', ...(namespace ? { namespace } : {}) },
        },
      })
      .then((r) => r.status?.allowed === true);
    if (this.kept.size >= this.max) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(key, { allowed, until: now + this.ttlMs });
    allowed.catch(() => this.kept.delete(key));
    return allowed;
  }

  /** For one person: namespace → may they read Canaries there (everywhere, or in that one). */
  for(who: { username: string; uid?: string; groups: string[] }): (namespace: string) => Promise<boolean> {
    return async (namespace) => (await this.ask(who, '')) || this.ask(who, namespace);
  }
}
