// The process metrics both servers export (prom-client's defaults: CPU, memory, handles, GC,
// event-loop lag), with the event-loop monitor sampling every 100 ms instead of prom-client's
// 10 ms. At 10 ms the monitor's timer wakes an idle process 6,000 times a minute: 0.22 CPU
// seconds a minute for each process, measured on a bare node, a quarter of sluice's whole idle
// cost (bench/RESULTS.md, scale_idle_cpu_seconds_per_minute). A loop stalled long enough to
// matter still shows at 100 ms.
import { collectDefaultMetrics, Registry } from 'prom-client';
import { KeptPart } from './metrics-exposition.js';

const EVENT_LOOP_MONITORING_MS = 100;

/**
 * How long a rendering of these series is served again: they are read from /proc and the event
 * loop's histogram (a few milliseconds), and a CPU or memory figure at 5 s resolution is more
 * than any dashboard of them needs, however often Prometheus scrapes (the world's: every second).
 */
const PROCESS_METRICS_MAX_AGE_MS = 5_000;

/** The process's series (none when `enabled` is false) in a registry of their own, rendered at most every PROCESS_METRICS_MAX_AGE_MS. */
export function keptProcessMetrics(enabled: boolean): KeptPart {
  const registry = new Registry();
  if (enabled) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_MS });
  return new KeptPart(() => registry.metrics(), { maxAgeMs: PROCESS_METRICS_MAX_AGE_MS });
}
