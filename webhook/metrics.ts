// The webhook's own metrics, served on a separate plain-HTTP port for Prometheus.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GovernorCounters } from '../lib/connection-governor.js';
import { type KeptPart, type Rendered, rendered } from '../lib/metrics-exposition.js';
import { keptProcessMetrics } from '../lib/process-metrics.js';

export class WebhookMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'sluice_webhook_requests_total',
    help: 'Admission requests answered, by endpoint and decision (mutate: frozen, passed, re-paused, refused; validate: allowed, denied; both: error, bad-request)',
    labelNames: ['endpoint', 'decision'],
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'sluice_webhook_request_duration_seconds',
    help: 'Time from receiving an admission request to answering it',
    labelNames: ['endpoint', 'decision'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly handshakes = new Counter({
    name: 'sluice_webhook_tls_handshakes_total',
    help: 'TLS connections established (the apiserver reuses connections; a high rate means it cannot)',
    registers: [this.registry],
  });

  readonly connectionsRefused = new Counter({
    name: 'sluice_webhook_connections_refused_total',
    help: 'Connections closed at once on arrival: their source (reason "source") or the port ("total") was full of connections busy answering',
    labelNames: ['port', 'reason'],
    registers: [this.registry],
  });

  readonly connectionsEvicted = new Counter({
    name: 'sluice_webhook_connections_evicted_total',
    help: 'Connections closed to make room for a new one when the port was full, by what they were doing (slow, unproven, idle)',
    labelNames: ['port', 'class'],
    registers: [this.registry],
  });

  private readonly governed = new Map<string, { size: number; bySource(): Map<string, number> }>();

  readonly connectionsOpen = new Gauge({
    name: 'sluice_webhook_connections_open',
    help: 'Connections open now, by port',
    labelNames: ['port'],
    registers: [this.registry],
    collect: () => {
      for (const [port, g] of this.governed) this.connectionsOpen.set({ port }, g.size);
    },
  });

  readonly connectionsLargestSource = new Gauge({
    name: 'sluice_webhook_connections_largest_source',
    help: 'Connections open now from the one address holding the most, by port',
    labelNames: ['port'],
    registers: [this.registry],
    collect: () => {
      for (const [port, g] of this.governed) this.connectionsLargestSource.set({ port }, Math.max(0, ...g.bySource().values()));
    },
  });

  /** Reports the open connections of a governed port. */
  watchConnections(port: 'admission' | 'metrics', governor: { size: number; bySource(): Map<string, number> }): void {
    this.governed.set(port, governor);
  }

  connectionCounters(port: 'admission' | 'metrics'): GovernorCounters {
    const classes = ['slow', 'unproven', 'idle'] as const;
    return {
      refused: (reason) => this.connectionsRefused.inc({ port, reason }),
      evicted: (cls) => this.connectionsEvicted.inc({ port, class: classes[cls] }),
    };
  }

  /** The process's series (CPU, memory, event loop): read from /proc, so rendered at most every 5 s. */
  private readonly processPart: KeptPart;

  constructor(withProcessMetrics = true) {
    this.processPart = keptProcessMetrics(withProcessMetrics);
  }

  /** What a scrape gets: the process's series as last rendered, and the webhook's own. */
  async parts(): Promise<Rendered[]> {
    return [await this.processPart.get(), rendered(await this.registry.metrics())];
  }

  observe(endpoint: string, decision: string, seconds: number): void {
    this.requests.inc({ endpoint, decision });
    this.duration.observe({ endpoint, decision }, seconds);
  }
}
