// One server-sent-events stream: the headers a proxy must not buffer behind, a heartbeat that
// keeps idle connections open through an ingress (and tells the page its stream is alive), and
// a ceiling on what may wait unsent for a slow reader before the stream is cut (the page
// reconnects and catches up from its last id).

import type { Response } from 'express';

export interface EventStreamOptions {
  heartbeatMs?: number;
  /** Bytes queued for a reader that does not read; past it the stream ends. */
  maxBuffered?: number;
}

export class EventStream {
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;
  private readonly closers: (() => void)[] = [];
  private readonly maxBuffered: number;

  constructor(
    private readonly res: Response,
    opts: EventStreamOptions = {},
  ) {
    this.maxBuffered = opts.maxBuffered ?? 8 * 1024 * 1024;
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    // nginx (and ingress-nginx) buffer responses unless told not to; a buffered stream is no stream.
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    // How long the browser waits before it reconnects by itself.
    res.write('retry: 1000\n\n');
    this.heartbeat = setInterval(() => this.comment('heartbeat'), opts.heartbeatMs ?? 15_000);
    // The response's close, not the request's: a request without a body may count as complete at once.
    res.on('close', () => this.close());
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closers.push(fn);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private write(text: string): void {
    if (this.closed) return;
    if (this.res.writableLength > this.maxBuffered) {
      this.res.destroy();
      this.close();
      return;
    }
    this.res.write(text);
  }

  send(event: string, data: unknown, id?: string): void {
    // JSON has no raw newlines, so the payload is one data line.
    this.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const fn of this.closers.splice(0)) fn();
    if (!this.res.writableEnded) this.res.end();
  }
}
