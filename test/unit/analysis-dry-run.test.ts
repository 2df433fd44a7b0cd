// Analysis dry-run (docs/analysis.md): a metric, a whole analysis or a CanaryJudge marked dryRun is
// queried, judged and reported like any other, and never fails or holds a step; a policy that
// forbids skipping analysis forbids a dry run of it, and a required metric is never one.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CanaryJudge, resolveJudge } from '../../api/canary-judge.js';
import type { CanarySpec } from '../../api/flagger-types.js';
import { canaryView } from '../../cli/rollout-view.js';
import { PLAIN, screen } from '../../cli/screen.js';
import { runAnalysis } from '../../controller/analysis/run-analysis.js';
import type { MetricResult } from '../../controller/check-results.js';
import { decide, type Settings } from '../../controller/state-machine.js';
import { enforce, violations } from '../../policy/constraints.js';
import { analysingStatus, copyOf, deployment, observed, seedCanary } from './controller-fixtures.js';

const settings: Settings = { minIntervalMs: 1000, pollMs: 500 };
const T0 = new Date('2026-12-01T10:00:00Z');
const after = (ms: number) => new Date(T0.getTime() + ms);
const obs = observed(deployment('podinfo:6.0.1', { paused: true }), copyOf('podinfo:6.0.1', 2));
const progressing = () => seedCanary({ status: analysingStatus(T0, { phase: 'Progressing' }) });
const low: MetricResult = { name: 'request-success-rate', ok: false, value: 69.17, message: 'success rate 69.17% < 99%' };

describe('analysis dry-run', () => {
  it('advances past a dry-run metric that fails, saying what it would have done', () => {
    const d = decide(progressing(), obs, [{ ...low, dryRun: true }], after(60_000), settings);
    assert.deepEqual([d.status.canaryWeight, d.status.failedChecks], [20, 0]);
    assert.deepEqual(
      d.events.map((e) => e.message),
      ['Dry run: podinfo.test would halt advancement at weight 10: success rate 69.17% < 99%', 'Advance podinfo.test canary weight 20'],
    );
    assert.deepEqual(d.status.lastChecks?.[0], {
      name: 'request-success-rate',
      ok: false,
      value: 69.17,
      message: 'success rate 69.17% < 99%',
      dryRun: true,
      at: after(60_000).toISOString(),
    });
  });

  it('still fails a step on a real failure beside it, and a dry-run Marginal judge holds nothing', () => {
    const real: MetricResult = { name: 'latency', ok: false, value: 900, message: 'latency 900 > 500' };
    const d = decide(progressing(), obs, [real, { ...low, dryRun: true }], after(60_000), settings);
    assert.equal(d.status.failedChecks, 1);
    assert.deepEqual(
      d.events.map((e) => e.message),
      [
        'Halt podinfo.test advancement latency 900 > 500',
        'Dry run: podinfo.test would halt advancement at weight 10: success rate 69.17% < 99%',
      ],
    );
    const marginal: MetricResult = { name: 'judge', ok: true, hold: true, dryRun: true, message: 'judge Marginal, score 80: …' };
    const h = decide(progressing(), obs, [marginal], after(60_000), settings);
    assert.equal(h.status.canaryWeight, 20);
    assert.equal(h.events[0]!.message, 'Dry run: podinfo.test would hold advancement at weight 10: judge Marginal, score 80: …');
  });

  it('marks the results of dry-run metrics, or of every metric when the analysis is one', async () => {
    const server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, '50'] }] } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const deps = {
        metricTemplate: () => undefined,
        defaultPrometheus: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        timeoutMs: 2000,
      };
      const metrics = [
        { name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 }, dryRun: true },
        { name: 'request-duration', interval: '1m', thresholdRange: { max: 500 } },
      ];
      const one = await runAnalysis(seedCanary({ analysis: { metrics } }), deps);
      assert.deepEqual(
        one.map((r) => [r.name, r.ok, r.dryRun === true]),
        [
          ['request-success-rate', false, true],
          ['request-duration', true, false],
        ],
      );
      const all = await runAnalysis(seedCanary({ analysis: { metrics, dryRun: true } }), deps);
      assert.deepEqual(
        all.map((r) => r.dryRun),
        [true, true],
      );
    } finally {
      server.close();
    }
  });

  it('shows a dry run as such in kubectl sluice get', () => {
    const c = seedCanary({
      status: {
        ...analysingStatus(T0, { phase: 'Progressing' }),
        lastChecks: [
          { name: 'request-success-rate', ok: false, value: 50, min: 99, message: 'success rate 50% < 99%', dryRun: true, at: '' },
        ],
      },
    });
    assert.match(screen(canaryView(c), PLAIN), /^ {2}DRY {2}request-success-rate {2}50 >= 99 {2}success rate 50% < 99% {2}\(dry run\)$/m);
  });

  it('is refused where a policy forbids skipping analysis, and never for a metric a policy requires', () => {
    const spec: CanarySpec = {
      ...seedCanary().spec,
      analysis: {
        ...seedCanary().spec.analysis,
        dryRun: true,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, dryRun: true }],
      },
    };
    const c = { forbidSkipAnalysis: true, requiredMetrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] };
    assert.deepEqual(violations(spec, c), [
      'analysis.dryRun: true is forbidden (a dry run decides nothing)',
      'analysis.metrics "request-success-rate" is required, so it may not be a dry run',
    ]);
    const enforced = enforce(spec, [{ metadata: { name: 'p' }, spec: { constraints: c } }]);
    assert.equal(enforced.analysis?.dryRun, undefined);
    assert.equal(enforced.analysis?.metrics?.[0]?.dryRun, undefined);
    assert.deepEqual(violations(enforced, c), []);
  });

  it('resolves a CanaryJudge marked dryRun, and only then', () => {
    const j = (spec: Record<string, unknown>) =>
      resolveJudge({
        metadata: { name: 'podinfo', namespace: 'test' },
        spec: { metrics: [{ name: 'l', query: 'q' }], ...spec },
      } as unknown as CanaryJudge);
    assert.equal((j({ dryRun: true }) as { dryRun: boolean }).dryRun, true);
    assert.equal((j({}) as { dryRun: boolean }).dryRun, false);
  });
});
