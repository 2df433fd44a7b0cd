// The series the seed's MetricTemplates and Flagger's builtin checks query, in the shapes Envoy
// (gateway side) and podinfo (workload side) export them.
import { Counter, Histogram, Registry } from 'prom-client';

// Envoy's default histogram bounds, in milliseconds.
const ENVOY_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
// podinfo's (Prometheus client defaults), in seconds.
const PODINFO_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class SimulatorMetrics {
  readonly registry = new Registry();
  private readonly envoyRq = new Counter({
    name: 'envoy_cluster_upstream_rq',
    help: 'Requests the gateway sent to an upstream cluster, by response code',
    labelNames: ['envoy_cluster_name', 'envoy_response_code'],
    registers: [this.registry],
  });
  private readonly envoyRqTime = new Histogram({
    name: 'envoy_cluster_upstream_rq_time',
    help: 'Upstream request time in milliseconds',
    labelNames: ['envoy_cluster_name'],
    buckets: ENVOY_BUCKETS_MS,
    registers: [this.registry],
  });
  private readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'Requests served by the workload, as podinfo counts them',
    labelNames: ['namespace', 'service', 'status', 'method', 'path'],
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Request duration seen by the workload, as podinfo measures it',
    labelNames: ['namespace', 'service', 'status', 'method', 'path'],
    buckets: PODINFO_BUCKETS_S,
    registers: [this.registry],
  });

  record(p: {
    cluster: string;
    namespace: string;
    service: string;
    code: number;
    latencyMs: number;
    reachedWorkload: boolean;
    method: string;
    path: string;
  }): void {
    const code = String(p.code);
    this.envoyRq.inc({ envoy_cluster_name: p.cluster, envoy_response_code: code });
    // Answers the gateway produced by itself (no endpoints, missing Service) never reach a pod, and
    // Envoy times only requests it sent upstream: a local 503 in the latency histogram would make a
    // backend whose pods are not ready yet look faster than it is.
    if (!p.reachedWorkload) return;
    this.envoyRqTime.observe({ envoy_cluster_name: p.cluster }, p.latencyMs);
    const labels = { namespace: p.namespace, service: p.service, status: code, method: p.method, path: p.path };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, p.latencyMs / 1000);
  }
}
