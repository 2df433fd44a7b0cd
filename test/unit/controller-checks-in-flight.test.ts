// Checks beside the reconcile workers: a result waits for the pass of the same step, a step that
// moved on aborts its check, and no Canary or namespace takes more than its slots.
import assert from 'node:assert/strict';
import { type CheckLimits, ChecksInFlight } from '../../controller/checks-in-flight.js';
import { waitFor } from '../../lib/wait.js';

/** A check that ends when told to, and says whether it was aborted. */
function controlled() {
  let finish!: (v: unknown) => void;
  const state = { aborted: false, started: false };
  const run = (signal: AbortSignal) => {
    state.started = true;
    return new Promise<unknown>((resolve) => {
      finish = resolve;
      signal.addEventListener('abort', () => {
        state.aborted = true;
        resolve('aborted');
      });
    });
  };
  return { run, state, finish: (v: unknown) => finish(v) };
}

const limits: CheckLimits = { maxInFlight: 3, maxPerNamespace: 2, resultTtlMs: 60_000 };

describe('checks in flight', () => {
  it('starts a check once, wakes the Canary when it ends, and hands the result to the same step', async () => {
    const woken: string[] = [];
    const checks = new ChecksInFlight((k) => woken.push(k), undefined, limits);
    const c = controlled();
    assert.equal(checks.known('a/one', 'step-1').size, 0);
    assert.equal(checks.start('a/one', 'rollback', c.run), 'started');
    assert.equal(checks.known('a/one', 'step-1').size, 0, 'nothing known while it runs');
    assert.equal(checks.start('a/one', 'rollback', c.run), 'running', 'asked again while running: not started twice');
    assert.equal(checks.running, 1);
    c.finish([{ name: 'switch', ok: true, message: 'answered 200' }]);
    await waitFor(() => woken.length > 0 || undefined, { timeoutMs: 1000, what: 'the wake-up' });
    assert.deepEqual(woken, ['a/one']);
    assert.equal(checks.running, 0);
    assert.deepEqual(checks.known('a/one', 'step-1').get('rollback'), [{ name: 'switch', ok: true, message: 'answered 200' }]);
    checks.settle('a/one');
    assert.equal(checks.known('a/one', 'step-1').size, 0, 'used up once the decision is made: a closed gate is asked again');
  });

  it('aborts a check whose step moved on and drops its result', async () => {
    const woken: string[] = [];
    const checks = new ChecksInFlight((k) => woken.push(k), undefined, limits);
    const c = controlled();
    checks.known('a/one', 'step-1');
    checks.start('a/one', 'pre-rollout', c.run);
    assert.equal(checks.known('a/one', 'step-2').size, 0);
    assert.equal(c.state.aborted, true);
    await waitFor(() => checks.running === 0 || undefined, { timeoutMs: 1000, what: 'the slot freed' });
    assert.deepEqual(woken, [], 'an aborted check wakes nobody');
    assert.equal(checks.known('a/one', 'step-2').size, 0);
  });

  it('holds a namespace to its share of slots and every Canary to the total', async () => {
    const woken: string[] = [];
    const checks = new ChecksInFlight((k) => woken.push(k), undefined, limits);
    const runs = [controlled(), controlled(), controlled(), controlled(), controlled(), controlled()];
    const ask = (key: string, i: number) => {
      checks.known(key, 's');
      return checks.start(key, 'rollout', runs[i]!.run);
    };
    assert.equal(ask('noisy/a', 0), 'started');
    assert.equal(ask('noisy/b', 1), 'started');
    assert.equal(ask('noisy/c', 2), 'no-slot', 'a third check in one namespace waits');
    assert.equal(runs[2]!.state.started, false);
    assert.equal(ask('quiet/x', 3), 'started', 'another namespace still gets a slot');
    // Every slot is taken; a third namespace holds less than its share (3 slots / 3 namespaces):
    // the namespace holding the most gives up its newest check, which is not recorded.
    assert.equal(ask('other/y', 4), 'started');
    assert.equal(runs[1]!.state.aborted, true, "noisy/b's check was stopped");
    assert.deepEqual(woken, ['noisy/b'], 'and noisy/b asks again later');
    assert.equal(checks.running, 3);
    assert.equal(checks.known('noisy/b', 's').size, 0, 'its stopped check left no result');
    // Now each namespace holds its share: nobody else is preempted.
    assert.equal(ask('noisy/b', 5), 'no-slot');
    assert.equal(runs[0]!.state.aborted, false);
    runs[0]!.finish([]);
    await waitFor(() => checks.running === 2 || undefined, { timeoutMs: 1000, what: 'a slot freed' });
    assert.equal(ask('noisy/c', 2), 'started');
  });

  it('a tenant with many namespaces cannot hold every slot against another namespace', () => {
    const checks = new ChecksInFlight(() => {}, undefined, { maxInFlight: 20, maxPerNamespace: 2, resultTtlMs: 60_000 });
    const hang = () => new Promise<unknown>(() => {});
    for (let n = 0; n < 10; n++)
      for (const c of ['a', 'b']) {
        checks.known(`tenant-${n}/${c}`, 's');
        assert.equal(checks.start(`tenant-${n}/${c}`, 'pre-rollout', hang), 'started');
      }
    assert.equal(checks.running, 20);
    checks.known('victim/app', 's');
    assert.equal(checks.start('victim/app', 'metrics', hang), 'started');
    assert.equal(checks.running, 20, 'the total still holds');
  });

  it('forgets a deleted Canary: its check is aborted and its result never lands', async () => {
    const woken: string[] = [];
    const checks = new ChecksInFlight((k) => woken.push(k), undefined, limits);
    const c = controlled();
    checks.known('a/gone', 's');
    checks.start('a/gone', 'metrics', c.run);
    checks.forget('a/gone');
    assert.equal(c.state.aborted, true);
    await waitFor(() => checks.running === 0 || undefined, { timeoutMs: 1000, what: 'the slot freed' });
    assert.deepEqual(woken, []);
  });

  it('does not use a result older than its time to live', async () => {
    let now = 0;
    const checks = new ChecksInFlight(
      () => {},
      undefined,
      { ...limits, resultTtlMs: 1000 },
      () => now,
    );
    checks.known('a/one', 's');
    checks.start('a/one', 'metrics', async () => [{ name: 'm', ok: true, value: 1, message: '' }]);
    await waitFor(() => checks.known('a/one', 's').has('metrics') || undefined, { timeoutMs: 1000, what: 'the result' });
    now = 1001;
    assert.equal(checks.known('a/one', 's').has('metrics'), false);
  });

  it('asks for the step before starting a check', () => {
    const checks = new ChecksInFlight(() => {}, undefined, limits);
    assert.throws(() => checks.start('a/one', 'rollout', async () => []), /known\(\) must be asked first/);
  });
});
