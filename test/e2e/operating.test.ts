// Operating a rollout from kubectl (issue 13), on the local world: `kubectl sluice` found by
// kubectl on PATH and run under real users (ServiceAccount tokens, so the apiserver authenticates
// them), the CanaryAction path through the webhook and the controller, RBAC of the shipped roles,
// and the Canary's status as GitOps tools judge it: kstatus (built from sigs.k8s.io/cli-utils) and
// Argo CD's Lua runtime running the shipped Deployment health script.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ACTION_REF, type CanaryAction } from '../../api/canary-action.js';
import { type Canary, type CanaryAnalysis, CR } from '../../api/flagger-types.js';
import { templateRevision } from '../../api/revision.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { paths, root } from '../world/layout.js';
import {
  canaryEvents,
  deploymentWithCanary,
  getCanary,
  setImage as setImageOf,
  sluiceAndNamespace,
  userKubeconfig,
  waitPhase,
} from '../world/seed.js';
import { admin, type Deployment, deleteNamespace, installKubectlPlugin, simulator } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

const IMG = 'ghcr.io/stefanprodan/podinfo';
const ANALYSIS: CanaryAnalysis = {
  interval: '2s',
  threshold: 3,
  maxWeight: 50,
  stepWeight: 10,
  metrics: [{ name: 'request-success-rate', interval: '6s', thresholdRange: { min: 99 } }],
};
const INTERVAL_MS = 2000;

