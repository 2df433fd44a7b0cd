// One metric over the last minutes (dashboard/metric-history.ts) drawn with uPlot: the values as
// a line with a gap where Prometheus had no sample, the thresholdRange band as dashed lines, and
// every value outside the band marked in red; and the canary weight as steps. The counts are on
// the elements for tests to read.

import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { MetricSeries } from '../metric-history.js';

const outside = (v: number | null, s: MetricSeries) =>
  v !== null && ((s.min !== undefined && v < s.min) || (s.max !== undefined && v > s.max));

/** A uPlot drawn into a box once, then given new data on every render. */
function usePlot(opts: () => uPlot.Options, data: uPlot.AlignedData) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    if (!box.current) return;
    if (!plot.current) plot.current = new uPlot({ ...opts(), width: Math.min(720, box.current.clientWidth || 720) }, data, box.current);
    else plot.current.setData(data);
  });
  useEffect(() => () => plot.current?.destroy(), []);
  return box;
}

export function MetricChart({ series, message }: { series: MetricSeries; message?: string }) {
  const xs = series.points.map((p) => p[0]);
  const ys = series.points.map((p) => p[1]);
  const failing = ys.map((v) => (outside(v, series) ? v : null));
  const line = (v: number | undefined) => xs.map(() => v ?? null);
  const box = usePlot(
    () => ({
      width: 720,
      height: 170,
      legend: { show: false },
      scales: { x: { time: true } },
      series: [
        {},
        { label: series.metric, stroke: '#0969da', width: 2, spanGaps: false, points: { show: true, size: 4 } },
        { label: 'outside the band', stroke: '#cf222e', paths: () => null, points: { show: true, size: 7, fill: '#cf222e' } },
        { label: 'min', stroke: '#9a6700', dash: [6, 4], width: 1, points: { show: false } },
        { label: 'max', stroke: '#9a6700', dash: [6, 4], width: 1, points: { show: false } },
      ],
    }),
    [xs, ys, failing, line(series.min), line(series.max)],
  );
  const samples = ys.filter((v) => v !== null).length;
  const failed = failing.filter((v) => v !== null).length;
  const band = `${series.min ?? '−∞'} … ${series.max ?? '∞'}`;
  return html`<figure class="chart" data-chart=${series.metric} data-samples=${samples} data-failing=${failed} data-gaps=${ys.length - samples}>
    <figcaption><strong>${series.metric}</strong>${series.dryRun ? html` <span class="dry">dry-run</span>` : ''} · band ${band} ·
      <span class=${failed > 0 ? 'bad' : ''}>${failed} outside the band</span>
      ${samples === 0 ? html` · <span class="dry">no data${message ? `: ${message}` : ''}</span>` : ''}</figcaption>
    <div ref=${box}></div>
  </figure>`;
}

/** The canary's weight step by step: the rollout as a timeline. */
export function WeightChart({ points }: { points: [number, number | null][] }) {
  const box = usePlot(
    () => ({
      width: 720,
      height: 140,
      legend: { show: false },
      scales: { x: { time: true }, y: { range: [0, 100] } },
      series: [{}, { label: 'canary weight', stroke: '#8250df', width: 2, spanGaps: false, paths: uPlot.paths.stepped?.({ align: 1 }) }],
    }),
    [points.map((p) => p[0]), points.map((p) => p[1])],
  );
  const steps = new Set(points.map((p) => p[1]).filter((v) => v !== null && v > 0)).size;
  return html`<figure class="chart" data-chart="weight" data-steps=${steps}>
    <figcaption><strong>canary weight</strong> · ${steps} distinct weights above 0</figcaption>
    <div ref=${box}></div>
  </figure>`;
}
