// One metric over the last minutes (dashboard/metric-history.ts) drawn with uPlot: the values as
// a line with a gap where Prometheus had no sample, the thresholdRange band as dashed lines, and
// every value outside the band marked in red. The counts are on the element for tests to read.

import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { MetricSeries } from '../metric-history.js';

const outside = (v: number | null, s: MetricSeries) =>
  v !== null && ((s.min !== undefined && v < s.min) || (s.max !== undefined && v > s.max));

export function MetricChart({ series, message }: { series: MetricSeries; message?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const xs = series.points.map((p) => p[0]);
  const ys = series.points.map((p) => p[1]);
  const failing = ys.map((v) => (outside(v, series) ? v : null));
  const line = (v: number | undefined) => xs.map(() => v ?? null);
  const data: uPlot.AlignedData = [xs, ys, failing, line(series.min), line(series.max)];
  useEffect(() => {
    if (!box.current) return;
    if (!plot.current) {
      plot.current = new uPlot(
        {
          width: Math.min(720, box.current.clientWidth || 720),
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
        },
        data,
        box.current,
      );
    } else plot.current.setData(data);
  });
  useEffect(() => () => plot.current?.destroy(), []);
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
