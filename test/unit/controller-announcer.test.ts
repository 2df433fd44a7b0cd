// Event hooks and post-rollout hooks (controller/announcer.ts, docs/strategies.md): every event to
// every event hook in order, post-rollout hooks once when a rollout ends, and a bound on what waits
// behind a hook that hangs.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Canary, CanaryStatus, CanaryWebhook } from '../../api/flagger-types.js';
import { Announcer } from '../../controller/announcer.js';
import type { Logger } from '../../lib/logger.js';
import { waitFor } from '../../lib/wait.js';
import { rev, seedCanary } from './controller-fixtures.js';

interface Call {
  path: string;
  body: { name: string; namespace: string; phase: string; checksum: string; metadata: Record<string, string> };
}

describe('announcer: event and post-rollout hooks', () => {
  let server: http.Server;
  let base: string;
  const calls: Call[] = [];
  /** While set, hook calls to /slow are held here instead of answered. */
  let held: http.ServerResponse[] | undefined;
  before(async () => {
    server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        calls.push({ path: req.url ?? '', body: JSON.parse(data) });
        if (req.url === '/slow' && held) held.push(res);
        else res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  beforeEach(() => {
    calls.length = 0;
  });

  const canaryWith = (webhooks: CanaryWebhook[], status: CanaryStatus): Canary =>
    seedCanary({ status, analysis: { interval: '1m', webhooks } as never });
  /** The announcer only warns: a logger that remembers what it was told. */
  const logs = () => {
    const lines: string[] = [];
    const logger = { warn: (message: string) => void lines.push(message) } as unknown as Logger;
    return { logger, lines };
  };

  it('sends every event to every event hook, in order, with the event in the metadata', async () => {
    const { logger } = logs();
    const a = new Announcer(logger);
    const c = canaryWith(
      [
        { name: 'ev-a', type: 'event', url: `${base}/a`, metadata: { team: 'x' } },
        { name: 'ev-b', type: 'event', url: `${base}/b` },
        { name: 'rollout', type: 'rollout', url: `${base}/not-an-event-hook` },
      ],
      { phase: 'Progressing', lastAppliedSpec: rev('podinfo:6.0.1') },
    );
    a.announce(c, { ...c.status, phase: 'Progressing', canaryWeight: 10 }, [
      { type: 'Normal', message: 'Advance podinfo.test canary weight 10' },
      { type: 'Warning', message: 'Halt advancement podinfo.test' },
    ]);
    await waitFor(() => calls.length >= 4 || undefined, { timeoutMs: 5000, what: 'four hook calls' });
    assert.deepEqual(
      calls.map((x) => `${x.path} ${x.body.metadata.eventType} ${x.body.metadata.eventMessage}`),
      [
        '/a Normal Advance podinfo.test canary weight 10',
        '/b Normal Advance podinfo.test canary weight 10',
        '/a Warning Halt advancement podinfo.test',
        '/b Warning Halt advancement podinfo.test',
      ],
    );
    assert.equal(calls[0]!.body.metadata.team, 'x', "the hook's own metadata kept");
    assert.equal(calls[0]!.body.phase, 'Progressing');
    assert.equal(calls[0]!.body.checksum, rev('podinfo:6.0.1'));
    assert.ok(!calls.some((x) => x.path === '/not-an-event-hook'));
  });

  it('calls post-rollout hooks once, when the rollout ends, and not for a pass that stays ended', async () => {
    const { logger } = logs();
    const a = new Announcer(logger);
    const hooks: CanaryWebhook[] = [{ name: 'post', type: 'post-rollout', url: `${base}/post` }];
    const progressing = canaryWith(hooks, { phase: 'Promoting', lastAppliedSpec: rev('podinfo:6.0.1') });
    a.announce(progressing, { ...progressing.status, phase: 'Finalising' }, []);
    a.announce(progressing, { ...progressing.status, phase: 'Succeeded' }, [{ type: 'Normal', message: 'Promotion completed!' }]);
    const succeeded = canaryWith(hooks, { phase: 'Succeeded', lastAppliedSpec: rev('podinfo:6.0.1') });
    a.announce(succeeded, { ...succeeded.status, phase: 'Succeeded' }, []);
    const failing = canaryWith(hooks, { phase: 'Progressing', lastAppliedSpec: rev('podinfo:6.0.2') });
    a.announce(failing, { ...failing.status, phase: 'Failed' }, [{ type: 'Warning', message: 'Rolling back' }]);
    await waitFor(() => calls.length >= 2 || undefined, { timeoutMs: 5000, what: 'two post-rollout calls' });
    // Everything announced was sent by now (one queue per Canary, in order): one more would show here.
    const marker = canaryWith([{ name: 'ev', type: 'event', url: `${base}/marker` }], { phase: 'Succeeded' });
    a.announce(marker, { phase: 'Succeeded' }, [{ type: 'Normal', message: 'marker' }]);
    await waitFor(() => calls.some((x) => x.path === '/marker') || undefined, { timeoutMs: 5000, what: 'the marker' });
    assert.deepEqual(
      calls.filter((x) => x.path === '/post').map((x) => `${x.body.phase} ${x.body.checksum.slice(0, 8)}`),
      [`Succeeded ${rev('podinfo:6.0.1').slice(0, 8)}`, `Failed ${rev('podinfo:6.0.2').slice(0, 8)}`],
    );
  });

  it('drops what queues behind a hanging hook past its bound, says so, and drains once it answers', async () => {
    const { logger, lines } = logs();
    const a = new Announcer(logger);
    held = [];
    const c = canaryWith([{ name: 'slow', type: 'event', url: `${base}/slow`, timeout: '60s' }], { phase: 'Progressing' });
    try {
      for (let i = 0; i < 60; i++) a.announce(c, { phase: 'Progressing' }, [{ type: 'Normal', message: `event ${i}` }]);
      await waitFor(() => held!.length === 1 || undefined, { timeoutMs: 5000, what: 'the first call, held' });
      assert.equal(lines.filter((l) => /hooks are 50 passes behind/.test(l)).length, 10, 'the ten past the bound were dropped, each said');
    } finally {
      const release = held;
      held = undefined;
      for (const r of release) r.end('ok');
    }
    await waitFor(() => calls.filter((x) => x.path === '/slow').length >= 50 || undefined, { timeoutMs: 10_000, what: '50 calls' });
    assert.deepEqual(
      calls.map((x) => x.body.metadata.eventMessage),
      Array.from({ length: 50 }, (_, i) => `event ${i}`),
      'the first 50, in order',
    );
  });
});
