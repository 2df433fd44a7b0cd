// The commands of `kubectl sluice`: get, list, why, and the five actions. Each returns its exit
// code; output goes through `out` so tests and the watch loop decide where it lands.

import { stringify as toYaml } from 'yaml';
import { ACTION_KIND, ACTION_REF, ACTION_VERSION, type ActionVerb, type CanaryAction, VERB_MEANING } from '../api/canary-action.js';
import { describeJudgement } from '../api/canary-judge.js';
import { GROUP, objectName } from '../api/contract.js';
import { type Canary, CR } from '../api/flagger-types.js';
import { MANAGED_KINDS, revisionOf, WORKLOAD_KINDS, type Workload, type WorkloadKind } from '../api/workload.js';
import { KINDS } from '../api/workload-kinds.js';
import { at, type KubeClient } from '../lib/kube/client.js';
import { waitFor } from '../lib/wait.js';
import { printable, printableDeep } from './printable.js';
import { canaryOf, canaryView, findCanary, type RolloutView, rolloutView } from './rollout-view.js';
import { type Paint, screen, table } from './screen.js';

export interface Context {
  client: KubeClient;
  namespace: string;
  allNamespaces: boolean;
  output: 'text' | 'json' | 'yaml';
  paint: Paint;
  out: (s: string) => void;
  /** Whether `get -w` redraws in place (a terminal) or prints each new screen below the last. */
  tty: boolean;
}

export class UserError extends Error {}

async function canariesIn(ctx: Context): Promise<Canary[]> {
  const list = await ctx.client.list<Canary>(at(CR.canaries, ctx.allNamespaces ? undefined : ctx.namespace));
  return list.items.sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
  );
}

async function mustFind(ctx: Context, name: string): Promise<Canary> {
  const c = await findCanary(ctx.client, ctx.namespace, name);
  if (!c) throw new UserError(`no Canary "${name}" in namespace ${ctx.namespace} (kubectl sluice list -A lists them all)`);
  return c;
}

async function views(ctx: Context, name: string | undefined): Promise<RolloutView[]> {
  const canaries = name ? [await mustFind(ctx, name)] : await canariesIn(ctx);
  const vs = await Promise.all(canaries.map((c) => rolloutView(ctx.client, c)));
  // On a terminal, text written by others is shown, never obeyed (cli/printable.ts); JSON escapes its own.
  return ctx.output === 'text' ? vs.map(printableDeep) : vs;
}

function print(ctx: Context, vs: RolloutView[], single: boolean): string {
  if (ctx.output === 'json') return `${JSON.stringify(single ? vs[0] : vs, null, 2)}\n`;
  if (ctx.output === 'yaml') return toYaml(single ? vs[0] : vs);
  if (vs.length === 0) return `No Canaries in namespace ${ctx.namespace}.\n`;
  return vs.map((v) => screen(v, ctx.paint)).join('\n');
}

/** A view as compared between redraws: ages move every second without anything happening. */
const changeKey = (vs: RolloutView[]) => JSON.stringify(vs.map((v) => ({ ...v, events: v.events.map((e) => [e.time, e.message]) })));

