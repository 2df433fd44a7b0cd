// The status a Gateway API implementation writes: Accepted/Programmed on the GatewayClass and
// Gateway, and one entry per parent in an HTTPRoute's status.parents. Pure: desired status from
// the objects; the simulator writes it only when it differs from what is there.

export const CONTROLLER_NAME = 'io.cilium/gateway-controller';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface ParentRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  sectionName?: string;
  port?: number;
}

export interface RouteParentStatus {
  parentRef: ParentRef;
  controllerName: string;
  conditions: Condition[];
}

function cond(type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: generation };
}

/** Keeps lastTransitionTime when a condition's status did not change, as the API conventions require. */
export function withTransitionTimes(desired: Condition[], current: Condition[] | undefined, now: string): Condition[] {
  return desired.map((c) => {
    const prev = current?.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
  });
}

export function gatewayConditions(generation: number | undefined): Condition[] {
  return [
    cond('Accepted', true, 'Accepted', 'Gateway accepted by the sluice traffic simulator', generation),
    cond('Programmed', true, 'Programmed', 'Gateway programmed in the traffic simulator', generation),
  ];
}

export function routeParentConditions(generation: number | undefined, unresolved: string[]): Condition[] {
  return [
    cond('Accepted', true, 'Accepted', 'Route accepted', generation),
    unresolved.length === 0
      ? cond('ResolvedRefs', true, 'ResolvedRefs', 'All backend references resolved', generation)
      : cond('ResolvedRefs', false, 'BackendNotFound', `Services not found: ${unresolved.join(', ')}`, generation),
  ];
}

export function sameParent(a: ParentRef, b: ParentRef, routeNamespace: string): boolean {
  return (
    a.name === b.name &&
    (a.namespace ?? routeNamespace) === (b.namespace ?? routeNamespace) &&
    (a.sectionName ?? '') === (b.sectionName ?? '') &&
    (a.port ?? 0) === (b.port ?? 0)
  );
}

/** Semantic comparison that ignores timestamps, so unchanged status is never rewritten. */
export function conditionsEqual(a: Condition[] | undefined, b: Condition[] | undefined): boolean {
  const strip = (cs: Condition[] | undefined) =>
    JSON.stringify(
      (cs ?? [])
        .map(({ type, status, reason, message, observedGeneration }) => ({ type, status, reason, message, observedGeneration }))
        .sort((x, y) => x.type.localeCompare(y.type)),
    );
  return strip(a) === strip(b);
}
