// Tenant-chosen addresses (hooks, alert providers, MetricTemplates) in denied ranges are refused
// before any connection: by default the link-local ranges where clouds serve instance credentials.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runAnalysis } from '../../controller/analysis/run-analysis.js';
import { callHook } from '../../controller/hooks/call-hook.js';
import { EgressDenied, EgressGuard, guardedFetch } from '../../lib/egress-guard.js';
import { seedCanary } from './controller-fixtures.js';

describe('egress guard', () => {
  it('denies link-local addresses by default, however they are written', async () => {
    const guard = new EgressGuard();
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://[fe80::1]:8080/',
      'http://[::ffff:169.254.169.254]/',
      'https://169.254.0.1:443/x',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://100.100.100.200/latest/meta-data/',
    ]) {
      await assert.rejects(guard.check(url), EgressDenied, url);
    }
    for (const url of ['http://127.0.0.1:9090/', 'http://10.0.0.1/', 'http://localhost:1/', 'http://[::1]/']) await guard.check(url);
  });

  it('takes other ranges, none at all, and refuses what is not a CIDR', async () => {
    const guard = new EgressGuard(['10.0.0.0/8', '2001:db8::/32']);
    await assert.rejects(
      guard.check('http://10.1.2.3/'),
      /10\.1\.2\.3, in a range the controller may not call \(--deny-egress-cidr 10\.0\.0\.0\/8,2001:db8::\/32\)/,
    );
    await assert.rejects(guard.check('http://[2001:db8::5]/'), EgressDenied);
    await guard.check('http://169.254.169.254/');
    guard.configure([]);
    await guard.check('http://10.1.2.3/');
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fe80::/129', 'example.com/8'])
      assert.throws(() => guard.configure([bad]), /is not a CIDR range/, bad);
  });

  it('a hook at a denied address fails its check without being called', async () => {
    const called: string[] = [];
    const fakeFetch = (async (url: string) => {
      called.push(url);
      return new Response('ok');
    }) as unknown as typeof fetch;
    const r = await callHook(
      { name: 'steal', url: 'http://169.254.169.254/latest/meta-data/iam/' },
      { name: 'c', namespace: 'n', phase: 'Progressing', checksum: '', metadata: {} },
      fakeFetch,
      undefined,
      new EgressGuard(),
    );
    assert.equal(r.ok, false);
    assert.match(r.message, /^may not be called: 169\.254\.169\.254 is 169\.254\.169\.254, in a range/);
    assert.deepEqual(called, []);
  });

  it('a MetricTemplate pointing Prometheus at a denied address fails its check', async () => {
    const c = seedCanary({
      analysis: { metrics: [{ name: 'm', templateRef: { name: 'm', namespace: 'ops' }, thresholdRange: { min: 1 } }] },
    });
    const tpl = {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'm', namespace: 'ops' },
      spec: { provider: { type: 'prometheus', address: 'http://user:pw@169.254.169.254/' }, query: 'vector(1)' },
    };
    const [r] = await runAnalysis(c, {
      metricTemplate: () => tpl,
      defaultPrometheus: 'http://127.0.0.1:9',
      timeoutMs: 500,
      egress: new EgressGuard(),
    });
    assert.equal(r?.ok, false);
    assert.match(r?.message ?? '', /check failed: Prometheus at http:\/\/169\.254\.169\.254\/ may not be called/);
    assert.doesNotMatch(r?.message ?? '', /user:pw/);
  });

  it('checks every redirect like the first address: a hook redirected to the metadata service is never sent there', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/hop') res.writeHead(307, { location: '/hook' }).end();
      else if (req.url === '/hook') res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/' }).end('secret-ish');
      else res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sent: string[] = [];
    const recording = (async (url: string | URL, init?: RequestInit) => {
      sent.push(String(url));
      return fetch(url, init);
    }) as typeof fetch;
    try {
      const r = await callHook(
        { name: 'gate', url: `${base}/hop` },
        { name: 'c', namespace: 'n', phase: 'Progressing', checksum: '', metadata: {} },
        recording,
        undefined,
        new EgressGuard(),
      );
      assert.equal(r.ok, false);
      assert.match(r.message, /^may not be called: 169\.254\.169\.254 is 169\.254\.169\.254/);
      assert.deepEqual(sent, [`${base}/hop`, `${base}/hook`], 'followed the allowed hop, never the denied one');
      // An allowed redirect is followed as before.
      const ok = await guardedFetch(fetch, new EgressGuard())(`${base}/hop`.replace('/hop', '/elsewhere'));
      assert.equal(ok.status, 200);
      // A chain longer than the ceiling ends as refused.
      const loop = http.createServer((_req, res) => res.writeHead(302, { location: '/again' }).end());
      await new Promise<void>((r) => loop.listen(0, '127.0.0.1', r));
      await assert.rejects(
        guardedFetch(fetch, new EgressGuard())(`http://127.0.0.1:${(loop.address() as AddressInfo).port}/`),
        /redirected more than 3 times/,
      );
      loop.close();
    } finally {
      server.close();
    }
  });
});
