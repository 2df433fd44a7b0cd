import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { deliver } from '../../controller/alerts/deliver.js';
import { type AlertProvider, Notifier } from '../../controller/alerts/notifier.js';
import { type Alert, deliveryUrl, type ProviderType, payload, severityOf, wants } from '../../controller/alerts/payloads.js';
import { at, R } from '../../lib/kube/client.js';
import type { ObjectCache } from '../../lib/kube/informer.js';
import { capturingLogger } from '../fixtures/capturing-logger.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';
import { rev, seedCanary } from './controller-fixtures.js';

const canary = seedCanary({ status: { phase: 'Failed', lastAppliedSpec: rev('podinfo:6.0.2'), canaryWeight: 0, failedChecks: 5 } });
const alert: Alert = {
  canary,
  message: 'Rolling back podinfo.test failed checks threshold reached 5',
  severity: 'error',
  at: 1_795_000_000_000,
};

interface Received {
  url: string;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}
async function receiver(answer: (n: number) => number = () => 200) {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ url: req.url ?? '', body: JSON.parse(body || '{}'), headers: req.headers });
      res.statusCode = answer(got.length);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { got, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** An alert endpoint that answers nothing until released. */
async function slowReceiver(): Promise<{ slow: http.Server; url: string; release: () => void }> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = http.createServer((req, res) => {
    req.resume();
    void gate.then(() => res.end());
  });
  await new Promise<void>((ok) => slow.listen(0, '127.0.0.1', ok));
  return { slow, url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`, release };
}

describe('alerts', () => {
  it('maps events to severities: releases info, halts warn, rollbacks error, progress chatter nothing', () => {
    assert.equal(severityOf({ type: 'Normal', message: 'New revision detected! Scaling up podinfo-canary.test' }), 'info');
    assert.equal(severityOf({ type: 'Normal', message: 'Promotion completed! Scaling down podinfo-canary.test' }), 'info');
    assert.equal(severityOf({ type: 'Normal', message: 'Halt podinfo.test advancement waiting for promotion approval gate' }), 'info');
    assert.equal(severityOf({ type: 'Normal', message: 'Halt podinfo.test advancement success rate 69.17% < 99%' }), 'warn');
    assert.equal(severityOf({ type: 'Warning', message: 'Rolling back podinfo.test failed checks threshold reached 5' }), 'error');
    assert.equal(severityOf({ type: 'Normal', message: 'Advance podinfo.test canary weight 20' }), undefined);
    assert.equal(
      severityOf({ type: 'Warning', message: 'Waiting for podinfo-canary.test rollout to finish: 0 of 2 updated replicas are available' }),
      undefined,
    );
    assert.deepEqual(
      [wants('info', 'warn'), wants('warn', 'info'), wants('error', 'error'), wants(undefined, 'info')],
      [true, false, true, true],
    );
  });

  it("shapes each provider's payload", () => {
    const slack = payload({ type: 'slack', channel: 'on-call', username: 'flagger' }, alert) as {
      channel: string;
      username: string;
      attachments: { color: string; author_name: string; text: string; fields: { title: string; value: string }[] }[];
    };
    assert.equal(slack.channel, 'on-call');
    assert.equal(slack.username, 'flagger');
    assert.equal(slack.attachments[0]!.color, 'danger');
    assert.equal(slack.attachments[0]!.author_name, 'podinfo.test');
    assert.equal(slack.attachments[0]!.text, alert.message);
    assert.deepEqual(
      slack.attachments[0]!.fields.map((f) => [f.title, f.value]),
      [
        ['Target', 'Deployment/podinfo.test'],
        ['Phase', 'Failed'],
        ['Revision', rev('podinfo:6.0.2').slice(0, 10)],
        ['Traffic weight', '0%'],
        ['Failed checks', '5'],
      ],
    );
    for (const t of ['discord', 'rocket'] as ProviderType[])
      assert.deepEqual(payload({ type: t }, alert), payload({ type: 'slack' }, alert));
    const teams = payload({ type: 'msteams' }, alert) as Record<string, unknown> & {
      sections: { activityTitle: string; facts: unknown[] }[];
    };
    assert.equal(teams['@type'], 'MessageCard');
    assert.equal(teams.themeColor, 'E01E5A');
    assert.equal(teams.sections[0]!.activityTitle, alert.message);
    assert.equal(teams.sections[0]!.facts.length, 5);
    const chat = payload({ type: 'gchat' }, alert) as {
      cards: { header: { title: string }; sections: { widgets: { textParagraph?: { text: string } }[] }[] }[];
    };
    assert.equal(chat.cards[0]!.header.title, 'podinfo.test');
    assert.equal(chat.cards[0]!.sections[0]!.widgets[0]!.textParagraph!.text, alert.message);
    assert.deepEqual(payload({ type: 'generic' }, alert), {
      name: 'podinfo',
      namespace: 'test',
      phase: 'Failed',
      checksum: rev('podinfo:6.0.2'),
      metadata: { eventMessage: alert.message, eventType: 'Warning', severity: 'error', timestamp: '1795000000000' },
    });
    assert.equal(deliveryUrl({ type: 'discord' }, 'https://discord.com/api/webhooks/1/x'), 'https://discord.com/api/webhooks/1/x/slack');
  });

  it('delivers through an HTTP proxy', async () => {
    const r = await receiver();
    const proxied: string[] = [];
    const proxy = http.createServer((req, res) => {
      proxied.push(req.url ?? '');
      const up = http.request(req.url!, { method: req.method, headers: req.headers }, (u) => {
        res.statusCode = u.statusCode ?? 502;
        u.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    try {
      const status = await deliver({
        url: `${r.url}/hooks/abc`,
        proxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        body: { text: 'hi' },
        timeoutMs: 2000,
      });
      assert.equal(status, 200);
      assert.deepEqual(proxied, [`${r.url}/hooks/abc`]);
      assert.deepEqual(
        r.got.map((g) => [g.url, g.body]),
        [['/hooks/abc', { text: 'hi' }]],
      );
    } finally {
      proxy.close();
      r.server.close();
    }
  });

  it("gives up on an endpoint that drips its answer a byte at a time, at the delivery's deadline", async () => {
    const drip = http.createServer((_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write('x'), 100);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((ok) => drip.listen(0, '127.0.0.1', ok));
    const started = Date.now();
    try {
      await assert.rejects(
        deliver({ url: `http://127.0.0.1:${(drip.address() as AddressInfo).port}/`, body: { text: 'hi' }, timeoutMs: 800 }),
        /did not finish within 0.8s/,
      );
      assert.ok(Date.now() - started < 3000, 'cut off at the deadline, not by silence');
    } finally {
      drip.closeAllConnections();
      drip.close();
    }
  });

  const provider = (spec: AlertProvider['spec']): AlertProvider => ({ metadata: { name: 'chat', namespace: 'test' }, spec });
  const cache = (p: AlertProvider | undefined): ObjectCache<AlertProvider> => ({ get: () => p, items: () => (p ? [p] : []) });
  const withAlerts = (severity: string) =>
    seedCanary({ analysis: { alerts: [{ name: 'on-call', severity, providerRef: { name: 'chat' } }] }, status: canary.status });

  it('retries a failing provider with backoff and never holds up the caller', async () => {
    const r = await receiver((n) => (n < 3 ? 500 : 200));
    const logs: string[] = [];
    const logger = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
    logger.on('data', (i: { message: string }) => logs.push(i.message));
    const n = new Notifier(new MemoryCluster(), cache(provider({ type: 'slack', address: r.url })), logger, {
      timeoutMs: 1000,
      retries: 3,
      backoffMs: 20,
    });
    try {
      const t0 = Date.now();
      n.notify(withAlerts('info'), [
        { type: 'Warning', message: alert.message },
        { type: 'Normal', message: 'Advance podinfo.test canary weight 20' },
      ]);
      assert.ok(Date.now() - t0 < 20, 'notify returns at once');
      await n.idle();
      assert.equal(r.got.length, 3, 'two failures, then delivered');
      assert.deepEqual(n.counts, { sent: 1, dropped: 0, overflowed: 0 });
    } finally {
      r.server.close();
    }
  });

  it('filters by severity, honours muteAlert, and drops after the retries naming the provider, not its address', async () => {
    const r = await receiver(() => 503);
    const { logger, warnings } = capturingLogger();
    const n = new Notifier(new MemoryCluster(), cache(provider({ type: 'msteams', address: `${r.url}/secret-token` })), logger, {
      timeoutMs: 1000,
      retries: 1,
      backoffMs: 10,
    });
    try {
      const c = withAlerts('warn');
      c.spec.analysis!.webhooks = [{ name: 'flaky', type: 'rollout', url: 'http://x', muteAlert: true }];
      n.notify(c, [
        { type: 'Normal', message: 'New revision detected! Scaling up podinfo-canary.test' },
        { type: 'Warning', message: 'Halt podinfo.test advancement rollout check flaky failed answered 500', hook: 'flaky' },
        { type: 'Warning', message: alert.message },
      ]);
      await n.idle();
      assert.equal(r.got.length, 2, 'only the rollback alert, tried twice');
      assert.equal((r.got[0]!.body as { summary: string }).summary, `podinfo.test: ${alert.message}`);
      assert.deepEqual(n.counts, { sent: 0, dropped: 1, overflowed: 0 });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^AlertProvider chat\.test \(for Canary podinfo\.test\): alert dropped after 2 attempts: answered 503$/);
      assert.doesNotMatch(warnings[0]!, /secret-token/);
    } finally {
      r.server.close();
    }
  });

  it("drops what overflows a slow provider's queue, says so once, and takes alerts again once it drains", async () => {
    const { slow, url, release } = await slowReceiver();
    const { logger, warnings } = capturingLogger();
    const n = new Notifier(new MemoryCluster(), cache(provider({ type: 'slack', address: url })), logger, {
      timeoutMs: 5000,
      retries: 0,
      backoffMs: 10,
      maxQueued: 3,
    });
    try {
      const c = withAlerts('info');
      for (let i = 0; i < 10; i++)
        n.notify(c, [{ type: 'Normal', message: `New revision detected! Scaling up podinfo-canary.test (${i})` }]);
      assert.equal(n.counts.overflowed, 7, 'three wait, seven are dropped');
      assert.equal(warnings.length, 1, 'one line per backlog');
      assert.match(warnings[0]!, /^AlertProvider chat\.test: alerts dropped: 3 alerts already wait for it/);
      release();
      await n.idle();
      assert.equal(n.counts.sent, 3);
      n.notify(c, [{ type: 'Normal', message: 'Promotion completed! Scaling down podinfo-canary.test' }]);
      await n.idle();
      assert.equal(n.counts.sent, 4, 'taken again once drained');
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });

  it("keeps one namespace's slow providers from silencing another namespace: each holds at most its share", async () => {
    const { slow, url, release } = await slowReceiver();
    // One provider per namespace, all slow; tenant namespaces t0..t9 fill the shared ceiling.
    const providers = new Map<string, AlertProvider>();
    const get = (ns: string | undefined, name: string) => providers.get(`${ns}/${name}`);
    const cacheOf: ObjectCache<AlertProvider> = { get, items: () => [...providers.values()] };
    const n = new Notifier(new MemoryCluster(), cacheOf, winston.createLogger({ silent: true }), {
      timeoutMs: 5000,
      retries: 0,
      backoffMs: 10,
      maxQueued: 100,
      maxQueuedInAll: 20,
      maxQueuedPerNamespace: 100,
    });
    const canaryIn = (ns: string) => {
      providers.set(`${ns}/chat`, { metadata: { name: 'chat', namespace: ns }, spec: { type: 'slack', address: url } });
      const c = withAlerts('info');
      return { ...c, metadata: { ...c.metadata, namespace: ns } };
    };
    try {
      const tenant = canaryIn('tenant');
      for (let i = 0; i < 50; i++) n.notify(tenant, [{ type: 'Normal', message: `New revision detected! (${i})` }]);
      const before = n.counts.overflowed;
      assert.equal(before, 30, 'the shared ceiling holds');
      const other = canaryIn('other');
      for (let i = 0; i < 5; i++) n.notify(other, [{ type: 'Normal', message: `New revision detected! (${i})` }]);
      assert.equal(n.counts.overflowed, before, "the other namespace's alerts still wait their turn");
      release();
      await n.idle();
      assert.equal(n.counts.sent, 25);
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });

  it("never sends another namespace's provider credentials without its owners' consent", async () => {
    const r = await receiver();
    const cluster = new MemoryCluster();
    await cluster.create(at(R.secrets, 'ops'), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'hook', namespace: 'ops' },
      data: { address: Buffer.from(r.url).toString('base64') },
    });
    const p: AlertProvider = { metadata: { name: 'chat', namespace: 'ops' }, spec: { type: 'slack', secretRef: { name: 'hook' } } };
    const { logger, warnings } = capturingLogger();
    const n = new Notifier(cluster, cache(p), logger, { timeoutMs: 1000, retries: 0, backoffMs: 10 });
    try {
      const c = seedCanary({
        analysis: { alerts: [{ name: 'on-call', severity: 'info', providerRef: { name: 'chat', namespace: 'ops' } }] },
        status: canary.status,
      });
      n.notify(c, [{ type: 'Normal', message: 'Promotion completed! Scaling down podinfo-canary.test' }]);
      await n.idle();
      assert.equal(r.got.length, 0, 'not sent');
      assert.match(
        warnings.join('\n'),
        /does not share them with namespace test; its owners may add the annotation sluice\.dev\/shared-with/,
      );
      p.metadata.annotations = { 'sluice.dev/shared-with': 'staging, test' };
      n.notify(c, [{ type: 'Normal', message: 'Promotion completed! Scaling down podinfo-canary.test' }]);
      await n.idle();
      assert.equal(r.got.length, 1, 'sent once its owners share it');
    } finally {
      r.server.close();
    }
  });
});
