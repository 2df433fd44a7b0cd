// A per-key work queue in the shape of client-go's: a key is queued at most once, never
// processed by two workers at once, re-run if it changed while being processed, delayed by
// requeue-after timers, and retried with per-key exponential backoff when its handler fails.
import { performance } from 'node:perf_hooks';
import { backoffDelay } from '../lib/backoff.js';

/** Node fires a timer longer than 2^31-1 ms at once (with a TimeoutOverflowWarning): longer waits are armed in parts. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export type Handler = (key: string) => Promise<{ requeueAfterMs?: number } | void>;

export interface QueueOptions {
  concurrency?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** A key taken by a worker, and how long it waited in the queue since it was added. */
  onStart?: (key: string, waitedMs: number) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Each queued key and when it was added (for how long it waited). */
  private readonly queued = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private running = 0;
  private stopped = true;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: Handler,
    private readonly opts: QueueOptions = {},
  ) {}

  add(key: string): void {
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.set(key, performance.now());
    this.queue.push(key);
    this.pump();
  }

  /** Adds `key` after `ms`; an earlier pending timer for the key wins. */
  addAfter(key: string, ms: number): void {
    // NaN (a duration nobody could parse) waits as long as the longest timer, never zero.
    const wait = Number.isNaN(ms) ? MAX_TIMER_MS : ms;
    if (wait <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + wait;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    this.arm(key, at);
  }

  /** A timer for `at`, re-armed until it is due: never earlier than asked, whatever the wait. */
  private arm(key: string, at: number): void {
    const left = at - Date.now();
    if (left <= 0) {
      this.timers.delete(key);
      this.add(key);
      return;
    }
    const timer = setTimeout(() => this.arm(key, at), Math.min(left, MAX_TIMER_MS));
    // A pending wake-up alone keeps no process alive (the controller's servers and watches do).
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  start(): void {
    this.stopped = false;
    this.pump();
  }

  /** Stops taking work; resolves when in-flight handlers finish. Queued keys stay for a later start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.running === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  get length(): number {
    return this.queue.length;
  }

  private pump(): void {
    const concurrency = this.opts.concurrency ?? 4;
    while (!this.stopped && this.running < concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      const addedAt = this.queued.get(key)!;
      this.queued.delete(key);
      this.opts.onStart?.(key, performance.now() - addedAt);
      this.processing.add(key);
      this.running++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = backoffDelay(n - 1, this.opts.baseBackoffMs ?? 200, this.opts.maxBackoffMs ?? 30_000);
      this.opts.onError?.(key, err, delay);
      this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      if (this.running === 0 && this.stopped) for (const w of this.idleWaiters.splice(0)) w();
      this.pump();
    }
  }
}
