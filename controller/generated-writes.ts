// The writes that make the objects sluice generates for a Canary match what it wants: the canary
// copy, the primary/canary/apex Services and the canary autoscaler. Each compares with the cache
// and writes only what differs; a create the cache had not caught up with is not an error.
import { annotations as A, labels as L } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import type { Deployment, HorizontalPodAutoscaler } from '../api/workload.js';
import { at, isAlreadyExists, type KubeObject, type ObjectClient, R, type ResourceRef } from '../lib/kube/client.js';
import type { ObjectCache } from '../lib/kube/informer.js';
import type { Desired } from './desired-state.js';
import { buildCanaryCopy, type CopyRole, canaryHpa } from './generated-objects.js';

export interface GeneratedCaches {
  services: ObjectCache<KubeObject & { spec?: Record<string, unknown> }>;
  hpas: ObjectCache<HorizontalPodAutoscaler>;
}

type Services = Partial<Record<'primary' | 'canary' | 'apex' | 'baseline', KubeObject & { spec: { selector: unknown; ports: unknown } }>>;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class GeneratedWrites {
  constructor(
    /** Leader-guarded (leader-guarded-client.ts). */
    private readonly client: ObjectClient,
    private readonly caches: GeneratedCaches,
  ) {}

  /**
   * Creates an object the cache says is missing. "Already exists" means the cache is behind (we
   * or another pass created it moments ago): not an error; answers whether this call created it.
   */
  async createMissing(ref: ResourceRef, body: unknown): Promise<boolean> {
    try {
      await this.client.create(ref, body);
      return true;
    } catch (err) {
      if (isAlreadyExists(err)) return false;
      throw err;
    }
  }

  /** The canary copy, or (`role` baseline) a CanaryJudge's fresh baseline of the stable revision. */
  async ensureCopy(
    canary: Canary,
    target: Deployment,
    copy: Deployment | undefined,
    want: NonNullable<Desired['copy']>,
    role: CopyRole = 'canary',
  ): Promise<void> {
    const ns = canary.metadata.namespace!;
    if (!copy) {
      // desiredState always says what a missing copy starts from.
      await this.createMissing(at(R.deployments, ns), buildCanaryCopy(canary, target, want.template!, want.revision!, want.replicas, role));
      return;
    }
    const ops: unknown[] = [];
    if (want.template && want.revision && copy.metadata.annotations?.[A.revision] !== want.revision) {
      const fresh = buildCanaryCopy(canary, target, want.template, want.revision, want.replicas, role);
      ops.push({ op: 'replace', path: '/spec/template', value: fresh.spec.template });
      ops.push({ op: 'add', path: '/metadata/annotations', value: { ...(copy.metadata.annotations ?? {}), [A.revision]: want.revision } });
    }
    if ((copy.spec.replicas ?? 1) !== want.replicas) ops.push({ op: 'replace', path: '/spec/replicas', value: want.replicas });
    if (ops.length === 0) return;
    await this.client.patch(at(R.deployments, ns, copy.metadata.name), ops, 'json');
  }

  /** `services`: what controller/kinds/ says they should be; undefined leaves them as they are. */
  async ensureServices(canary: Canary, services: Services | undefined): Promise<void> {
    if (!services) return;
    const ns = canary.metadata.namespace!;
    for (const [role, want] of Object.entries(services)) {
      if (!want) continue;
      const have = this.caches.services.get(ns, want.metadata.name);
      if (!have) {
        await this.createMissing(at(R.services, ns), want);
        continue;
      }
      // The apex Service, when it is the user's, is theirs to keep as it is.
      if (role === 'apex' && !have.metadata.labels?.[L.canaryName]) continue;
      const spec = have.spec as { selector?: unknown; ports?: { name?: string; port?: number; targetPort?: unknown }[] } | undefined;
      const ports = (spec?.ports ?? []).map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: 'TCP' }));
      if (same(spec?.selector, want.spec.selector) && same(ports, want.spec.ports)) continue;
      await this.client.patch(at(R.services, ns, want.metadata.name), { spec: { selector: want.spec.selector, ports: want.spec.ports } });
    }
  }

  async ensureHpa(canary: Canary, source: HorizontalPodAutoscaler): Promise<void> {
    const ns = canary.metadata.namespace!;
    const want = canaryHpa(canary, source, canary.spec.targetRef.name);
    const have = this.caches.hpas.get(ns, want.metadata.name);
    if (!have) {
      await this.createMissing(at(R.hpas, ns), want);
      return;
    }
    const pick = (h: HorizontalPodAutoscaler) => [h.spec.minReplicas ?? 1, h.spec.maxReplicas, h.spec.metrics, h.spec.scaleTargetRef.name];
    if (same(pick(have), pick(want))) return;
    await this.client.patch(at(R.hpas, ns, want.metadata.name), { spec: want.spec });
  }
}
