// kubectl sluice's commands against the in-memory apiserver: what each prints and the exit code it
// answers, for the cases a person meets (nothing there, a name not found, a wrong kind, each state
// `why` explains), and the actions' round trip through a CanaryAction. The e2e suite runs the same
// commands as a binary against the real apiserver; here each branch is shown on its own.
import assert from 'node:assert/strict';
import { ACTION_REF, type CanaryAction } from '../../api/canary-action.js';
import { annotations as A } from '../../api/contract.js';
import { type Canary, type CanaryStatus, CR } from '../../api/flagger-types.js';
import { act, type Context, get, HELP, list, UserError, why } from '../../cli/commands.js';
import { PLAIN } from '../../cli/screen.js';
import { at, type KubeClient, type KubeObject, R, type ResourceRef } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';
import { deployment, rev, seedCanary } from './controller-fixtures.js';

/** The in-memory apiserver as the CLI's client: lists answer as the apiserver's do, label selectors applied. */
function kubeOf(cluster: MemoryCluster, counts = { list: 0 }): KubeClient {
  const matches = (o: KubeObject, selector: unknown) =>
    typeof selector !== 'string' ||
    selector.split(',').every((term) => {
      const [k, v] = term.split('=');
      return o.metadata.labels?.[k!] === v;
    });
  return {
    get: (ref: ResourceRef) => cluster.get(ref),
    find: (ref: ResourceRef) => cluster.find(ref),
    create: (ref: ResourceRef, body: unknown) => cluster.create(ref, body),
    list: async (ref: ResourceRef, query?: Record<string, unknown>) => {
      counts.list++;
      return { items: cluster.list(ref, ref.namespace).filter((o) => matches(o, query?.labelSelector)) };
    },
  } as unknown as KubeClient;
}

function world() {
  const cluster = new MemoryCluster();
  const printed: string[] = [];
  const counts = { list: 0 };
  const ctx = (over: Partial<Context> = {}): Context => ({
    client: kubeOf(cluster, counts),
    namespace: 'test',
    allNamespaces: false,
    output: 'text',
    paint: PLAIN,
    out: (s) => void printed.push(s),
    tty: false,
    ...over,
  });
  const addCanary = async (name: string, namespace: string, status?: CanaryStatus, spec: Partial<Canary['spec']> = {}) => {
    const c = seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, ...spec } });
    c.metadata = { name, namespace };
    await cluster.create(at(CR.canaries, namespace), c);
    if (status) cluster.setStatus(at(CR.canaries, namespace, name), status);
  };
  return { cluster, printed, counts, ctx, addCanary, text: () => printed.join('') };
}

const analysing: CanaryStatus = {
  phase: 'Progressing',
  lastPromotedSpec: rev('podinfo:6.0.0'),
  lastAppliedSpec: rev('podinfo:6.0.1'),
  canaryWeight: 20,
  failedChecks: 1,
};

