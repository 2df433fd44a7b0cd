// Instant queries against Prometheus's HTTP API, with a deadline. Every failure mode comes back
// as a distinct, readable error, because each one means something different to the person
// reading a Canary's events: the server is unreachable, the query is wrong, or there is no data.
import { BodyTooLargeError, readBounded } from '../../lib/bounded-body.js';
import { EgressDenied, egress, guardedFetch } from '../../lib/egress-guard.js';

export class PrometheusError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'timeout' | 'bad-query' | 'bad-response' | 'no-data' | 'not-a-number',
    message: string,
  ) {
    super(message);
  }
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

interface ApiResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

/** A check reads one value; an answer past this is a runaway query, not data to hold in memory. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export class PrometheusClient {
  /** The address as it may be shown (Events, alerts, logs): without credentials. */
  readonly address: string;
  private readonly base: URL;
  private readonly headers: Record<string, string>;

  /**
   * `address` may carry credentials (`https://user:pass@host/prefix`): they are sent as a Basic
   * Authorization header and never appear in a message.
   */
  constructor(
    address: string,
    private readonly timeoutMs = 5000,
    headers: Record<string, string> = {},
    /** Every address a query is sent to, redirects included, is checked against it. */
    private readonly send: typeof fetch = guardedFetch(fetch, egress),
  ) {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw new PrometheusError('unreachable', `Prometheus address "${redact(address)}" is not a URL`);
    }
    this.headers = { ...headers };
    if (url.username || url.password) {
      this.headers.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    // The API path goes below the address's own path (a Prometheus served under /prometheus/).
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    this.base = url;
    this.address = url.toString().replace(/\/$/, '');
  }

  /** One call of Prometheus's HTTP API: its `data`, or a PrometheusError saying what went wrong. */
  private async api(path: string, form: URLSearchParams): Promise<ApiResponse['data']> {
    const url = new URL(path, this.base);
    let res: Response;
    try {
      res = await this.send(url, {
        method: 'POST',
        body: form,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.headers },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      if (err instanceof EgressDenied)
        throw new PrometheusError('unreachable', `Prometheus at ${this.address} may not be called: ${e.message}`);
      if (e.name === 'TimeoutError')
        throw new PrometheusError('timeout', `Prometheus at ${this.address} did not answer within ${this.timeoutMs} ms`);
      throw new PrometheusError('unreachable', `Prometheus at ${this.address} is unreachable (${e.cause?.code ?? e.message})`);
    }
    let body: ApiResponse;
    try {
      body = JSON.parse(await readBounded(res, MAX_ANSWER_BYTES)) as ApiResponse;
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        throw new PrometheusError(
          'bad-response',
          `Prometheus at ${this.address} answered more than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB; a check needs one value: aggregate the query (sum(), max())`,
        );
      const e = err as Error;
      if (e.name === 'TimeoutError')
        throw new PrometheusError('timeout', `Prometheus at ${this.address} did not finish answering within ${this.timeoutMs} ms`);
      throw new PrometheusError(
        'bad-response',
        `Prometheus at ${this.address} answered HTTP ${res.status} with a body that is not its API's JSON`,
      );
    }
    if (body.status !== 'success') {
      const kind = body.errorType === 'bad_data' ? 'bad-query' : 'bad-response';
      throw new PrometheusError(
        kind,
        `Prometheus rejected the query (${body.errorType ?? res.status}): ${body.error ?? 'no reason given'}`,
      );
    }
    return body.data;
  }

  /** Every series of an instant query (vector or scalar). */
  async query(promql: string, at?: Date): Promise<Sample[]> {
    const form = new URLSearchParams({ query: promql });
    if (at) form.set('time', String(at.getTime() / 1000));
    const data = await this.api('api/v1/query', form);
    if (data?.resultType === 'scalar') {
      const [, v] = data.result as [number, string];
      return [{ labels: {}, value: Number(v) }];
    }
    if (data?.resultType !== 'vector')
      throw new PrometheusError(
        'bad-response',
        `expected an instant vector or scalar, got ${data?.resultType ?? 'nothing'}; wrap the query in sum() or similar`,
      );
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({
      labels: r.metric,
      value: Number(r.value[1]),
    }));
  }

  /**
   * The values of a range query from `start` to `end` every `stepSeconds`: one series (a query
   * that returns several must be aggregated), its points in time order; no series is no samples.
   */
  async range(promql: string, start: Date, end: Date, stepSeconds: number): Promise<number[]> {
    const form = new URLSearchParams({
      query: promql,
      start: String(start.getTime() / 1000),
      end: String(end.getTime() / 1000),
      step: String(stepSeconds),
    });
    const data = await this.api('api/v1/query_range', form);
    if (data?.resultType !== 'matrix')
      throw new PrometheusError('bad-response', `expected a range query's matrix, got ${data?.resultType ?? 'nothing'}`);
    const series = data.result as { values?: [number, string][] }[];
    if (series.length > 1)
      throw new PrometheusError(
        'bad-query',
        `the query returned ${series.length} series; a judge compares one: aggregate it (sum(), histogram_quantile() over sum by (le))`,
      );
    return (series[0]?.values ?? []).map(([, v]) => Number(v));
  }

  /** The single value of a query; no series and NaN are errors of their own. */
  async value(promql: string, at?: Date): Promise<number> {
    const samples = await this.query(promql, at);
    if (samples.length === 0)
      throw new PrometheusError(
        'no-data',
        'the query returned no data (no series matched: is traffic reaching the canary, and are the labels right?)',
      );
    const v = samples[0]!.value;
    if (Number.isNaN(v)) throw new PrometheusError('not-a-number', 'the query returned NaN (typically 0/0: no requests in the interval)');
    return v;
  }
}

/** `address` without any user:password it carries, for messages about an address that is not a URL. */
export function redact(address: string): string {
  return address.replace(/\/\/[^/@\s]*@/, '//');
}
