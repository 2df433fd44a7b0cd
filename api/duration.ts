// Go-style durations, as Flagger's manifests write them: "1m", "30s", "1m30s", "500ms", "1h".
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string | undefined, fallbackMs: number): number {
  if (text === undefined || text === '') return fallbackMs;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || consumed === 0) throw new Error(`"${text}" is not a duration; write it like 30s, 1m or 1m30s`);
  return total;
}

/** Prometheus range selectors want whole units: 1m30s becomes 90s, 500ms stays 500ms. */
export function promDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${Math.round(ms)}ms`;
}
