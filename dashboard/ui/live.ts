// A server-sent-events stream that stays open: the browser's EventSource reconnects by itself
// after a network error (sending the last id it saw), but gives up for good on an HTTP error
// (a dashboard restarting behind a proxy answers 502 for a moment). Then this opens a new one,
// later and later, and says so on the page meanwhile.

export type LiveState = 'connecting' | 'up' | 'down';

export interface LiveOptions {
  url: string;
  on: Record<string, (data: unknown, id: string) => void>;
  state: (s: LiveState, why?: string) => void;
}

export function live(opts: LiveOptions): () => void {
  let source: EventSource | undefined;
  let timer: number | undefined;
  let failures = 0;
  let stopped = false;
  let lastId = '';

  const open = () => {
    if (stopped) return;
    opts.state('connecting');
    // A new EventSource cannot be given a Last-Event-ID header; the query carries it instead.
    const url = lastId ? `${opts.url}${opts.url.includes('?') ? '&' : '?'}lastEventId=${encodeURIComponent(lastId)}` : opts.url;
    const s = new EventSource(url);
    source = s;
    s.onopen = () => {
      failures = 0;
      opts.state('up');
    };
    s.onerror = () => {
      if (s.readyState === EventSource.CLOSED) {
        opts.state('down', 'the dashboard did not answer; trying again');
        failures++;
        timer = window.setTimeout(open, Math.min(10_000, 500 * 2 ** Math.min(failures, 5)));
      } else opts.state('connecting');
    };
    for (const [event, handle] of Object.entries(opts.on)) {
      s.addEventListener(event, (e) => {
        const m = e as MessageEvent<string>;
        if (m.lastEventId) lastId = m.lastEventId;
        handle(JSON.parse(m.data), m.lastEventId);
      });
    }
  };
  open();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    source?.close();
  };
}
