// What the simulator looks up per request and per status pass, kept up to date from its watches
// instead of scanned: at 1,000 Services and routes the scans were most of its CPU (issue 31).
import type { ChangeType } from '../../../lib/kube/informer.js';

interface Slice {
  metadata: { namespace?: string; name: string; labels?: Record<string, string> };
  endpoints?: { conditions?: { ready?: boolean } }[];
}

const SERVICE_LABEL = 'kubernetes.io/service-name';

/** Ready endpoints per Service, summed over its EndpointSlices. */
export class ReadyEndpointIndex {
  /** "namespace/service" → slice name → its ready endpoints. */
  private readonly bySlice = new Map<string, Map<string, number>>();

  update(type: ChangeType, slice: Slice, old: Slice | undefined): void {
    // A slice that moved to another Service (its label changed) leaves the old one first.
    if (old) this.forget(old);
    if (type !== 'DELETED') {
      const service = slice.metadata.labels?.[SERVICE_LABEL];
      if (service === undefined) return;
      const key = `${slice.metadata.namespace ?? ''}/${service}`;
      let slices = this.bySlice.get(key);
      if (!slices) this.bySlice.set(key, (slices = new Map()));
      slices.set(slice.metadata.name, (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length);
    } else this.forget(slice);
  }

  of(namespace: string, service: string): number {
    let n = 0;
    for (const ready of this.bySlice.get(`${namespace}/${service}`)?.values() ?? []) n += ready;
    return n;
  }

  private forget(slice: Slice): void {
    const service = slice.metadata.labels?.[SERVICE_LABEL];
    if (service === undefined) return;
    const key = `${slice.metadata.namespace ?? ''}/${service}`;
    const slices = this.bySlice.get(key);
    slices?.delete(slice.metadata.name);
    if (slices?.size === 0) this.bySlice.delete(key);
  }
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