describe('operating rollouts: kubectl sluice, CanaryActions, kstatus', function () {
  this.timeout(240_000);
  const { binDir } = buildBinaries();
  const checker = path.join(binDir, 'gitops-health');
  let ns: string;
  let pluginDir: string;
  const kubeconfigs: Record<string, string> = {};
  const children: ChildProcess[] = [];
  const user = (who: string) => `system:serviceaccount:${ns}:${who}`;

  /** `kubectl sluice ...` as `who` (a ServiceAccount of the test namespace), found by kubectl on PATH. */
  const sluice = (who: string, args: string[]) =>
    spawnSync(path.join(binDir, 'kubectl'), ['sluice', ...args, '-n', ns], {
      env: { ...process.env, PATH: `${pluginDir}:${process.env.PATH}`, KUBECONFIG: kubeconfigs[who]!, NO_COLOR: '1' },
      encoding: 'utf8',
    });
  const kubectlAs = (who: string, args: string[], input?: string) =>
    spawnSync(path.join(binDir, 'kubectl'), ['--kubeconfig', kubeconfigs[who]!, '-n', ns, ...args], { input, encoding: 'utf8' });
  const health = (mode: string[], obj: unknown) => {
    const r = spawnSync(checker, mode, { input: JSON.stringify(obj), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { status: string; message: string };
  };
  const kstatus = async (name: string) => health(['kstatus'], await getCanary(ns, name));
  const argoDeployment = async (name: string) =>
    health(
      ['lua', path.join(root, 'manifests/gitops/argocd/deployment-health.lua')],
      await (await admin()).get(at(R.deployments, ns, name)),
    );

  async function rollout(name: string): Promise<void> {
    await deploymentWithCanary(ns, name, ANALYSIS);
    await waitPhase(ns, 'Initialized', 60_000, undefined, name);
    await simulator('PUT', `/traffic/${ns}/${name}`, { ratePerSecond: 100 });
  }
  const setImage = (name: string, tag: string) => setImageOf(ns, name, tag);
  const atWeight = (name: string, min: number) =>
    waitFor(async () => ((await getCanary(ns, name)).status?.canaryWeight ?? 0) >= min || undefined, {
      timeoutMs: 60_000,
      what: `${name} at weight ${min} or more`,
    });
  const specOf = async (name: string) => JSON.stringify((await getCanary(ns, name)).spec);
  const messages = async (name: string) => (await canaryEvents(ns, name)).map((e) => e.message);

  before(async function () {
    this.timeout(120_000);
    ns = await sluiceAndNamespace('operating');
    // The documented install, into a directory of the test's own.
    pluginDir = installKubectlPlugin();
    kubeconfigs.alice = await userKubeconfig(ns, pluginDir, 'alice', ['sluice-rollout-operator']);
    kubeconfigs.victor = await userKubeconfig(ns, pluginDir, 'victor', ['sluice-rollout-viewer']);
    kubeconfigs.nobody = await userKubeconfig(ns, pluginDir, 'nobody');
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(pluginDir, { recursive: true, force: true });
    await deleteNamespace(ns);
  });

  it('get -w shows every step of a rollout; kstatus says InProgress, then Current; kubectl wait --for=condition=Ready returns at the release', async () => {
    await rollout('watched');
    assert.equal((await kstatus('watched')).status, 'Current', 'Initialized is current');
    const spec = await specOf('watched');
    const watch = spawn(path.join(binDir, 'kubectl'), ['sluice', 'get', 'watched', '-w', '-n', ns], {
      env: { ...process.env, PATH: `${pluginDir}:${process.env.PATH}`, KUBECONFIG: kubeconfigs.victor! },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(watch);
    let screen = '';
    watch.stdout!.on('data', (c: Buffer) => (screen += c.toString()));
    watch.stderr!.on('data', (c: Buffer) => (screen += c.toString()));
    await waitFor(() => screen.includes('Status:') || undefined, { timeoutMs: 20_000, what: 'the first screen' });

    const rev = await setImage('watched', '6.0.1');
    await atWeight('watched', 10);
    const during = await kstatus('watched');
    assert.equal(during.status, 'InProgress', during.message);
    assert.match(during.message, /analysing revision \S+ at weight/);
    const deploymentKstatus = async () => health(['kstatus'], await (await admin()).get(at(R.deployments, ns, 'watched')));
    const frozenFlux = await deploymentKstatus();
    assert.equal(frozenFlux.status, 'InProgress', `Flux: the frozen Deployment is in progress (${frozenFlux.message})`);
    const frozen = await argoDeployment('watched');
    assert.equal(frozen.status, 'Progressing', 'Argo CD: a frozen Deployment is a rollout in progress, not Suspended');
    assert.match(frozen.message, /Canary watched/);
    const wait = spawn(path.join(binDir, 'kubectl'), [
      '--kubeconfig',
      paths.kubeconfig,
      '-n',
      ns,
      'wait',
      '--for=condition=Ready',
      'canary/watched',
      '--timeout=120s',
    ]);
    children.push(wait);
    const waited = new Promise<number>((resolve) => wait.on('close', (code) => resolve(code ?? -1)));

    await waitPhase(ns, 'Succeeded', 120_000, rev, 'watched');
    assert.equal(await waited, 0, 'kubectl wait returned successfully');
    assert.equal((await kstatus('watched')).status, 'Current');
    await waitFor(async () => (await argoDeployment('watched')).status === 'Healthy' || undefined, {
      timeoutMs: 30_000,
      what: 'Argo CD health Healthy after the release',
    });
    await waitFor(async () => (await deploymentKstatus()).status === 'Current' || undefined, {
      timeoutMs: 30_000,
      what: 'kstatus Current for the released Deployment',
    });
    await waitFor(() => /Status:\s+Succeeded/.test(screen) || undefined, { timeoutMs: 10_000, what: 'the Succeeded screen' });
    watch.kill('SIGINT');
    for (const w of [10, 20, 30, 40, 50]) assert.match(screen, new RegExp(`weight ${w}/50`), `a screen at weight ${w}`);
    for (const w of [10, 30, 50]) assert.match(screen, new RegExp(`Route:\\s+primary ${100 - w}%, canary ${w}%`), `the route at ${w}`);
    assert.match(screen, /Candidate:\s+\S+…\s+ghcr\.io\/stefanprodan\/podinfo:6\.0\.1/);
    assert.match(screen, /ok\s+request-success-rate\s+[\d.]+ >= 99/);
    assert.match(screen, /Promoting revision \S+ to watched\./);
    assert.equal(await specOf('watched'), spec, 'nothing edited the spec');

    const json = sluice('victor', ['get', 'watched', '-o', 'json']);
    assert.equal(json.status, 0, json.stderr);
    const view = JSON.parse(json.stdout);
    assert.equal(view.phase, 'Succeeded');
    assert.equal(view.conditions.find((c: { type: string }) => c.type === 'Ready').status, 'True');
    const listed = sluice('victor', ['list']);
    assert.match(listed.stdout, /^NAME\s+STATUS/m);
    assert.match(listed.stdout, /^watched\s+Succeeded/m);
  });

  it('promote mid-analysis releases at once; abort rolls back with the primary pods untouched; the Events name the user', async () => {
    await rollout('steered');
    const spec = await specOf('steered');
    let rev = await setImage('steered', '6.0.1');
    await atWeight('steered', 10);
    const promote = sluice('alice', ['promote', 'steered', '--reason', 'hotfix, checked by hand']);
    assert.equal(promote.status, 0, promote.stdout + promote.stderr);
    assert.match(promote.stdout, /promote of steered\.\S+ by system:serviceaccount:\S+:alice: applied/);
    const after = await getCanary(ns, 'steered');
    assert.ok(['Promoting', 'Finalising', 'Succeeded'].includes(after.status!.phase!), `released at once: ${after.status?.phase}`);
    const weightAtPromote = after.status!.canaryWeight ?? 0;
    await waitPhase(ns, 'Succeeded', 60_000, rev, 'steered');
    const m = await messages('steered');
    assert.ok(
      m.some((x) => x.includes(`Accepted promote of steered.${ns} requested by ${user('alice')} (hotfix, checked by hand)`)),
      m.join('\n'),
    );
    assert.ok(!m.some((x) => x === `Advance steered.${ns} canary weight 50`), 'the remaining steps were skipped');
    assert.ok(weightAtPromote < 50, `promoted at weight ${weightAtPromote}`);
    assert.equal(await specOf('steered'), spec, 'promote left the spec as applied');

    // Abort: the primary's pods and ReplicaSet are the ones from before the change.
    const client = await admin();
    const podsBefore = (await client.list<KubeObject>(at(R.pods, ns), { labelSelector: 'app=steered' })).items
      .map((p) => p.metadata.uid)
      .sort();
    rev = await setImage('steered', '6.0.2');
    await atWeight('steered', 10);
    const abort = sluice('alice', ['abort', 'steered']);
    assert.equal(abort.status, 0, abort.stdout + abort.stderr);
    const failed = await waitPhase(ns, 'Failed', 30_000, rev, 'steered');
    assert.equal(failed.status?.canaryWeight, 0);
    const podsAfter = (await client.list<KubeObject>(at(R.pods, ns), { labelSelector: 'app=steered' })).items
      .map((p) => p.metadata.uid)
      .sort();
    assert.deepEqual(podsAfter, podsBefore, 'the primary pods were never replaced');
    const target = await client.get<Deployment>(at(R.deployments, ns, 'steered'));
    assert.equal(target.spec.paused, true, 'the rejected revision stays off the primary');
    const k = await kstatus('steered');
    assert.equal(k.status, 'Failed', k.message);
    // What Flux sees of the Deployment itself: still in progress (paused on the rejected revision);
    // the Canary is what says Failed (docs/operating.md, "Flux").
    assert.equal(health(['kstatus'], target).status, 'InProgress');
    assert.equal((await argoDeployment('steered')).status, 'Progressing');
    assert.match(k.message, /rolled back/);
    assert.ok((await messages('steered')).some((x) => x.startsWith(`Accepted abort of steered.${ns} requested by ${user('alice')}`)));
    assert.equal(await specOf('steered'), spec, 'abort left the spec as applied');

    // Abort again: nothing in progress, refused with the reason and exit 1.
    const again = sluice('alice', ['abort', 'steered']);
    assert.equal(again.status, 1);
    assert.match(again.stdout, /refused, no rollout in progress \(phase Failed\)/);
    const why = sluice('victor', ['why', 'steered']);
    assert.equal(why.status, 0, why.stderr);
    assert.match(why.stdout, /is paused by sluice \(Canary steered, phase Failed/);
    assert.match(why.stdout, /kubectl sluice retry steered/);

    // Retry: the same revision analysed again, no template change, and released.
    assert.equal(templateRevision(target.spec.template), rev);
    const retry = sluice('alice', ['retry', 'steered']);
    assert.equal(retry.status, 0, retry.stdout + retry.stderr);
    await waitPhase(ns, 'Succeeded', 90_000, rev, 'steered');
    const released = await client.get<Deployment>(at(R.deployments, ns, 'steered'));
    assert.equal(templateRevision(released.spec.template), rev, 'the template was not touched: the same revision was released');
    assert.ok((await messages('steered')).some((x) => x.startsWith(`Accepted retry of steered.${ns} requested by ${user('alice')}`)));
    assert.equal((await kstatus('steered')).status, 'Current');
    assert.equal(await specOf('steered'), spec, 'retry left the spec as applied');
  });

  it('pause holds the weight for three intervals, the freeze still holds; resume goes on', async () => {
    await rollout('held');
    const spec = await specOf('held');
    const rev = await setImage('held', '6.0.1');
    await atWeight('held', 10);
    const pause = sluice('alice', ['pause', 'held']);
    assert.equal(pause.status, 0, pause.stdout + pause.stderr);
    const held = (await getCanary(ns, 'held')).status!.canaryWeight!;
    assert.ok(held < 50);
    // Three intervals, watched throughout: the weight never moves.
    const until = Date.now() + 3 * INTERVAL_MS + 500;
    await waitFor(
      async () => {
        const c = await getCanary(ns, 'held');
        assert.equal(c.status?.canaryWeight, held, 'the weight held');
        assert.equal(c.status?.phase, 'Progressing');
        return Date.now() >= until || undefined;
      },
      { timeoutMs: 3 * INTERVAL_MS + 10_000, intervalMs: 250, what: 'three intervals' },
    );
    const k = await kstatus('held');
    assert.equal(k.status, 'InProgress');
    assert.match(k.message, /paused by system:serviceaccount:\S+:alice/);
    // The freeze still holds while paused: another change is frozen too.
    const noChange = await runKubectl(binDir, ['-n', ns, 'get', 'deployment', 'held', '-o', 'jsonpath={.spec.paused}']);
    assert.equal(noChange.stdout, 'true');
    const resume = sluice('alice', ['resume', 'held']);
    assert.equal(resume.status, 0, resume.stdout + resume.stderr);
    await atWeight('held', held + 10);
    await waitPhase(ns, 'Succeeded', 90_000, rev, 'held');
    const m = await messages('held');
    assert.ok(m.some((x) => x.startsWith(`Accepted pause of held.${ns} requested by ${user('alice')}`)));
    assert.ok(m.some((x) => x.startsWith(`Accepted resume of held.${ns} requested by ${user('alice')}`)));
    assert.equal(await specOf('held'), spec, 'pause and resume left the spec as applied');
  });

  it('RBAC: an operator may act but not edit the Canary; a viewer may look but not act; nobody is recorded but the requester', async () => {
    // The Canary from the first test is still there.
    const edit = kubectlAs('alice', ['patch', 'canary', 'watched', '--type=merge', '-p', '{"spec":{"skipAnalysis":true}}']);
    assert.notEqual(edit.status, 0);
    assert.match(edit.stderr, /forbidden/i);
    const editDeployment = kubectlAs('alice', ['set', 'image', 'deployment/watched', `app=${IMG}:6.0.9`]);
    assert.notEqual(editDeployment.status, 0);
    assert.match(editDeployment.stderr, /forbidden/i);
    const viewer = sluice('victor', ['pause', 'watched']);
    assert.equal(viewer.status, 1);
    assert.match(viewer.stderr, /^error: .*forbidden/i);
    const stranger = sluice('nobody', ['get', 'watched']);
    assert.equal(stranger.status, 1);
    assert.match(stranger.stderr, /forbidden/i);
    // A client that names someone else is overwritten by who it is.
    const forged = kubectlAs(
      'alice',
      ['create', '-o', 'json', '-f', '-'],
      JSON.stringify({
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'CanaryAction',
        metadata: { generateName: 'watched-pause-' },
        spec: { canary: 'watched', action: 'pause', username: 'the-boss', groups: ['system:masters'] },
      }),
    );
    assert.equal(forged.status, 0, forged.stderr);
    const stored = JSON.parse(forged.stdout) as CanaryAction;
    assert.equal(stored.spec.username, user('alice'));
    assert.ok(!stored.spec.groups?.includes('system:masters'));
    const done = await waitFor(
      async () => {
        const a = await (await admin()).get<CanaryAction>(at(ACTION_REF, ns, stored.metadata.name));
        return a.status?.result ? a : undefined;
      },
      { timeoutMs: 20_000, what: 'the forged action taken' },
    );
    assert.equal(done.status?.result, 'Applied');
    const c = await (await admin()).get<Canary>(at(CR.canaries, ns, 'watched'));
    assert.equal(c.status?.analysisPaused?.by, user('alice'));
    // An action cannot be changed once created, even by an admin.
    const change = await runKubectl(binDir, [
      '-n',
      ns,
      'patch',
      'canaryaction',
      stored.metadata.name,
      '--type=merge',
      '-p',
      '{"spec":{"action":"promote"}}',
    ]);
    assert.notEqual(change.code, 0);
    assert.match(change.stderr, /cannot be changed once created/);
  });
});
