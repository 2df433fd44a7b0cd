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
      (await m.registry.metrics())
        .split('\n')
        .filter((l) => !l.startsWith('#') && (l.includes(`name="${name}"`) || l.includes(`workload="${name}-`)));
    assert.ok((await series(gone.metadata.name)).length >= 6, 'status, weights, analysis, duration and the success counter exist');
    m.forget(gone.metadata.namespace!, gone.metadata.name);
    assert.deepEqual(await series(gone.metadata.name), []);
    assert.ok((await series('kept')).length >= 6, 'the other Canary keeps its series');
  });
});
