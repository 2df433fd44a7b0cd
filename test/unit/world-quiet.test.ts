import assert from 'node:assert/strict';
import { requestsAnswered } from '../world/world-quiet.js';

describe("the benchmarks' reading of the apiserver's request counters", () => {
  const exposition = [
    '# HELP apiserver_request_total Counter of apiserver requests',
    '# TYPE apiserver_request_total counter',
    'apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 3000',
    'apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="status",verb="PUT",version="v1"} 12.5e1',
    'apiserver_request_total{code="0",component="apiserver",dry_run="",group="apps",resource="deployments",scope="cluster",subresource="",verb="WATCH",version="v1"} 40',
    'apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 900',
    'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 77',
    'apiserver_request_duration_seconds_count{component="apiserver",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 3000',
  ].join('\n');

  it('counts requests for resources, their subresources included', () => {
    assert.equal(requestsAnswered(exposition), 3125);
  });

  it('leaves out watches, Leases and requests for no resource (its own GET /metrics)', () => {
    const only = (line: string) =>
      requestsAnswered(
        exposition
          .split('\n')
          .filter((l) => l.includes(line))
          .join('\n'),
      );
    assert.equal(only('verb="WATCH"'), 0);
    assert.equal(only('resource="leases"'), 0);
    assert.equal(only('subresource="/metrics"'), 0);
    assert.equal(only('_duration_seconds_count'), 0, 'only apiserver_request_total is read');
  });
});
