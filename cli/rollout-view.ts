// Everything `kubectl sluice get` shows of one Canary, read from the apiserver with the caller's
// own credentials (the Canary, its target and canary copy, their ReplicaSets, the HTTPRoute and
// the Canary's Events) into one plain value: the screen renders it, `-o json|yaml` prints it.

import { apexName, maxWeight, strategyOf } from '../api/canary-analysis.js';
import type { JudgementReport } from '../api/canary-judge.js';
import { annotations as A, names, shortRevision } from '../api/contract.js';
import { canaryNodesOf, nodeOfPod, nodesOf } from '../api/daemonset.js';
import { type Canary, type CanaryCondition, CR } from '../api/flagger-types.js';
import { routeKindOf } from '../api/route-kinds.js';
import { REVISION_LABEL } from '../api/statefulset.js';
import {
  type DaemonSet,
  type Deployment,
  labelSelectorOf,
  revisionOf,
  type StatefulSet,
  targetKind,
  type Workload,
  type WorkloadKind,
} from '../api/workload.js';
import { KINDS } from '../api/workload-kinds.js';
import { at, type KubeClient, type KubeObject, R } from '../lib/kube/client.js';

export interface RevisionView {
  id: string;
  images: string[];
}

export interface RolloutView {
  name: string;
  namespace: string;
  target: string;
  phase: string;
  strategy: string;
  /** canary: weight now and the last weight; iterations: done and required. */
  step: { weight: number; maxWeight: number } | { iteration: number; iterations: number };
  failedChecks: number;
  threshold: number;
  paused?: string;
  suspended: boolean;
  stable?: RevisionView;
  candidate?: RevisionView;
  pods: { primary: { ready: number; desired: number }; canary: { ready: number; desired: number } };
  /** The live split; `baseline` while a CanaryJudge's baseline takes its share (docs/analysis.md). */
  route?: { primary: number; canary: number; baseline?: number };
  checks: { name: string; ok: boolean; value?: number; min?: number; max?: number; message?: string; dryRun?: boolean }[];
  gates: string[];
  conditions: { type: string; status: string; reason?: string; message?: string }[];
  lastAction?: { action: string; by: string; result: string; message: string; at: string };
  /** Held by a ClusterCanaryPolicy's stopTheLine (docs/policy.md). */
  lineStopped?: string;
  /** Held by a closed change window (docs/policy.md): which, until when. */
  changeWindow?: string;
  /** Glass broken for the revision under test: who, why, when. */
  breakGlass?: string;
  /** Released again without analysis (fast rollback), and when it was released before. */
  fastRollback?: string;
  /** The CanaryJudge's last judgement (docs/analysis.md), as the Canary's status records it. */
  judgement?: JudgementReport;
  events: { type: string; reason?: string; message: string; age: string; time: string }[];
}

type ReplicaSet = KubeObject & {
  spec: { template?: Deployment['spec']['template'] };
  status?: { replicas?: number; readyReplicas?: number };
};
type Event = KubeObject & {
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
};

const imagesOf = (t: Deployment['spec']['template'] | undefined) =>
  (t?.spec as { containers?: { image?: string }[] } | undefined)?.containers?.map((c) => c.image ?? '?') ?? [];
const eventTime = (e: Event) => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? '';

