// The controller's series of a Canary leave with it: label values come from objects tenants
// create, so series kept for every Canary that ever existed would grow without end.
import assert from 'node:assert/strict';
import { ControllerMetrics } from '../../controller/controller-metrics.js';
import { seedCanary } from './controller-fixtures.js';

describe('controller metrics', () => {
  it('removes every series of a deleted Canary and keeps the others', async () => {
    const m = new ControllerMetrics(false);
    const gone = seedCanary();
    const kept = { ...seedCanary(), metadata: { ...seedCanary().metadata, name: 'kept' } };
    for (const c of [gone, kept]) {
      m.observe(c, 'Progressing', 20, `${c.metadata.name}-primary`, `${c.metadata.name}-canary`);
      m.metricResults(c, [{ name: 'request-success-rate', ok: true, value: 99.9, message: '' }]);
      m.finished(c, 'Succeeded', 42);
    }
    const series = async (name: string) =>
      (await m.exposition())
        .split('\n')
        .filter((l) => !l.startsWith('#') && (l.includes(`name="${name}"`) || l.includes(`workload="${name}-`)));
    assert.ok((await series(gone.metadata.name)).length >= 6, 'status, weights, analysis, duration and the success counter exist');
    m.forget(gone.metadata.namespace!, gone.metadata.name);
    assert.deepEqual(await series(gone.metadata.name), []);
    assert.ok((await series('kept')).length >= 6, 'the other Canary keeps its series');
  });

  it("exports a judgement's score, verdict and per-metric shift, and removes them with the Canary", async () => {
    const m = new ControllerMetrics(false);
    const c = seedCanary();
    const judgement = {
      verdict: 'Marginal' as const,
      score: 80,
      confidence: 0.998,
      baseline: 'fresh' as const,
      metrics: [{ name: 'latency', label: 'High', canaryN: 12, baselineN: 11, estimate: 3.5, lower: 1, upper: 6, ratio: 1.25 }],
      at: new Date(0).toISOString(),
    };
    m.metricResults(c, [{ name: 'judge', ok: true, hold: true, value: 80, message: 'held', judgement }]);
    const lines = (await m.exposition()).split('\n').filter((l) => l.startsWith('sluice_canary_judge{'));
    const value = (metric: string, stat: string) =>
      lines
        .find((l) => l.includes(`metric="${metric}"`) && l.includes(`stat="${stat}"`))
        ?.split(' ')
        .at(-1);
    assert.deepEqual(
      [value('', 'score'), value('', 'verdict'), value('latency', 'estimate'), value('latency', 'lower'), value('latency', 'canary_n')],
      ['80', '0.5', '3.5', '1', '12'],
    );
    m.forget(c.metadata.namespace!, c.metadata.name);
    assert.deepEqual(
      (await m.exposition()).split('\n').filter((l) => l.startsWith('sluice_canary_judge{')),
      [],
    );
  });

  it("keeps the text of the Canaries' series between changes, and shows every change at the next scrape", async () => {
    const m = new ControllerMetrics(false);
    const c = seedCanary();
    const weightLine = async () =>
      (await m.exposition()).split('\n').find((l) => l.startsWith(`flagger_canary_weight{workload="${c.metadata.name}-canary"`));
    m.observe(c, 'Progressing', 20, `${c.metadata.name}-primary`, `${c.metadata.name}-canary`);
    assert.match((await weightLine()) ?? '', / 20$/);
    const first = await m.exposition();
    assert.equal(await m.exposition(), first, 'nothing changed, the same text');
    m.observe(c, 'Progressing', 30, `${c.metadata.name}-primary`, `${c.metadata.name}-canary`);
    assert.match((await weightLine()) ?? '', / 30$/);
    m.totals(new Map([[c.metadata.namespace!, 7]]));
    assert.match(await m.exposition(), new RegExp(`flagger_canary_total\\{namespace="${c.metadata.namespace}"\\} 7`));
    m.metricResults(c, [{ name: 'request-success-rate', ok: true, value: 97.5, message: '' }]);
    assert.match(await m.exposition(), /flagger_canary_metric_analysis\{[^}]*metric="request-success-rate"\} 97\.5/);
    m.finished(c, 'Failed', 12);
    assert.match(await m.exposition(), /flagger_canary_failures_total\{[^}]*\} 1/);
    m.forget(c.metadata.namespace!, c.metadata.name);
    assert.equal(await weightLine(), undefined, 'a deleted Canary leaves the text at the next scrape');
    // The reconciler's own counters are live, never cached.
    m.reconciles.inc({ result: 'ok' });
    assert.match(await m.exposition(), /sluice_controller_reconciles_total\{result="ok"\} 1/);
  });
});
