// Release control on the local world (docs/policy.md, "Stop the line"): a platform on-call sets
// stopTheLine on a ClusterCanaryPolicy and every rollout in its namespaces holds at its step, the
// Canary saying who and why; an abort still works; lifting it lets the rollout go on from the same
// step to its release.
import assert from 'node:assert/strict';
import { ACTION_REF } from '../../api/canary-action.js';
import { type ClusterCanaryPolicy, POLICY_REF } from '../../api/policy-types.js';
import { at } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { canaryEvents, getCanary, podinfoUnderPolicy, setImage as setImageOf, waitPhase } from '../world/seed.js';
import { admin } from '../world/test-clients.js';

const INTERVAL_MS = 2000;

describe('release control: stop the line', function () {
  this.timeout(180_000);
  let ns: string;
  let policyName: string;
  let remove: () => Promise<void> = async () => undefined;

  // A policy for this namespace that generates nothing (it selects no Deployment) and only stops.
  before(async () => ({ ns, policy: policyName, remove } = await podinfoUnderPolicy('stop', 10)));
  after(() => remove());

  const setStop = async (stop: { reason: string; by: string } | null) =>
    (await admin()).patch(at(POLICY_REF, undefined, policyName), { spec: { stopTheLine: stop } });
  const setImage = (tag: string) => setImageOf(ns, 'podinfo', tag);
  const atWeight = (min: number) =>
    waitFor(async () => ((await getCanary(ns)).status?.canaryWeight ?? 0) >= min || undefined, {
      timeoutMs: 60_000,
      what: `podinfo at weight ${min} or more`,
    });
  const messages = async () => (await canaryEvents(ns)).map((e) => e.message);

  it('holds a rollout at its step for as long as the line is stopped, then goes on from that step to the release', async () => {
    const revision = await setImage('6.0.1');
    await atWeight(10);
    await setStop({ reason: 'incident 42: checkout errors', by: 'oncall@example.com' });
    const stopped = await waitFor(async () => (await getCanary(ns)).status?.lineStopped ?? undefined, {
      timeoutMs: 20_000,
      what: 'the Canary to say the line is stopped',
    });
    assert.equal(stopped.policy, policyName);
    const held = (await getCanary(ns)).status!.canaryWeight!;
    assert.ok(held < 40, `held at ${held}, before the last step`);
    // Three intervals, watched throughout: no step, no promotion.
    const until = Date.now() + 3 * INTERVAL_MS + 500;
    await waitFor(
      async () => {
        const c = await getCanary(ns);
        assert.equal(c.status?.canaryWeight, held, 'the weight held');
        assert.equal(c.status?.phase, 'Progressing');
        return Date.now() >= until || undefined;
      },
      { timeoutMs: 3 * INTERVAL_MS + 10_000, intervalMs: 250, what: 'three intervals' },
    );
    assert.ok(
      (await messages()).some((m) =>
        new RegExp(`^Stopped podinfo\\.${ns}: ClusterCanaryPolicy ${policyName} stops the line by oncall@example\\.com: incident 42`).test(
          m,
        ),
      ),
    );
    await setStop(null);
    await atWeight(held + 10);
    const done = await waitPhase(ns, 'Succeeded', 90_000, revision);
    assert.equal(done.status?.lineStopped, undefined);
    assert.ok(
      (await messages()).some((m) => m.startsWith(`Line reopened for podinfo.${ns} (stopped by ClusterCanaryPolicy ${policyName}`)),
    );
  });

  it('still takes an abort while the line is stopped', async () => {
    const revision = await setImage('6.0.2');
    await atWeight(10);
    await setStop({ reason: 'incident 43', by: 'oncall@example.com' });
    await waitFor(async () => (await getCanary(ns)).status?.lineStopped ?? undefined, { timeoutMs: 20_000, what: 'the stop' });
    await (await admin()).create(at(ACTION_REF, ns), {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'CanaryAction',
      metadata: { generateName: 'abort-', namespace: ns },
      spec: { canary: 'podinfo', action: 'abort', reason: 'roll back during the incident' },
    });
    const failed = await waitPhase(ns, 'Failed', 60_000, revision);
    assert.equal(failed.status?.canaryWeight, 0);
    const p = await (await admin()).get<ClusterCanaryPolicy>(at(POLICY_REF, undefined, policyName));
    assert.equal(p.spec.stopTheLine?.reason, 'incident 43', 'the stop itself is untouched');
  });
});
