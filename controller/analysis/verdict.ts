// From a metric's value to a pass or a failure worded as Flagger words it, so a Flagger user
// reads "Halt podinfo.test advancement success rate 69.17% < 99%" at a glance.
import type { CanaryMetric } from '../../api/flagger-types.js';
import type { MetricResult } from '../check-results.js';

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

export function verdict(metric: CanaryMetric, value: number): MetricResult {
  // Flagger's legacy `threshold` field: a minimum for the success rate, a maximum otherwise.
  const range =
    metric.thresholdRange ??
    (metric.threshold !== undefined
      ? metric.name === 'request-success-rate'
        ? { min: metric.threshold }
        : { max: metric.threshold }
      : {});
  const below = range.min !== undefined && value < range.min;
  const above = range.max !== undefined && value > range.max;
  const bounds = { ...(range.min !== undefined ? { min: range.min } : {}), ...(range.max !== undefined ? { max: range.max } : {}) };
  if (!below && !above) return { name: metric.name, ok: true, value, message: '', ...bounds };
  // The value with two decimals, the bound as the user wrote it.
  const bound = below ? `< ${range.min}` : `> ${range.max}`;
  let message: string;
  if (metric.name === 'request-success-rate') message = `success rate ${value.toFixed(2)}% ${bound}%`;
  else if (metric.name === 'request-duration') message = `request duration ${fmt(value)}ms ${bound}ms`;
  else message = `${metric.name} ${fmt(value)} ${bound}`;
  return { name: metric.name, ok: false, value, message, ...bounds };
}

export function failure(metric: CanaryMetric, why: string): MetricResult {
  return { name: metric.name, ok: false, message: `${metric.name} check failed: ${why}` };
}
