// The simulator's Envoy-shaped series: a gateway's own 503 (no ready endpoint) is counted as a
// response but never timed, as Envoy times only the requests it sent upstream.
import assert from 'node:assert/strict';
import { SimulatorMetrics } from '../world/simulator/metrics.js';

async function series(m: SimulatorMetrics, name: string): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (metric?.values ?? []).reduce((n, v) => n + ((v as { value: number }).value ?? 0), 0);
}

async function histogramCount(m: SimulatorMetrics): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'envoy_cluster_upstream_rq_time');
  const counts = (metric?.values ?? []).filter((v) => (v as { metricName?: string }).metricName === 'envoy_cluster_upstream_rq_time_count');
  return counts.reduce((n, v) => n + (v as { value: number }).value, 0);
}

describe('simulator metrics', () => {
  const request = { cluster: 'ns_podinfo-baseline_9898', namespace: 'ns', service: 'podinfo-baseline', method: 'GET', path: '/' };

  it('counts a local 503 as a response without putting its time in the upstream latency histogram', async () => {
    const m = new SimulatorMetrics();
    m.record({ ...request, code: 503, latencyMs: 0.4, reachedWorkload: false });
    m.record({ ...request, code: 200, latencyMs: 12, reachedWorkload: true });
    assert.equal(await series(m, 'envoy_cluster_upstream_rq'), 2);
    assert.equal(await histogramCount(m), 1);
    assert.equal(await series(m, 'http_requests_total'), 1, 'only the request that reached a pod is the workload’s');
  });
});
