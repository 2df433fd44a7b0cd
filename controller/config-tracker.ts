// Tracked configs in the controller (docs/tracked-configs.md): which ConfigMaps and Secrets a
// target reads, their fingerprints, the immutable snapshots the canary copy and the primary pods
// are pinned to, and cleaning up snapshots nothing uses. Content is copied only into snapshots of
// the same kind in the same namespace; only names and hashes are logged or annotated.
import { annotations as A, labels as L, MANAGED_BY, values } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import { type ConfigRef, configHash, configRefs, fingerprint, refKey, snapshotName, TRACKING_ANNOTATION } from '../api/tracked-configs.js';
import type { Deployment } from '../api/workload.js';
import { at, isAlreadyExists, type KubeObject, type ObjectClient, R } from '../lib/kube/client.js';
import { namespaced, type ObjectCache } from '../lib/kube/informer.js';
import { ownerReference } from './generated-objects.js';

export type ConfigObject = KubeObject & {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  type?: string;
  immutable?: boolean;
};

export interface Tracked {
  /** refKey → fingerprint of the live content. */
  fingerprints: Record<string, string>;
  /** refKey → the snapshot holding that content. */
  snapshots: Record<string, string>;
  hash: string | undefined;
  /** The live objects, for making snapshots. */
  objects: Map<string, { ref: ConfigRef; obj: ConfigObject }>;
  /** Read from the apiserver, not yet labelled for the informer: `label()` labels them. */
  unlabelled: ConfigRef[];
}

const refOf = (kind: 'ConfigMap' | 'Secret') => (kind === 'ConfigMap' ? R.configmaps : R.secrets);

/** How long a reference found missing or opted out is not looked up again. */
const UNTRACKED_TTL_MS = 30_000;

export class ConfigTracker {
  /**
   * References that are missing or opted out, by `namespace/kind/name`, until when: they are not
   * in the informer (it sees tracked objects only), and a Canary waiting on its rollout reconciles
   * every half second, so without this each pass would GET them again.
   */
  private readonly untracked = new Map<string, number>();

  constructor(
    private readonly client: ObjectClient,
    private readonly caches: { configmaps: ObjectCache<ConfigObject>; secrets: ObjectCache<ConfigObject> },
  ) {}

  private cached(ns: string, ref: ConfigRef): ConfigObject | undefined {
    return (ref.kind === 'ConfigMap' ? this.caches.configmaps : this.caches.secrets).get(ns, ref.name);
  }

  /**
   * The target's tracked configs as they are now (reads only). An object the informer does not
   * follow yet is read from the apiserver and listed in `unlabelled`; one annotated
   * `flagger.app/config-tracking: disabled`, or missing (an optional reference), is not tracked.
   */
  async track(target: Deployment): Promise<Tracked> {
    const ns = target.metadata.namespace!;
    const out: Tracked = { fingerprints: {}, snapshots: {}, hash: undefined, objects: new Map(), unlabelled: [] };
    for (const ref of configRefs(target.spec.template.spec)) {
      let obj = this.cached(ns, ref);
      if (!obj) {
        const key = `${ns}/${refKey(ref)}`;
        if ((this.untracked.get(key) ?? 0) > Date.now()) continue;
        obj = await this.client.find<ConfigObject>(at(refOf(ref.kind), ns, ref.name));
        if (!obj || obj.metadata.annotations?.[TRACKING_ANNOTATION] === 'disabled') {
          if (this.untracked.size > 10_000) this.untracked.clear();
          this.untracked.set(key, Date.now() + UNTRACKED_TTL_MS);
          continue;
        }
        out.unlabelled.push(ref);
      }
      if (obj.metadata.annotations?.[TRACKING_ANNOTATION] === 'disabled') continue;
      const fp = fingerprint(obj);
      out.fingerprints[refKey(ref)] = fp;
      out.snapshots[refKey(ref)] = snapshotName(ref.name, fp);
      out.objects.set(refKey(ref), { ref, obj });
    }
    out.hash = configHash(out.fingerprints);
    return out;
  }

  /** Labels the objects `track()` found unlabelled, so the informer follows their changes from now on. */
  async label(namespace: string, tracked: Tracked): Promise<void> {
    for (const ref of tracked.unlabelled) {
      await this.client.patch(at(refOf(ref.kind), namespace, ref.name), { metadata: { labels: { [L.tracked]: values.tracked } } });
    }
  }

  /** Creates the snapshots of `tracked` that do not exist yet: immutable copies owned by the Canary. */
  async ensureSnapshots(canary: Canary, tracked: Tracked): Promise<void> {
    const ns = canary.metadata.namespace!;
    for (const [key, { ref, obj }] of tracked.objects) {
      const name = tracked.snapshots[key]!;
      if (this.cached(ns, { kind: ref.kind, name })) continue;
      try {
        await this.client.create(at(refOf(ref.kind), ns), {
          apiVersion: 'v1',
          kind: ref.kind,
          metadata: {
            name,
            namespace: ns,
            labels: { ...MANAGED_BY, [L.canaryName]: canary.metadata.name, [L.tracked]: 'snapshot' },
            annotations: { [A.snapshotOf]: ref.name },
            ownerReferences: [{ ...ownerReference(canary), controller: false, blockOwnerDeletion: false }],
          },
          immutable: true,
          ...(obj.data ? { data: obj.data } : {}),
          ...(obj.binaryData ? { binaryData: obj.binaryData } : {}),
          ...(ref.kind === 'Secret' && obj.type ? { type: obj.type } : {}),
        });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  }

  /** Deletes this Canary's snapshots that neither the primary (stable) nor the candidate uses. */
  async collect(canary: Canary, target: Deployment, current: Tracked): Promise<void> {
    const ns = canary.metadata.namespace!;
    const keep = new Set([...Object.values(current.snapshots), ...Object.values(stableConfigs(target))]);
    for (const [kind, inf] of [
      ['ConfigMap', this.caches.configmaps],
      ['Secret', this.caches.secrets],
    ] as const) {
      for (const o of namespaced(inf, ns)) {
        if (o.metadata.labels?.[L.tracked] !== 'snapshot' || o.metadata.labels?.[L.canaryName] !== canary.metadata.name) continue;
        if (keep.has(o.metadata.name)) continue;
        await this.client.delete(at(refOf(kind), ns, o.metadata.name));
      }
    }
  }
}

/** The snapshots the target's primary pods are pinned to (its annotation). */
export function stableConfigs(target: Deployment): Record<string, string> {
  try {
    const parsed = JSON.parse(target.metadata.annotations?.[A.stableConfigs] ?? '{}') as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}