export function age(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '?';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

/** The split of traffic matching no rule of its own: the route's default rule, as its kind reads it. */
function routeWeights(route: KubeObject | undefined, canary: Canary): RolloutView['route'] {
  const apex = apexName(canary);
  const split = routeKindOf(canary.spec as { provider?: unknown }).split(route, apex);
  if (!split) return undefined;
  const baseline = split[names.baselineService(apex)];
  return {
    primary: split[names.primaryService(apex)] ?? 0,
    canary: split[names.canaryService(apex)] ?? 0,
    ...(baseline !== undefined ? { baseline } : {}),
  };
}

/** The Canary's route object, wherever its kind lives. */
function findRoute(client: KubeClient, canary: Canary): Promise<KubeObject | undefined> {
  const kind = routeKindOf(canary.spec as { provider?: unknown });
  return client.find<KubeObject>(at(kind.ref, canary.metadata.namespace, kind.objectName(apexName(canary))));
}

/** The Canary's Events, oldest first after sorting. */
function eventsOf(client: KubeClient, canary: Canary) {
  return client.list<Event>(at(R.events, canary.metadata.namespace), {
    fieldSelector: `involvedObject.kind=Canary,involvedObject.name=${canary.metadata.name}`,
  });
}

/** Which gate holds the rollout, from the phase and the last event that says so. */
function gatesOf(canary: Canary, events: Event[]): string[] {
  const phase = canary.status?.phase;
  const waiting = events.filter((e) => /waiting for (promotion |traffic increase )?approval/.test(e.message ?? '')).at(-1);
  if (phase === 'Waiting') return ['confirm-rollout closed: the canary has not started'];
  if (phase === 'WaitingPromotion') return ['confirm-promotion closed: analysis passed, the release waits'];
  if (phase === 'Progressing' && waiting && /traffic increase/.test(waiting.message ?? '')) return ['confirm-traffic-increase closed'];
  return [];
}

/** What the Canary alone says (no request): enough for `list`. */
export function canaryView(canary: Canary): RolloutView {
  const st = canary.status ?? {};
  const stableId = st.lastPromotedSpec;
  const testing = st.lastAppliedSpec && st.lastAppliedSpec !== stableId ? st.lastAppliedSpec : undefined;
  const strategy = strategyOf(canary);
  const a = canary.spec.analysis ?? {};
  const cond = (c: CanaryCondition) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message });
  return {
    name: canary.metadata.name,
    namespace: canary.metadata.namespace!,
    target: canary.spec.targetRef.name,
    phase: st.phase || 'Initializing',
    strategy,
    step:
      strategy === 'canary'
        ? { weight: st.canaryWeight ?? 0, maxWeight: maxWeight(canary.spec) }
        : { iteration: st.iterations ?? 0, iterations: a.iterations ?? 0 },
    failedChecks: st.failedChecks ?? 0,
    threshold: a.threshold ?? 5,
    ...(st.analysisPaused ? { paused: `by ${st.analysisPaused.by} since ${st.analysisPaused.at}` } : {}),
    suspended: canary.spec.suspend === true,
    ...(stableId ? { stable: { id: shortRevision(stableId), images: [] } } : {}),
    ...(testing ? { candidate: { id: shortRevision(testing), images: [] } } : {}),
    pods: { primary: { ready: 0, desired: 0 }, canary: { ready: 0, desired: 0 } },
    checks: (st.lastChecks ?? []).map(({ at: _at, ...c }) => c),
    gates: gatesOf(canary, []),
    conditions: (st.conditions ?? []).map(cond),
    ...(st.lastAction
      ? {
          lastAction: {
            action: st.lastAction.action,
            by: st.lastAction.by,
            result: st.lastAction.result,
            message: st.lastAction.message,
            at: st.lastAction.at,
          },
        }
      : {}),
    ...(st.judgement ? { judgement: st.judgement } : {}),
    ...(st.lineStopped
      ? {
          lineStopped: `by ClusterCanaryPolicy ${st.lineStopped.policy}${st.lineStopped.by ? ` (${st.lineStopped.by})` : ''} since ${st.lineStopped.since}: ${st.lineStopped.reason}`,
        }
      : {}),
    ...(st.changeWindow ? { changeWindow: `${st.changeWindow.message} (held since ${st.changeWindow.since})` } : {}),
    ...(st.breakGlass
      ? {
          breakGlass: `by ${st.breakGlass.by} at ${st.breakGlass.at} for revision ${shortRevision(st.breakGlass.revision)}: ${st.breakGlass.reason}`,
        }
      : {}),
    ...(st.fastRollback
      ? { fastRollback: `to revision ${shortRevision(st.fastRollback.revision)}, released before at ${st.fastRollback.releasedAt}` }
      : {}),
    events: [],
  };
}

