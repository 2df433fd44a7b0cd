// Release control on the local world (docs/policy.md "Change windows", docs/operating.md
// "Break-glass" and "Fast rollback"): a deny window holds `kubectl set image` with the window's name
// and end in kubectl's warning and the Canary's status, then the analysis starts by itself when it
// ends; break-glass is refused by the apiserver to an operator without the right and taken from one
// with it, the Event naming who and why; `kubectl rollout undo` to a recent release is back on the
// primary pods at once with no canary, and an older revision is analysed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { CR } from '../../api/flagger-types.js';
import { type ChangeWindows, POLICY_REF } from '../../api/policy-types.js';
import { templateRevision } from '../../api/revision.js';
import { at, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { ports, root } from '../world/layout.js';
import { canaryEvents, getCanary, podinfoUnderPolicy, setImage as setImageOf, userKubeconfig, waitPhase } from '../world/seed.js';
import { admin, type Deployment } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

const IMAGE = 'ghcr.io/stefanprodan/podinfo';

describe('release control: change windows, break-glass, fast rollback', function () {
  this.timeout(180_000);
  const { binDir } = buildBinaries();
  let ns: string;
  let policyName: string;
  let dir: string | undefined;
  let remove: () => Promise<void> = async () => undefined;

  // A policy for this namespace that generates nothing (it selects no Deployment): only its windows count.
  before(async () => {
    ({ ns, policy: policyName, remove } = await podinfoUnderPolicy('windows', 20));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-windows-'));
  });
  after(async () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await remove();
  });

  const setWindows = async (w: ChangeWindows | null) =>
    (await admin()).patch(at(POLICY_REF, undefined, policyName), { spec: { changeWindows: w } });
  const denyFor = (name: string, ms: number): ChangeWindows => ({
    deny: [{ name, from: new Date(Date.now() - 60_000).toISOString(), until: new Date(Date.now() + ms).toISOString() }],
  });
  const setImageRaw = (tag: string, extra: string[] = []) =>
    runKubectl(binDir, ['-n', ns, 'set', 'image', 'deployment/podinfo', `app=${IMAGE}:${tag}`, ...extra]);
  /** The webhook sees policies through its own cache: a server-side dry run says when it has this one. */
  const webhookSees = (tag: string, window: string) =>
    waitFor(async () => (await setImageRaw(tag, ['--dry-run=server'])).stderr.includes(window) || undefined, {
      timeoutMs: 20_000,
      intervalMs: 250,
      what: `the webhook to name window ${window}`,
    });
  const messages = async () => (await canaryEvents(ns)).map((e) => e.message);
  const targetRevision = async () =>
    templateRevision((await (await admin()).get<Deployment>(at(R.deployments, ns, 'podinfo'))).spec.template);

  const breakGlassAs = (kubeconfig: string, reason: string) =>
    runKubectl(
      binDir,
      ['--kubeconfig', kubeconfig, '-n', ns, 'create', '-f', '-'],
      YAML.stringify({
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'CanaryAction',
        metadata: { generateName: 'break-glass-', namespace: ns },
        spec: { canary: 'podinfo', action: 'break-glass', reason },
      }),
    );

  it('admits the release-control example as written, and refuses a policy whose time zone does not exist', async () => {
    const example = path.join(root, 'examples/release-control/release-hours.yaml');
    const ok = await runKubectl(binDir, ['apply', '--dry-run=server', '-f', example]);
    assert.equal(ok.code, 0, ok.stderr);
    const never = await runKubectl(
      binDir,
      ['apply', '--dry-run=server', '-f', '-'],
      YAML.stringify({
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'ClusterCanaryPolicy',
        metadata: { name: `never-${ns}` },
        spec: {
          changeWindows: {
            timeZone: 'Mars/Olympus_Mons',
            allow: [{ name: 'once', from: '2020-01-01T00:00:00Z', until: '2020-01-02T00:00:00Z' }],
          },
        },
      }),
    );
    assert.notEqual(never.code, 0);
    assert.match(
      never.stderr,
      /denied the request: ClusterCanaryPolicy never-\S+: 1\) timeZone "Mars\/Olympus_Mons" is not an IANA time zone/,
    );
  });

  it('holds kubectl set image while a deny window is open, naming it and its end, then analyses and releases by itself', async () => {
    await setWindows(denyFor('deploy-freeze', 12_000));
    await webhookSees('6.0.1', 'deploy-freeze');
    const pushed = await setImageRaw('6.0.1');
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(
      pushed.stderr,
      /Warning: sluice: podinfo\.\S+ frozen at revision .*the change window is closed by deny window deploy-freeze of ClusterCanaryPolicy \S+ until \d{4}-\d\d-\d\dT[\d:.]+Z/,
    );
    const revision = await targetRevision();
    const held = await waitFor(async () => (await getCanary(ns)).status?.changeWindow ?? undefined, {
      timeoutMs: 20_000,
      what: 'the Canary to say the window holds it',
    });
    assert.equal(held.window, 'deploy-freeze');
    const until = Date.parse(held.until!);
    const during = await getCanary(ns);
    assert.notEqual(during.status?.lastAppliedSpec, revision, 'no analysis started inside the window');
    assert.equal(during.status?.conditions?.find((c) => c.type === 'Reconciling')?.reason, 'ChangeWindowClosed');
    // When the window ends, the analysis starts by itself: never before its end.
    const started = await waitFor(async () => ((await getCanary(ns)).status?.lastAppliedSpec === revision ? Date.now() : undefined), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'the analysis to start after the window',
    });
    assert.ok(started >= until, `started ${started - until} ms after the window's end`);
    const done = await waitPhase(ns, 'Succeeded', 90_000, revision);
    assert.equal(done.status?.changeWindow, undefined);
    const said = await messages();
    assert.ok(
      said.some((m) => /^Held podinfo\.\S+ at revision \S+: the change window is closed by deny window deploy-freeze/.test(m)),
      said.join('\n'),
    );
    assert.ok(
      said.some((m) => /: change window open \(held by deploy-freeze of ClusterCanaryPolicy/.test(m)),
      said.join('\n'),
    );
  });

  it('refuses break-glass to an operator without the right and takes it from one with it, naming who and why', async () => {
    const operator = await userKubeconfig(ns, dir!, 'olive', ['sluice-rollout-operator']);
    const oncall = await userKubeconfig(ns, dir!, 'oscar', ['sluice-rollout-operator', 'sluice-break-glass']);
    await setWindows(denyFor('year-end', 10 * 60_000));
    await webhookSees('6.0.2', 'year-end');
    const revision = await setImageOf(ns, 'podinfo', '6.0.2');
    await waitFor(async () => (await getCanary(ns)).status?.changeWindow ?? undefined, { timeoutMs: 20_000, what: 'the hold' });

    const refused = await breakGlassAs(operator, 'I would like to ship');
    assert.notEqual(refused.code, 0, 'the apiserver refused it');
    assert.match(
      refused.stderr,
      /sluice-break-glass-right.*system:serviceaccount:\S+:olive may not break glass in namespace \S+: it needs the breakglass right/s,
    );
    const noReason = await breakGlassAs(oncall, ' ');
    assert.notEqual(noReason.code, 0);
    assert.match(noReason.stderr, /a break-glass needs a reason/);

    const taken = await breakGlassAs(oncall, 'INC-7: the fix for checkout');
    assert.equal(taken.code, 0, taken.stderr);
    const glass = await waitFor(async () => (await getCanary(ns)).status?.breakGlass ?? undefined, {
      timeoutMs: 20_000,
      what: 'the glass',
    });
    assert.equal(glass.by, `system:serviceaccount:${ns}:oscar`);
    assert.equal(glass.revision, revision);
    const done = await waitPhase(ns, 'Succeeded', 90_000, revision);
    assert.equal(done.status?.breakGlass, undefined, 'spent on its release');
    // Counted, by whom, on the controller's own metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${ports.controllerMetrics}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('sluice_break_glass_total{') && l.includes(`namespace="${ns}"`));
    assert.ok(line?.includes(`user="system:serviceaccount:${ns}:oscar"`) && line.endsWith(' 1'), line ?? metrics);
    const said = await messages();
    assert.ok(
      said.some(
        (m) =>
          m.startsWith(`Break-glass by system:serviceaccount:${ns}:oscar for revision `) && m.includes('(INC-7: the fix for checkout)'),
      ),
      said.join('\n'),
    );
    await setWindows(null);
  });

  it('releases kubectl rollout undo to a recent release at once, with no canary, and analyses an older revision', async () => {
    await (await admin()).patch(at(CR.canaries, ns, 'podinfo'), { metadata: { annotations: { 'sluice.dev/fast-rollback': '1' } } });
    const before = await getCanary(ns);
    const previous = before.status!.releases![1]!.revision;
    // The last release's canary pods stay for the drain delay after it (docs/real-gateway.md):
    // gone before the undo, so any canary pod seen below would be the fast rollback's own.
    await waitFor(
      async () => ((await (await admin()).get<Deployment>(at(R.deployments, ns, 'podinfo-canary'))).spec.replicas === 0 ? true : undefined),
      {
        timeoutMs: 30_000,
        what: 'the last release to scale its canary down',
      },
    );
    const r = await runKubectl(binDir, ['-n', ns, 'rollout', 'undo', 'deployment/podinfo']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await targetRevision(), previous, 'undo went back to the release before');
    const t0 = Date.now();
    let copyScaled = false;
    const back = await waitFor(
      async () => {
        const copy = await (await admin()).get<Deployment>(at(R.deployments, ns, 'podinfo-canary'));
        copyScaled ||= (copy.spec.replicas ?? 0) > 0;
        const c = await getCanary(ns);
        const d = await (await admin()).get<Deployment>(at(R.deployments, ns, 'podinfo'));
        const rolled =
          (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
          (d.status?.updatedReplicas ?? 0) === d.spec.replicas &&
          (d.status?.availableReplicas ?? 0) === d.spec.replicas;
        return c.status?.phase === 'Succeeded' && c.status.lastPromotedSpec === previous && rolled ? c : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the primary pods back on the previous release' },
    );
    const took = Date.now() - t0;
    assert.ok(took < 15_000, `back in ${took} ms`);
    process.stdout.write(`      (the primary pods back on the previous release ${took} ms after kubectl rollout undo)\n`);
    assert.equal(copyScaled, false, 'no canary pods');
    assert.equal(back.status?.canaryWeight, 0);
    const said = await messages();
    assert.ok(
      said.some((m) => m.startsWith('Fast rollback of podinfo.') && m.includes('without analysis')),
      said.join('\n'),
    );
    // The first release is outside the last one before the current: analysed as any change.
    const older = await setImageOf(ns, 'podinfo', '6.0.0');
    const analysed = await waitPhase(ns, 'Progressing', 30_000, older);
    assert.equal(analysed.status?.fastRollback, undefined);
    await waitPhase(ns, 'Succeeded', 90_000, older);
  });
});
