// The process metrics both servers export (prom-client's defaults: CPU, memory, handles, GC,
// event-loop lag), with the event-loop monitor sampling every 100 ms instead of prom-client's
// 10 ms. At 10 ms the monitor's timer wakes an idle process 6,000 times a minute: 0.22 CPU
// seconds a minute for each process, measured on a bare node, a quarter of sluice's whole idle
// cost (bench/RESULTS.md, scale_idle_cpu_seconds_per_minute). A loop stalled long enough to
// matter still shows at 100 ms.
import { collectDefaultMetrics, type Registry } from 'prom-client';

export const EVENT_LOOP_MONITORING_MS = 100;

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_MS });
}