describe('kubectl sluice commands', () => {
  describe('list', () => {
    it('says there is nothing, in this namespace or in all', async () => {
      const w = world();
      assert.equal(await list(w.ctx()), 0);
      assert.equal(await list(w.ctx({ allNamespaces: true })), 0);
      assert.deepEqual(w.printed, ['No Canaries in namespace test.\n', 'No Canaries.\n']);
    });

    it('one line per Canary, sorted by namespace and name, the namespace shown only with -A', async () => {
      const w = world();
      await w.addCanary('web', 'test', analysing);
      await w.addCanary('api', 'test');
      await w.addCanary('api', 'prod');
      await list(w.ctx());
      const here = w.printed.pop()!;
      assert.ok(here.indexOf('api') < here.indexOf('web'), here);
      assert.ok(!/prod/.test(here), 'another namespace not listed');
      assert.match(here, /web\s.*Progressing/);
      await list(w.ctx({ allNamespaces: true }));
      const all = w.printed
        .pop()!
        .split('\n')
        .filter((l) => /api|web/.test(l));
      assert.deepEqual(
        all.map((l) => l.split(/\s+/).slice(0, 2).join('/')),
        ['prod/api', 'test/api', 'test/web'],
      );
      await list(w.ctx({ output: 'json' }));
      assert.deepEqual(
        (JSON.parse(w.printed.pop()!) as { name: string }[]).map((v) => v.name),
        ['api', 'web'],
      );
    });
  });

  describe('get', () => {
    it('a name that is not there is a user error naming it and how to list them', async () => {
      const w = world();
      await assert.rejects(get(w.ctx(), 'nope', false), (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /no Canary "nope" in namespace test \(kubectl sluice list -A/);
        return true;
      });
    });

    it('one Canary prints one object, none named prints a list; text shows its screen', async () => {
      const w = world();
      await w.cluster.create(at(R.deployments, 'test'), deployment('podinfo:6.0.1', { paused: true }));
      await w.addCanary('podinfo', 'test', analysing);
      await get(w.ctx({ output: 'json' }), 'podinfo', false);
      const one = JSON.parse(w.printed.pop()!) as { name: string; step: { weight: number }; phase: string };
      assert.equal(one.name, 'podinfo');
      assert.deepEqual([one.phase, one.step.weight], ['Progressing', 20]);
      await get(w.ctx({ output: 'json' }), undefined, false);
      assert.ok(Array.isArray(JSON.parse(w.printed.pop()!)));
      await get(w.ctx(), 'podinfo', false);
      assert.match(w.printed.pop()!, /podinfo[\s\S]*Progressing/);
    });

    it('-w prints a new screen only when something changed, and stops when told', async () => {
      const w = world();
      await w.addCanary('podinfo', 'test', analysing);
      const stop = new AbortController();
      const running = get(w.ctx(), 'podinfo', true, stop.signal);
      await waitFor(() => w.printed.length === 1, { timeoutMs: 5000, what: 'the first screen' });
      // Several polls later, nothing changed: nothing more printed.
      const polled = w.counts.list;
      await waitFor(() => w.counts.list >= polled + 2, { timeoutMs: 5000, what: 'two more polls' });
      assert.equal(w.printed.length, 1);
      w.cluster.setStatus(at(CR.canaries, 'test', 'podinfo'), { ...analysing, canaryWeight: 30 });
      await waitFor(() => w.printed.length === 2, { timeoutMs: 5000, what: 'the screen after the change' });
      assert.match(w.printed[1]!, /^--- \d{4}-/);
      stop.abort();
      assert.equal(await running, 0);
    });
  });

  describe('actions', () => {
    it('creates a CanaryAction of its own (generateName) and, without waiting, says so', async () => {
      const w = world();
      await w.addCanary('podinfo', 'test', analysing);
      assert.equal(await act(w.ctx(), 'promote', 'podinfo', 'fix is urgent', 0), 0);
      assert.equal(await act(w.ctx(), 'promote', 'podinfo', undefined, 0), 0);
      const actions = w.cluster.list<CanaryAction>(ACTION_REF, 'test');
      assert.equal(actions.length, 2, 'two requests, two objects');
      assert.match(actions[0]!.metadata.name, /^podinfo-promote-/);
      assert.deepEqual(actions[0]!.spec, { canary: 'podinfo', action: 'promote', reason: 'fix is urgent' });
      assert.deepEqual(actions[1]!.spec, { canary: 'podinfo', action: 'promote' });
      assert.match(w.text(), /canaryaction\/podinfo-promote-\S+ created: promote of podinfo.test requested by you/);
    });

    it('a Canary that is not there: no action is created', async () => {
      const w = world();
      await assert.rejects(act(w.ctx(), 'abort', 'ghost', undefined, 0), UserError);
      assert.equal(w.cluster.list(ACTION_REF, 'test').length, 0);
    });

    for (const [result, code, word] of [
      ['Applied', 0, 'applied'],
      ['Rejected', 1, 'refused'],
    ] as const) {
      it(`waits for the controller's answer: ${result} exits ${code}`, async () => {
        const w = world();
        await w.addCanary('podinfo', 'test', analysing);
        const running = act(w.ctx(), 'abort', 'podinfo', 'bad latency', 10_000);
        // The controller (here, by hand) answers the action the command created, as the webhook stamped it.
        await waitFor(() => w.cluster.list(ACTION_REF, 'test').length === 1, { timeoutMs: 5000, what: 'the action' });
        const [created] = w.cluster.list<CanaryAction>(ACTION_REF, 'test');
        const ref = at(ACTION_REF, 'test', created!.metadata.name);
        await w.cluster.patch(ref, { spec: { username: 'alice' } }, 'merge');
        w.cluster.setStatus(ref, { result, message: 'as asked', canaryPhase: 'Failed' });
        assert.equal(await running, code);
        assert.match(w.text(), new RegExp(`abort of podinfo.test by alice: ${word}, as asked \\(phase Failed\\)`));
      });
    }

    it('not answered in time: exits 1 and says where the outcome will be', async () => {
      const w = world();
      await w.addCanary('podinfo', 'test', analysing);
      assert.equal(await act(w.ctx(), 'pause', 'podinfo', undefined, 600), 1);
      assert.match(
        w.text(),
        /not acted on within 1 s; is sluice-controller running\? "kubectl get canaryaction podinfo-pause-\S+ -n test"/,
      );
    });

    it('help lists every verb', () => {
      for (const verb of ['promote', 'abort', 'retry', 'pause', 'resume']) assert.match(HELP, new RegExp(`kubectl sluice ${verb} +NAME`));
    });
  });

  describe('why', () => {
    async function explain(
      status: CanaryStatus | undefined,
      o: { paused?: boolean; image?: string; spec?: Partial<Canary['spec']>; managed?: boolean; arg?: string } = {},
    ) {
      const w = world();
      const d = deployment(o.image ?? 'podinfo:6.0.1', {
        paused: o.paused ?? true,
        annotations: o.managed === false ? {} : { [A.canary]: 'podinfo' },
      });
      await w.cluster.create(at(R.deployments, 'test'), d);
      if (o.managed !== false) await w.addCanary('podinfo', 'test', status, o.spec);
      assert.equal(await why(w.ctx(), o.arg ?? 'podinfo'), 0);
      return w.text();
    }

    it('a workload of a kind sluice does not manage, or one not there, is a user error', async () => {
      const w = world();
      await assert.rejects(why(w.ctx(), 'cronjob/podinfo'), /sluice manages .*Deployment.*, not "cronjob"/);
      await assert.rejects(why(w.ctx(), 'deploy/podinfo'), /no Deployment "podinfo" in namespace test/);
      await assert.rejects(why(w.ctx(), 'podinfo'), /no Deployment or StatefulSet or DaemonSet "podinfo"/);
    });

    it('no Canary: says so, and how to release a paused one by hand', async () => {
      const held = await explain(undefined, { managed: false });
      assert.match(held, /Deployment podinfo.test is not managed by sluice: no Canary targets it/);
      assert.match(held, /It is paused, but no Canary holds it: "kubectl rollout resume deployment\/podinfo -n test"/);
      const free = await explain(undefined, { managed: false, paused: false });
      assert.ok(!/no Canary holds it/.test(free), free);
    });

    it('under analysis: the stable and waiting revisions, the step, and promote or abort', async () => {
      const out = await explain(analysing, { arg: 'deployment/podinfo' });
      assert.match(out, /is paused by sluice \(Canary podinfo, phase Progressing, weight 20\/50, failed checks 1\/5\)/);
      assert.match(out, /Stable: {2}\S+ \(no pods\): what the primary pods run/);
      assert.match(out, /Waiting: \S+ \(podinfo:6\.0\.1\): in the Deployment's spec, kept off the primary pods/);
      assert.match(out, /wait: the analysis goes on by itself/);
      assert.match(out, /kubectl sluice promote podinfo -n test/);
      assert.match(out, /kubectl sluice abort podinfo -n test/);
    });

    it('failed: the revision never reached the primary pods; retry, fix or revert', async () => {
      const out = await explain({ ...analysing, phase: 'Failed' });
      assert.match(out, /failed analysis and was rolled back; the primary pods never ran it/);
      assert.match(out, /kubectl sluice retry podinfo -n test/);
      assert.ok(!/promote podinfo/.test(out));
    });

    it('paused by a person, suspended, or at a gate: says which, and what lifts it', async () => {
      const paused = await explain({ ...analysing, analysisPaused: { by: 'alice', at: '2026-12-06T10:00:00Z' } });
      assert.match(paused, /paused by alice since 2026-12-06T10:00:00Z/);
      assert.match(paused, /kubectl sluice resume podinfo -n test/);
      const suspended = await explain(analysing, { spec: { suspend: true } });
      assert.match(suspended, /suspended \(spec.suspend: true\)/);
      const gated = await explain({ ...analysing, phase: 'WaitingPromotion' });
      assert.match(gated, /held by a gate: confirm-promotion closed/);
      assert.ok(!/wait: the analysis goes on/.test(gated));
    });

    it('not held: running the released revision, or being released', async () => {
      const atRest = await explain(
        { ...analysing, phase: 'Succeeded', lastAppliedSpec: rev('podinfo:6.0.1'), lastPromotedSpec: rev('podinfo:6.0.1') },
        { paused: false },
      );
      assert.match(atRest, /is not paused: its primary pods run the released revision/);
      assert.match(atRest, /held back and analysed by Canary podinfo/);
      const releasing = await explain({ ...analysing, phase: 'Promoting' }, { paused: false });
      assert.match(releasing, /sluice is releasing revision \S+ .* to its primary pods \(Canary podinfo, Promoting\)/);
    });
  });
});
