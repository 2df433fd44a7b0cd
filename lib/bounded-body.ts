// Reading an HTTP answer from a party sluice does not control (an analysis hook, Prometheus, an
// alert endpoint) with a ceiling on its size: a 300 MiB answer must not be held in memory whole.
// The deadline is the caller's (an AbortSignal on the fetch also bounds the body's reading).

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`answer larger than ${limit} bytes`);
  }
}

/**
 * The body as text, at most `limit` bytes. Past it: with `truncate`, the first `limit` bytes (the
 * rest is not read: the stream is cancelled); without, a BodyTooLargeError.
 */
export async function readBounded(res: Response, limit: number, truncate = false): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (!truncate && Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(limit);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.length > limit) {
        if (!truncate) throw new BodyTooLargeError(limit);
        chunks.push(value.subarray(0, limit - size));
        size = limit;
        break;
      }
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8');
}
