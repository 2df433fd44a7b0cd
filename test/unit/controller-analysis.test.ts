import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseDuration, promDuration } from '../../api/duration.js';
import type { MetricTemplate } from '../../api/flagger-types.js';
import { renderQuery } from '../../controller/analysis/render.js';
import { runAnalysis } from '../../controller/analysis/run-analysis.js';
import { verdict } from '../../controller/analysis/verdict.js';
import { providerProblem, unsupportedFields } from '../../controller/spec-check.js';
import { seedCanary } from './controller-fixtures.js';

const ctx = { name: 'podinfo', namespace: 'test', target: 'podinfo', service: 'podinfo', interval: '1m', variables: { region: 'eu' } };

describe('analysis', () => {
  describe('renderQuery', () => {
    it("fills Flagger's placeholders, spaced or not", () => {
      assert.equal(
        renderQuery('x{ns="{{ namespace }}",t=~"{{target}}-canary",r="{{ variables.region }}"}[{{ interval }}]', ctx),
        'x{ns="test",t=~"podinfo-canary",r="eu"}[1m]',
      );
    });
    it('names a missing variable', () => assert.throws(() => renderQuery('{{ variables.zone }}', ctx), /variable "zone" is not set/));
    it('names an unknown placeholder', () =>
      assert.throws(() => renderQuery('{{ args.name }}', ctx), /unknown placeholder \{\{ args\.name \}\}/));
  });

  describe('verdict', () => {
    it('words a low success rate as Flagger does', () => {
      assert.equal(verdict({ name: 'request-success-rate', thresholdRange: { min: 99 } }, 69.1749).message, 'success rate 69.17% < 99%');
    });
    it('words a slow request duration', () => {
      assert.equal(verdict({ name: 'request-duration', thresholdRange: { max: 500 } }, 812.5).message, 'request duration 812.50ms > 500ms');
    });
    it('words a custom metric', () => {
      assert.equal(verdict({ name: 'latency', thresholdRange: { max: 0.5 } }, 1.2).message, 'latency 1.20 > 0.5');
    });
    it('passes inside the range, including its bounds', () => {
      assert.ok(verdict({ name: 'x', thresholdRange: { min: 1, max: 2 } }, 1).ok);
      assert.ok(verdict({ name: 'x', thresholdRange: { min: 1, max: 2 } }, 2).ok);
    });
    it('reads the legacy threshold as a minimum for the success rate and a maximum otherwise', () => {
      assert.equal(verdict({ name: 'request-success-rate', threshold: 99 }, 98).ok, false);
      assert.equal(verdict({ name: 'request-duration', threshold: 500 }, 400).ok, true);
    });
  });

  describe('durations', () => {
    it('parses Go durations', () => {
      assert.deepEqual(
        ['1m', '30s', '1m30s', '500ms', '1h'].map((d) => parseDuration(d, 0)),
        [60_000, 30_000, 90_000, 500, 3_600_000],
      );
      assert.equal(parseDuration(undefined, 7), 7);
    });
    it('rejects what is not a duration, saying how to write one', () =>
      assert.throws(() => parseDuration('1 minute', 0), /write it like 30s/));
    it('writes Prometheus ranges in whole units', () => assert.deepEqual([60_000, 90_000, 500].map(promDuration), ['1m', '90s', '500ms']));
  });

  it('names unsupported Canary fields', () => {
    const spec = {
      ...seedCanary().spec,
      ingressRef: { name: 'x' },
      service: { port: 80, corsPolicy: { allowOrigin: ['*'] } },
      analysis: { interval: '1m', mirror: true, mirrorWeight: 10 },
    } as Record<string, unknown>;
    assert.deepEqual(unsupportedFields(spec).sort(), ['analysis.mirrorWeight', 'ingressRef', 'service.corsPolicy']);
    assert.deepEqual(unsupportedFields(seedCanary().spec as Record<string, unknown>), []);
  });

  it('accepts the gatewayapi provider and names any other', () => {
    for (const provider of [undefined, '', 'gatewayapi', 'gatewayapi:v1', 'gatewayapi:v1beta1'])
      assert.equal(providerProblem({ provider }), undefined, String(provider));
    assert.match(
      providerProblem({ provider: 'istio' }) ?? '',
      /^spec\.provider "istio" is not supported: sluice shifts traffic through a Gateway API HTTPRoute/,
    );
    assert.match(providerProblem({ provider: 42 }) ?? '', /spec\.provider 42 is not supported/);
  });

  describe('runAnalysis errors (no Prometheus needed)', () => {
    it('fails a check whose template is missing, naming it', async () => {
      const c = seedCanary({
        analysis: {
          metrics: [{ name: 'error-rate', templateRef: { name: 'error-rate', namespace: 'flagger-system' }, thresholdRange: { max: 1 } }],
        },
      });
      const [r] = await runAnalysis(c, { metricTemplate: () => undefined, defaultPrometheus: 'http://127.0.0.1:9', timeoutMs: 500 });
      assert.equal(r?.ok, false);
      assert.match(r?.message ?? '', /MetricTemplate error-rate\.flagger-system not found/);
    });
    it('fails a check when Prometheus is unreachable, saying so', async () => {
      const c = seedCanary();
      const [r] = await runAnalysis(c, { metricTemplate: () => undefined, defaultPrometheus: 'http://127.0.0.1:9', timeoutMs: 500 });
      assert.equal(r?.ok, false);
      assert.match(r?.message ?? '', /unreachable/);
    });
    it('fails an unknown builtin', async () => {
      const c = seedCanary({ analysis: { metrics: [{ name: 'made-up' }] } });
      const [r] = await runAnalysis(c, { metricTemplate: () => undefined, defaultPrometheus: 'http://127.0.0.1:9', timeoutMs: 500 });
      assert.match(r?.message ?? '', /not a builtin metric/);
    });
  });

  describe('Prometheus credentials', () => {
    // Answers every query with 99.5, and records the path and Authorization header it was sent.
    let server: http.Server;
    let base: string;
    const seen: { path: string; auth?: string }[] = [];
    before(async () => {
      server = http.createServer((req, res) => {
        seen.push({ path: req.url ?? '', auth: req.headers.authorization });
        req.resume();
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, '99.5'] }] } }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());
    beforeEach(() => (seen.length = 0));

    // In namespace ops, shared with the Canary's namespace (test) unless told otherwise.
    const template = (provider: MetricTemplate['spec']['provider'], sharedWith: string | undefined = 'test'): MetricTemplate => ({
      apiVersion: 'flagger.app/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'rate', namespace: 'ops', ...(sharedWith ? { annotations: { 'sluice.dev/shared-with': sharedWith } } : {}) },
      spec: { provider, query: 'vector(1)' },
    });
    const canary = seedCanary({
      analysis: { metrics: [{ name: 'rate', templateRef: { name: 'rate', namespace: 'ops' }, thresholdRange: { min: 99 } }] },
    });
    const run = (tpl: MetricTemplate, secrets: Record<string, Record<string, string>> = {}) =>
      runAnalysis(canary, {
        metricTemplate: () => tpl,
        secret: async (_ns, name) => secrets[name],
        defaultPrometheus: 'http://127.0.0.1:9',
        timeoutMs: 2000,
      });

    it("sends an address's user:password as Basic auth, below its path, and never shows them", async () => {
      const [ok] = await run(template({ type: 'prometheus', address: `http://scraper:s3cret@${base}/prom` }));
      assert.equal(ok?.ok, true, ok?.message);
      assert.deepEqual(seen, [{ path: '/prom/api/v1/query', auth: `Basic ${Buffer.from('scraper:s3cret').toString('base64')}` }]);
      const [down] = await run(template({ type: 'prometheus', address: 'http://scraper:s3cret@127.0.0.1:9' }));
      assert.equal(down?.ok, false);
      assert.match(down?.message ?? '', /Prometheus at http:\/\/127\.0\.0\.1:9 is unreachable/);
      assert.doesNotMatch(down?.message ?? '', /s3cret|scraper/);
    });

    it('reads provider.secretRef: token as Bearer, username and password as Basic', async () => {
      const tpl = template({ type: 'prometheus', address: `http://${base}`, secretRef: { name: 'prom-auth' } });
      assert.equal((await run(tpl, { 'prom-auth': { token: 'abc\n' } }))[0]?.ok, true);
      assert.equal((await run(tpl, { 'prom-auth': { username: 'u', password: 'p' } }))[0]?.ok, true);
      assert.deepEqual(
        seen.map((x) => x.auth),
        ['Bearer abc', `Basic ${Buffer.from('u:p').toString('base64')}`],
      );
    });

    it("never sends another namespace's credentials without its owners' consent (sluice.dev/shared-with)", async () => {
      const secrets = { 'prom-auth': { token: 'abc' } };
      const unshared = template({ type: 'prometheus', address: `http://${base}`, secretRef: { name: 'prom-auth' } }, '');
      const [r] = await run(unshared, secrets);
      assert.equal(r?.ok, false);
      assert.match(
        r?.message ?? '',
        /MetricTemplate rate\.ops holds credentials \(provider\.secretRef\) and does not share them with namespace test/,
      );
      assert.equal(seen.length, 0, 'nothing sent');
      const elsewhere = template({ type: 'prometheus', address: `http://${base}`, secretRef: { name: 'prom-auth' } }, 'staging');
      assert.equal((await run(elsewhere, secrets))[0]?.ok, false, 'shared with another namespace only');
      const everyone = template({ type: 'prometheus', address: `http://${base}`, secretRef: { name: 'prom-auth' } }, '*');
      assert.equal((await run(everyone, secrets))[0]?.ok, true);
      // Without credentials a template of another namespace is used as Flagger uses it.
      assert.equal((await run(template({ type: 'prometheus', address: `http://${base}` }, '')))[0]?.ok, true);
    });

    it('fails the check, naming the Secret, when it is missing or holds no credentials', async () => {
      const tpl = template({ type: 'prometheus', address: `http://${base}`, secretRef: { name: 'prom-auth' } });
      assert.match((await run(tpl))[0]?.message ?? '', /Secret prom-auth\.ops of MetricTemplate rate\.ops not found/);
      assert.match(
        (await run(tpl, { 'prom-auth': { other: 'x' } }))[0]?.message ?? '',
        /has neither "token" nor "username" and "password"/,
      );
      assert.equal(seen.length, 0, 'nothing sent without the credentials');
    });
  });
});