/** The whole screen: the Canary's view completed with its objects, route and Events. */
/** What a caller may ask of rolloutView besides the view. */
export interface ViewOptions {
  /** How many of the Canary's last Events (default 6, what a terminal screen holds). */
  events?: number;
  /** Filled with the stable and candidate pod templates as read, for a caller that shows their difference. */
  templates?: { stable?: unknown; candidate?: unknown };
}

export async function rolloutView(client: KubeClient, canary: Canary, now = new Date(), opts: ViewOptions = {}): Promise<RolloutView> {
  const eventCount = opts.events ?? 6;
  const kind = targetKind(canary.spec.targetRef);
  switch (kind) {
    case 'Deployment':
      return copyView(client, canary, now, eventCount, opts.templates);
    case 'StatefulSet':
    case 'DaemonSet':
      return ownPodsView(client, canary, kind, now, eventCount, opts.templates);
    case undefined: {
      // A kind sluice does not manage: what the Canary says of itself (its condition names the kind).
      const [route, evList] = await Promise.all([findRoute(client, canary), eventsOf(client, canary)]);
      return withRouteAndEvents(canaryView(canary), canary, route, evList.items, now, eventCount);
    }
    default:
      return unreachable(kind);
  }
}

const unreachable = (kind: never): never => {
  throw new Error(`no view for target kind ${String(kind)}`);
};

/** A target that runs its candidate in a canary copy: primary pods from its ReplicaSets, canary pods from the copy. */
async function copyView(
  client: KubeClient,
  canary: Canary,
  now: Date,
  eventCount: number,
  templates?: ViewOptions['templates'],
): Promise<RolloutView> {
  const ns = canary.metadata.namespace!;
  const st = canary.status ?? {};
  const targetName = canary.spec.targetRef.name;
  const [target, copy, route, rsList, evList] = await Promise.all([
    client.find<Deployment>(at(R.deployments, ns, targetName)),
    client.find<Deployment>(at(R.deployments, ns, names.canaryCopy(targetName))),
    findRoute(client, canary),
    client.list<ReplicaSet>(at(R.replicasets, ns)),
    eventsOf(client, canary),
  ]);
  const view = canaryView(canary);
  // The primary pods run the target's ReplicaSet that has pods (a paused target keeps its old one).
  const running = rsList.items
    .filter(
      (rs) => rs.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === targetName) && (rs.status?.replicas ?? 0) > 0,
    )
    .sort((a, b) => (b.status?.replicas ?? 0) - (a.status?.replicas ?? 0))[0];
  if (view.stable) view.stable.images = imagesOf(running?.spec.template);
  if (view.candidate && target) {
    // The frozen target holds the candidate's template; once it moved on, the copy still runs it.
    const candidate = revisionOf(target).isReleased(st.lastAppliedSpec) ? target.spec.template : copy?.spec.template;
    view.candidate.images = imagesOf(candidate);
    if (templates) templates.candidate = candidate;
  }
  if (templates && view.stable) templates.stable = running?.spec.template;
  view.pods = {
    primary: { ready: target?.status?.readyReplicas ?? 0, desired: target?.spec.replicas ?? 0 },
    canary: { ready: copy?.status?.readyReplicas ?? 0, desired: copy?.spec.replicas ?? 0 },
  };
  return withRouteAndEvents(view, canary, route, evList.items, now, eventCount);
}

/** The route's weights, the gates and the last Events: the same for every kind. */
function withRouteAndEvents(
  view: RolloutView,
  canary: Canary,
  route: KubeObject | undefined,
  evs: Event[],
  now: Date,
  eventCount: number,
): RolloutView {
  if (route) view.route = routeWeights(route, canary);
  const events = evs.sort((a, b) => eventTime(a).localeCompare(eventTime(b)));
  view.gates = gatesOf(canary, events);
  view.events = events.slice(-eventCount).map((e) => ({
    type: e.type ?? 'Normal',
    reason: e.reason,
    message: e.message ?? '',
    time: eventTime(e),
    age: age(eventTime(e), now),
  }));
  return view;
}