export async function get(ctx: Context, name: string | undefined, watch: boolean, signal?: AbortSignal): Promise<number> {
  if (!watch) {
    ctx.out(print(ctx, await views(ctx, name), name !== undefined));
    return 0;
  }
  let last = '';
  let drawn = 0;
  while (!signal?.aborted) {
    const vs = await views(ctx, name);
    const key = changeKey(vs);
    if (ctx.tty) {
      // Home and clear, then the screen: redrawn in place when something changed, and every few
      // seconds for the Events' ages; not every poll, which would only flicker.
      if (key !== last || Date.now() - drawn > 5000) {
        ctx.out(`\x1b[H\x1b[2J${print(ctx, vs, name !== undefined)}`);
        drawn = Date.now();
      }
    } else if (key !== last) {
      ctx.out(`--- ${new Date().toISOString()}\n${print(ctx, vs, name !== undefined)}`);
    }
    last = key;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
  return 0;
}

export async function list(ctx: Context): Promise<number> {
  const vs = (await canariesIn(ctx)).map(canaryView).map((v) => (ctx.output === 'text' ? printableDeep(v) : v));
  if (ctx.output !== 'text') {
    ctx.out(print(ctx, vs, false));
    return 0;
  }
  if (vs.length === 0) {
    ctx.out(ctx.allNamespaces ? 'No Canaries.\n' : `No Canaries in namespace ${ctx.namespace}.\n`);
    return 0;
  }
  ctx.out(table(vs, ctx.allNamespaces));
  return 0;
}

/**
 * An action: a CanaryAction created under the caller's own identity, then its outcome waited for.
 * Exit 0 when applied, 1 when refused or not answered in time.
 */
export async function act(ctx: Context, verb: ActionVerb, name: string, reason: string | undefined, waitMs: number): Promise<number> {
  const canary = await mustFind(ctx, name);
  // generateName: every request is its own object, so two people acting at once never collide.
  const created = await ctx.client.create<CanaryAction>(at(ACTION_REF, ctx.namespace), {
    apiVersion: `${GROUP}/${ACTION_VERSION}`,
    kind: ACTION_KIND,
    metadata: { generateName: `${name}-${verb}-`, namespace: ctx.namespace },
    spec: { canary: canary.metadata.name, action: verb, ...(reason ? { reason } : {}) },
  });
  const ref = at(ACTION_REF, ctx.namespace, created.metadata.name);
  const label = `canaryaction/${created.metadata.name}`;
  if (waitMs <= 0) {
    ctx.out(`${label} created: ${verb} of ${objectName(name, ctx.namespace)} requested by ${created.spec.username ?? 'you'}\n`);
    return 0;
  }
  let done: CanaryAction | undefined;
  try {
    await waitFor(
      async () => {
        done = await ctx.client.get<CanaryAction>(ref);
        return done.status?.result !== undefined;
      },
      { timeoutMs: waitMs, intervalMs: 200, what: 'the outcome' },
    );
  } catch {
    ctx.out(
      `${label}: not acted on within ${Math.round(waitMs / 1000)} s; is sluice-controller running? "kubectl get canaryaction ${created.metadata.name} -n ${ctx.namespace}" shows the outcome later\n`,
    );
    return 1;
  }
  const s = done!.status!;
  const p = ctx.paint;
  ctx.out(
    `${label}: ${verb} of ${objectName(name, ctx.namespace)} by ${done!.spec.username}: ${s.result === 'Applied' ? p.ok('applied') : p.bad('refused')}, ${s.message} (phase ${s.canaryPhase || '-'})\n`,
  );
  return s.result === 'Applied' ? 0 : 1;
}

/** `NAME`, `deployment/NAME`, `statefulset/NAME` or `daemonset/NAME` (kubectl's short forms too). */
function parseWorkload(arg: string): { kind?: WorkloadKind; name: string } {
  const [kind, name] = arg.includes('/') ? (arg.split('/', 2) as [string, string]) : [undefined, arg];
  if (kind === undefined) return { name };
  const named = WORKLOAD_KINDS.find((k) => KINDS[k].kubectlNames.includes(kind.toLowerCase()));
  if (named) return { kind: named, name };
  throw new UserError(`sluice manages ${MANAGED_KINDS}, not "${kind}"`);
}

/** Why a Deployment, StatefulSet or DaemonSet is frozen (or not), which revision is stable and which waits, and what to do. */
export async function why(ctx: Context, workload: string): Promise<number> {
  const { kind: asked, name: deployment } = parseWorkload(workload);
  let kind: WorkloadKind = asked ?? 'Deployment';
  let target: Workload | undefined;
  // A bare name: a Deployment first, as kubectl's own habits suggest, then the other kinds.
  for (const k of asked ? [asked] : WORKLOAD_KINDS) {
    kind = k;
    target = await ctx.client.find<Workload>(at(KINDS[k].ref, ctx.namespace, deployment));
    if (target) break;
  }
  if (!target) throw new UserError(`no ${asked ?? WORKLOAD_KINDS.join(' or ')} "${deployment}" in namespace ${ctx.namespace}`);
  const canary = await canaryOf(ctx.client, target, kind);
  const dname = `${kind} ${objectName(deployment, ctx.namespace)}`;
  const facts = KINDS[kind];
  const paused = facts.held(target);
  const frozenWord = facts.heldWord;
  const lines: string[] = [];
  const n = `-n ${ctx.namespace}`;
  if (!canary) {
    lines.push(`${dname} is not managed by sluice: no Canary targets it.`);
    if (paused) lines.push(`It is ${frozenWord}, but no Canary holds it: "${facts.releaseByHand(deployment, ctx.namespace)}" releases it.`);
    ctx.out(`${lines.map(printable).join('\n')}\n`);
    return 0;
  }
  const v = await rolloutView(ctx.client, canary);
  const st = canary.status ?? {};
  const cn = canary.metadata.name;
  const holds = revisionOf(target).isReleased(st.lastPromotedSpec) ? undefined : revisionOf(target).id;
  const stable = v.stable ? `${v.stable.id} (${v.stable.images.join(', ') || 'no pods'})` : 'not recorded yet';
  const candidate = v.candidate ? `${v.candidate.id} (${v.candidate.images.join(', ')})` : undefined;
  const step = 'weight' in v.step ? `weight ${v.step.weight}/${v.step.maxWeight}` : `iteration ${v.step.iteration}/${v.step.iterations}`;
  if (!paused) {
    lines.push(
      v.phase === 'Promoting' || v.phase === 'Finalising'
        ? `${dname} is not ${frozenWord}: sluice is releasing revision ${candidate ?? '?'} to its primary pods (Canary ${cn}, ${v.phase}).`
        : `${dname} is not ${frozenWord}: its primary pods run the released revision ${stable}.`,
    );
    lines.push(`A change to its pod template is held back and analysed by Canary ${cn} before it reaches them.`);
    ctx.out(`${lines.map(printable).join('\n')}\n`);
    return 0;
  }
  lines.push(
    `${dname} is ${frozenWord} by sluice (Canary ${cn}, phase ${v.phase}, ${step}, failed checks ${v.failedChecks}/${v.threshold}).`,
  );
  lines.push(`  Stable:  ${stable}: what the primary pods run.`);
  if (candidate) lines.push(`  Waiting: ${candidate}: in the ${kind}'s spec, ${facts.waitsWhere} until analysis releases it.`);
  if (v.judgement) lines.push(`  Judge:   ${describeJudgement(v.judgement)}`);
  lines.push('What happens next, and what you can do:');
  const todo = (s: string) => lines.push(`  - ${s}`);
  if (v.phase === 'Failed' && holds !== undefined) {
    todo('the revision failed analysis and was rolled back; the primary pods never ran it');
    todo(`analyse it again: kubectl sluice retry ${cn} ${n}`);
    todo('or push a fixed revision, or revert the template to the stable one (both start or end a rollout by themselves)');
  } else if (st.changeWindow) {
    todo(`held: ${st.changeWindow.message}`);
    todo('it goes on by itself when the window opens; an abort, a revert or a fast rollback still goes through');
    todo(`let it through now, with the breakglass right and a reason: kubectl sluice break-glass ${cn} ${n} --reason "..."`);
  } else if (st.lineStopped) {
    todo(`the line is stopped by ClusterCanaryPolicy ${st.lineStopped.policy} since ${st.lineStopped.since}: ${st.lineStopped.reason}`);
    todo("it goes on by itself when the policy's stopTheLine is removed; an abort still works");
    todo(`let it through now, with the breakglass right and a reason: kubectl sluice break-glass ${cn} ${n} --reason "..."`);
    todo(`roll it back now: kubectl sluice abort ${cn} ${n}`);
  } else if (st.analysisPaused) {
    todo(`the analysis is paused by ${st.analysisPaused.by} since ${st.analysisPaused.at}`);
    todo(`go on: kubectl sluice resume ${cn} ${n}`);
  } else if (canary.spec.suspend === true) {
    todo('the Canary is suspended (spec.suspend: true): set it back to false in its manifest to go on');
  } else {
    for (const g of v.gates) todo(`held by a gate: ${g}`);
    if (v.gates.length === 0) todo(`wait: the analysis goes on by itself (kubectl sluice get ${cn} ${n} -w)`);
    todo(`release it now, skipping the rest of the analysis: kubectl sluice promote ${cn} ${n}`);
    todo(`roll it back now: kubectl sluice abort ${cn} ${n}`);
  }
  ctx.out(`${lines.map(printable).join('\n')}\n`);
  return 0;
}

export const HELP = `kubectl sluice: watch and steer sluice's rollouts.

usage:
  kubectl sluice get [NAME] [-w] [-o json|yaml]   one screen per Canary; -w redraws as it changes
  kubectl sluice list [-A]                        one line per Canary
  kubectl sluice why [KIND/]NAME                  why a Deployment (StatefulSet, DaemonSet) is frozen, what is stable, what waits, what to do
  kubectl sluice dashboard                        the web dashboard on 127.0.0.1, acting as you (docs/dashboard.md)
${(Object.entries(VERB_MEANING) as [ActionVerb, string][]).map(([v, m]) => `  kubectl sluice ${v.padEnd(11)} NAME ${' '.repeat(19)}${m}`).join('\n')}

flags:
  -n, --namespace NS        the namespace (default: the kubeconfig context's, else "default")
  -A, --all-namespaces      every namespace (get, list)
  --context NAME            the kubeconfig context to use
  --kubeconfig FILE         the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
  -o, --output json|yaml    machine-readable output (get, list)
  -w, --watch               keep watching (get)
  --reason TEXT             why you act; repeated in the Canary's Event (actions)
  --wait SECONDS            how long an action waits for its outcome; 0 returns at once (default 30)
  --port N                  the dashboard's port on 127.0.0.1 (default: any free one)
  --no-browser              print the dashboard's one-time link without opening a browser
  --prometheus URL          where the dashboard's charts read the analysis metrics (default: no charts)

Actions are CanaryActions created as you: RBAC decides who may (ClusterRole sluice-rollout-operator),
and the Canary's Event names you. They never edit the Canary, so GitOps tools have nothing to revert.
`;
