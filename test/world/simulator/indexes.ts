// What the simulator looks up per request and per status pass without scanning everything: at
// 1,000 Services and routes the scans were most of its CPU (issue 31).
import type { KubeObject } from '../../../lib/kube/client.js';
import { namespaced, type ObjectCache } from '../../../lib/kube/informer.js';

type Slice = KubeObject & { endpoints?: { conditions?: { ready?: boolean } }[] };

const SERVICE_LABEL = 'kubernetes.io/service-name';

/** Ready endpoints of a Service, summed over its EndpointSlices: one namespace's slices read, from the informer's index. */
export function readyEndpointsOf(slices: ObjectCache<Slice>, namespace: string, service: string): number {
  let n = 0;
  for (const s of namespaced(slices, namespace)) {
    if (s.metadata.labels?.[SERVICE_LABEL] !== service) continue;
    for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false) n++;
  }
  return n;
}

interface Named {
  metadata: { namespace?: string; name: string };
}

/**
 * Which routes a status pass must look at: those changed since the last pass, and every route of a
 * namespace whose Services changed (a backend appearing or going). Everything at first, and after
 * a GatewayClass or Gateway change.
 */
export class ChangedRoutes {
  private everything = true;
  private readonly routes = new Set<string>();
  private readonly namespaces = new Set<string>();

  all(): void {
    this.everything = true;
  }

  route(namespace: string, name: string): void {
    this.routes.add(`${namespace}/${name}`);
  }

  namespace(namespace: string): void {
    this.namespaces.add(namespace);
  }

  /** The routes to look at now, from those `source` holds; what was marked is cleared. */
  take<T extends Named>(source: { items(): T[]; get(namespace: string, name: string): T | undefined }): T[] {
    const everything = this.everything;
    const routes = [...this.routes];
    const namespaces = this.namespaces.size > 0 ? new Set(this.namespaces) : undefined;
    this.everything = false;
    this.routes.clear();
    this.namespaces.clear();
    if (everything || namespaces) {
      const wanted = new Set(routes);
      return source
        .items()
        .filter(
          (r) =>
            everything || wanted.has(`${r.metadata.namespace ?? ''}/${r.metadata.name}`) || namespaces!.has(r.metadata.namespace ?? ''),
        );
    }
    return routes.map((k) => k.split('/') as [string, string]).flatMap(([ns, name]) => source.get(ns, name) ?? []);
  }
}