type Pod = KubeObject & { spec?: { containers?: { image?: string }[] }; status?: { conditions?: { type: string; status: string }[] } };

/**
 * The view of a target that is its own canary: a StatefulSet's pods are told apart by the revision
 * label its controller puts on them, a DaemonSet's by whether their node is a canary node
 * (docs/workloads.md).
 */
async function ownPodsView(
  client: KubeClient,
  canary: Canary,
  kind: 'StatefulSet' | 'DaemonSet',
  now: Date,
  eventCount: number,
  templates?: ViewOptions['templates'],
): Promise<RolloutView> {
  const ns = canary.metadata.namespace!;
  const [target, route, evList] = await Promise.all([
    client.find<StatefulSet | DaemonSet>(at(KINDS[kind].ref, ns, canary.spec.targetRef.name)),
    findRoute(client, canary),
    eventsOf(client, canary),
  ]);
  const view = canaryView(canary);
  const selector = labelSelectorOf(target?.spec.selector.matchLabels);
  const pods = target && selector ? (await client.list<Pod>(at(R.pods, ns), { labelSelector: selector })).items : [];
  const ready = (p: Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const { primary, candidates, total } =
    kind === 'DaemonSet' ? byCanaryNode(target as DaemonSet, pods) : byRevision(target as StatefulSet, pods);
  if (view.stable) view.stable.images = imagesOf(primary[0] ? { spec: primary[0].spec } : undefined);
  if (view.candidate && target) view.candidate.images = imagesOf(target.spec.template);
  // Here the stable side is a running pod's spec (the controller's own fields in it too): the
  // closest there is to its template once the target's template moved on.
  if (templates && view.stable && primary[0]) templates.stable = { spec: primary[0].spec };
  if (templates && view.candidate && target) templates.candidate = { spec: target.spec.template.spec };
  view.pods = {
    primary: { ready: primary.filter(ready).length, desired: total - candidates.length },
    canary: { ready: candidates.filter(ready).length, desired: candidates.length },
  };
  return withRouteAndEvents(view, canary, route, evList.items, now, eventCount);
}

/** A DaemonSet's pods: those on its canary nodes run the candidate. */
function byCanaryNode(ds: DaemonSet | undefined, pods: Pod[]) {
  const nodes = ds ? canaryNodesOf(ds) : [];
  const onCanaryNode = (p: Pod) => nodes.includes(nodeOfPod(p) ?? '');
  return { primary: pods.filter((p) => !onCanaryNode(p)), candidates: pods.filter(onCanaryNode), total: ds ? nodesOf(ds) : 0 };
}

/** A StatefulSet's pods: its controller labels each with the revision it runs. */
function byRevision(sts: StatefulSet | undefined, pods: Pod[]) {
  const current = sts?.status?.currentRevision;
  const update = sts?.status?.updateRevision;
  const on = (rev: string | undefined) => pods.filter((p) => rev !== undefined && p.metadata.labels?.[REVISION_LABEL] === rev);
  return { primary: on(current), candidates: update === current ? [] : on(update), total: sts?.spec.replicas ?? 1 };
}

export async function findCanary(client: KubeClient, ns: string, name: string): Promise<Canary | undefined> {
  return client.find<Canary>(at(CR.canaries, ns, name));
}

/** The Canary that manages a workload: the one its annotation names, else one whose targetRef names it. */
export async function canaryOf(client: KubeClient, target: Workload, kind: WorkloadKind): Promise<Canary | undefined> {
  const ns = target.metadata.namespace!;
  const named = target.metadata.annotations?.[A.canary];
  if (named) {
    const c = await findCanary(client, ns, named);
    if (c) return c;
  }
  const all = await client.list<Canary>(at(CR.canaries, ns));
  return all.items.find((c) => c.spec.targetRef?.name === target.metadata.name && targetKind(c.spec.targetRef) === kind);
}
