// A /metrics answer built from parts, each rendered no more often than it changes. Prometheus (or
// the world's, every second) asks far more often than most series move: at 1,000 Canaries the
// controller's exposition is about 240 KB of text (238 KB measured), and rendering, measuring and
// writing them at every scrape was most of its idle CPU (issue 31, bench/RESULTS.md). A part is
// kept as bytes and as a gzip member; gzip members can be concatenated into one body (RFC 1952),
// so a scrape that accepts gzip gets the kept members of the rare parts and only the live part
// compressed afresh.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, gzipSync } from 'node:zlib';

export interface Rendered {
  raw: Buffer;
  /** Compressed when first asked for (a scraper that takes no gzip never asks), then kept. */
  readonly gzip: Buffer;
}

export function rendered(text: string): Rendered {
  const raw = Buffer.from(text, 'utf8');
  let gzip: Buffer | undefined;
  return {
    raw,
    get gzip() {
      // The fastest level: a scrape's text compresses about tenfold even so.
      gzip ??= gzipSync(raw, { level: constants.Z_BEST_SPEED });
      return gzip;
    },
  };
}

/**
 * A part rendered again only when its version moved or it is older than `maxAgeMs`: the Flagger
 * series when a Canary changed, the process's own series (CPU, memory, event loop) every few
 * seconds.
 */
export class KeptPart {
  private kept: { version: number; at: number; part: Rendered } | undefined;

  constructor(
    private readonly render: () => Promise<string>,
    private readonly opts: { version?: () => number; maxAgeMs?: number; now?: () => number } = {},
  ) {}

  async get(): Promise<Rendered> {
    const now = this.opts.now?.() ?? Date.now();
    const version = this.opts.version?.() ?? 0;
    const k = this.kept;
    if (k && k.version === version && (this.opts.maxAgeMs === undefined || now - k.at < this.opts.maxAgeMs)) return k.part;
    const part = rendered(await this.render());
    // Kept under the version read before rendering: a change meanwhile renders again next time.
    this.kept = { version, at: now, part };
    return part;
  }
}

/** Sends the parts as one exposition, gzipped when the scraper accepts it. */
export function sendExposition(req: IncomingMessage, res: ServerResponse, contentType: string, parts: Rendered[]): void {
  const gzip = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
  const bodies = parts.map((p) => (gzip ? p.gzip : p.raw));
  res.setHeader('content-type', contentType);
  if (gzip) res.setHeader('content-encoding', 'gzip');
  res.setHeader(
    'content-length',
    bodies.reduce((n, b) => n + b.length, 0),
  );
  for (const b of bodies) res.write(b);
  res.end();
}
