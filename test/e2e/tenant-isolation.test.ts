// One tenant's hooks cannot hold up another tenant's rollout: ten Canaries in one namespace each
// wait on a pre-rollout hook that never answers (timeout: 24h, the longest admitted; each call is cut at 5 minutes), while a Canary in another
// namespace advances a step every interval. Before checks ran beside the reconcile workers, four
// such hooks held all four workers and every other rollout stopped.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { at, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { deploymentWithCanary, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { admin, deleteNamespace, testNamespace } from '../world/test-clients.js';

const NOISY = 10;
const INTERVAL_S = 2;

describe('tenant isolation: hooks that never answer', function () {
  this.timeout(180_000);
  let noisy: string;
  let quiet: string;
  const held = new Set<Socket>();
  let fastCalls = 0;
  // Reads each request and never answers it.
  const silent = http.createServer((req) => {
    held.add(req.socket);
    req.socket.on('close', () => held.delete(req.socket));
    req.resume();
  });
  const fast = http.createServer((req, res) => {
    fastCalls++;
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const listen = async (s: http.Server) => {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
  };
  let silentUrl: string;
  let fastUrl: string;

  const newImage = async (ns: string, name: string, tag: string) =>
    (await admin()).patch(
      at(R.deployments, ns, name),
      { spec: { template: { spec: { containers: [{ name: 'app', image: `ghcr.io/stefanprodan/podinfo:${tag}` }] } } } },
      'strategic',
    );

  before(async function () {
    this.timeout(120_000);
    noisy = await sluiceAndNamespace('noisy');
    quiet = await testNamespace('quiet');
    silentUrl = await listen(silent);
    fastUrl = await listen(fast);
  });
  after(async () => {
    for (const s of held) s.destroy();
    silent.close();
    fast.close();
    await Promise.all([deleteNamespace(noisy), deleteNamespace(quiet)]);
  });

  it(`a Canary in another namespace advances on schedule while ${NOISY} Canaries wait on silent hooks`, async () => {
    const names = Array.from({ length: NOISY }, (_, i) => `stuck-${i}`);
    for (const name of names) {
      await deploymentWithCanary(noisy, name, {
        interval: `${INTERVAL_S}s`,
        threshold: 3,
        stepWeight: 10,
        maxWeight: 50,
        webhooks: [{ name: 'silent', type: 'pre-rollout', url: silentUrl, timeout: '24h' }],
      });
    }
    await deploymentWithCanary(quiet, 'steady', {
      interval: `${INTERVAL_S}s`,
      threshold: 3,
      stepWeight: 10,
      maxWeight: 50,
      webhooks: [{ name: 'quick', type: 'rollout', url: fastUrl, timeout: '5s' }],
    });
    await Promise.all([
      ...names.map((n) => waitPhase(noisy, 'Initialized', 60_000, undefined, n)),
      waitPhase(quiet, 'Initialized', 60_000, undefined, 'steady'),
    ]);

    for (const name of names) await newImage(noisy, name, '6.0.1');
    await waitFor(() => held.size >= NOISY || undefined, {
      timeoutMs: 30_000,
      what: `${NOISY} silent pre-rollout hooks in flight at once`,
    });

    await newImage(quiet, 'steady', '6.0.1');
    // Each weight the Canary shows, and when it was first seen.
    const seen: { weight: number; at: number }[] = [];
    const done = await waitFor(
      async () => {
        const c = await getCanary(quiet, 'steady');
        const w = c.status?.canaryWeight ?? 0;
        if (c.status?.phase === 'Progressing' && w > 0 && seen.at(-1)?.weight !== w) seen.push({ weight: w, at: Date.now() });
        return c.status?.phase === 'Succeeded' ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the quiet Canary to be released' },
    );
    assert.equal(done.status?.phase, 'Succeeded');
    assert.deepEqual(
      seen.map((s) => s.weight),
      [10, 20, 30, 40, 50],
      'every step seen, in order',
    );
    const gaps = seen.slice(1).map((s, i) => s.at - seen[i]!.at);
    process.stdout.write(`      (steps ${gaps.join(', ')} ms apart with ${held.size} silent hooks in flight)\n`);
    for (const gap of gaps)
      assert.ok(
        gap <= (INTERVAL_S + 1) * 1000,
        `steps ${gaps.join(', ')} ms apart; each must be within the ${INTERVAL_S} s interval plus 1 s`,
      );
    assert.ok(fastCalls >= 5, `the quiet Canary's own rollout hook was called each step (${fastCalls})`);

    // The silent hooks were still held throughout, and their Canaries did not move.
    assert.ok(held.size >= NOISY, `${held.size} silent hooks still in flight`);
    for (const name of names) {
      const c = await getCanary(noisy, name);
      assert.equal(c.status?.phase, 'Progressing');
      assert.equal(c.status?.canaryWeight ?? 0, 0, `${name} stays at weight 0 before its pre-rollout hook answers`);
    }
  });
});
