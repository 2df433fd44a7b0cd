// Whether the canary Service lists the canary's ready pods yet. A pod is Ready before the
// EndpointSlice controller lists it; a gateway that gets a share of traffic for a Service with no
// ready endpoint answers it with 503s, which the analysis would count against the candidate. So
// the state machine waits for a ready endpoint before it sends traffic (state-machine.ts).
// EndpointSlices carry their Service's labels, so only those of sluice's Services are watched,
// and each is kept as its Service's name and its count of ready endpoints.
import { KEY_PREFIX } from '../api/contract.js';
import type { KubeObject } from '../lib/kube/client.js';
import { namespaced, type ObjectCache } from '../lib/kube/informer.js';

/** The label the EndpointSlice controller puts on a slice: the Service it belongs to. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export type SlimEndpointSlice = KubeObject & { ready: number };

type EndpointSlice = KubeObject & { endpoints?: { conditions?: { ready?: boolean } }[] | null };

/** What is kept of a slice: whose it is and how many of its endpoints are ready (an unset condition counts as ready, as the API says). */
export function slimEndpointSlice(slice: EndpointSlice): SlimEndpointSlice {
  const m = slice.metadata;
  const labels = m.labels ?? {};
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      resourceVersion: m.resourceVersion,
      labels: Object.fromEntries(Object.entries(labels).filter(([k]) => k === SERVICE_NAME_LABEL || k.startsWith(KEY_PREFIX))),
    },
    ready: (Array.isArray(slice.endpoints) ? slice.endpoints : []).filter((e) => e?.conditions?.ready !== false).length,
  };
}

/** Ready endpoints of a Service, over all its slices. */
export function readyEndpoints(slices: ObjectCache<SlimEndpointSlice>, namespace: string, service: string): number {
  return namespaced(slices, namespace)
    .filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === service)
    .reduce((n, s) => n + s.ready, 0);
}
