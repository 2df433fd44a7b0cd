// Analysis checks (a Canary's hooks of one type, or its metric queries) run beside the reconcile
// workers, never on them. A hook may take minutes to answer (or never answer, up to its timeout);
// awaited on a worker, four such Canaries would hold every worker and stop every other Canary's
// rollout. Here a pass that needs a check starts it and returns; when the check ends the Canary
// is queued again, and that pass finds the result waiting for it.
//
// A result belongs to the step it was asked for (the Canary's status and target revision when the
// pass started): a pass for another step never sees it, and a check still running for a step that
// has moved on is aborted. Once a decision is made the step's results are used up, so a gate that
// stays closed is asked again on the next pass, as before.
//
// Ceilings: one check in flight per Canary (a step asks for one kind at a time), at most
// `maxInFlight` in all and `maxPerNamespace` in one namespace, so one tenant's silent hooks cannot
// take every slot. A Canary that finds no slot waits its turn (requeued), with one log line.
// Fair between namespaces: a tenant with many namespaces can still fill every slot, so when all are
// taken, a namespace holding less than its share (the slots divided among the namespaces holding
// or asking for one) takes a slot from the namespace holding the most, if that one holds more
// than its share: its newest check is stopped, unrecorded, and that Canary asks again later.

import type { HookType } from '../api/canary-analysis.js';
import type { Logger } from '../lib/logger.js';

export type CheckKind = HookType | 'metrics';

export interface CheckLimits {
  maxInFlight: number;
  maxPerNamespace: number;
  /** A result older than this is not used (the world it described has moved on). */
  resultTtlMs: number;
}

export const DEFAULT_CHECK_LIMITS: CheckLimits = { maxInFlight: 200, maxPerNamespace: 20, resultTtlMs: 60_000 };

interface Running {
  kind: CheckKind;
  abort: AbortController;
  /** Start order: the newest is the one to stop. */
  seq: number;
  /** Its slot was given to another namespace: it counts no more, and its result is dropped. */
  preempted?: boolean;
}

interface Ledger {
  step: string;
  results: Map<CheckKind, { value: unknown; at: number }>;
  running?: Running;
  /** Set while the Canary waits for a free slot, so the wait is logged once. */
  waitingSince?: number;
}

export type StartOutcome = 'started' | 'running' | 'no-slot';

export class ChecksInFlight {
  private readonly ledgers = new Map<string, Ledger>();
  private readonly perNamespace = new Map<string, number>();
  private inFlight = 0;
  private started = 0;

  constructor(
    private readonly onDone: (key: string) => void,
    private readonly logger?: Logger,
    private readonly limits: CheckLimits = DEFAULT_CHECK_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks running now, in all. */
  get running(): number {
    return this.inFlight;
  }

  /**
   * The results earlier passes of this same step left. A different step drops what the Canary had
   * (and aborts a check it no longer needs).
   */
  known(key: string, step: string): ReadonlyMap<CheckKind, unknown> {
    let ledger = this.ledgers.get(key);
    if (ledger && ledger.step !== step) {
      ledger.running?.abort.abort();
      ledger = undefined;
    }
    if (!ledger) {
      ledger = { step, results: new Map() };
      this.ledgers.set(key, ledger);
    }
    const fresh = new Map<CheckKind, unknown>();
    for (const [kind, r] of ledger.results) {
      if (this.now() - r.at <= this.limits.resultTtlMs) fresh.set(kind, r.value);
      else ledger.results.delete(kind);
    }
    return fresh;
  }

  /** Starts `kind` for the step `known` was last asked about, unless it runs already or no slot is free. */
  start(key: string, kind: CheckKind, run: (signal: AbortSignal) => Promise<unknown>): StartOutcome {
    const ledger = this.ledgers.get(key);
    if (!ledger) throw new Error(`checks for ${key}: known() must be asked first`);
    // One at a time per Canary: a pass that asks again while it runs just waits for it.
    if (ledger.running) return 'running';
    const ns = key.slice(0, key.indexOf('/'));
    const inNamespace = this.perNamespace.get(ns) ?? 0;
    if (this.inFlight >= this.limits.maxInFlight && inNamespace < this.limits.maxPerNamespace) this.takeFairShare(ns);
    if (this.inFlight >= this.limits.maxInFlight || inNamespace >= this.limits.maxPerNamespace) {
      if (ledger.waitingSince === undefined) {
        ledger.waitingSince = this.now();
        const which =
          this.inFlight >= this.limits.maxInFlight
            ? `all ${this.limits.maxInFlight} check slots are taken`
            : `namespace ${ns} holds its ${this.limits.maxPerNamespace} check slots`;
        this.logger?.warn(`${kind} checks wait: ${which} (hooks answering slowly?)`, { key });
      }
      return 'no-slot';
    }
    ledger.waitingSince = undefined;
    const running: Running = { kind, abort: new AbortController(), seq: this.started++ };
    ledger.running = running;
    this.inFlight++;
    this.perNamespace.set(ns, inNamespace + 1);
    void (async () => {
      let value: unknown;
      let failed: unknown;
      try {
        value = await run(running.abort.signal);
      } catch (err) {
        failed = err;
      } finally {
        if (!running.preempted) this.release(ns);
      }
      // A check superseded (another step) or forgotten (Canary gone) answers to nobody.
      if (this.ledgers.get(key) !== ledger || ledger.running !== running) return;
      ledger.running = undefined;
      if (failed === undefined) ledger.results.set(kind, { value, at: this.now() });
      else this.logger?.warn(`${kind} check failed to run: ${(failed as Error).message}`, { key });
      this.onDone(key);
    })();
    return 'started';
  }

  private release(ns: string): void {
    this.inFlight--;
    const left = (this.perNamespace.get(ns) ?? 1) - 1;
    if (left > 0) this.perNamespace.set(ns, left);
    else this.perNamespace.delete(ns);
  }

  /** Every slot is taken and `ns` asks for one: a slot moves to it if it holds less than its share. */
  private takeFairShare(ns: string): void {
    const holders = new Set(this.perNamespace.keys()).add(ns);
    const share = Math.max(1, Math.floor(this.limits.maxInFlight / holders.size));
    if ((this.perNamespace.get(ns) ?? 0) >= share) return;
    let richest: string | undefined;
    for (const [n, held] of this.perNamespace) if (held > share && (!richest || held > this.perNamespace.get(richest)!)) richest = n;
    if (!richest) return;
    let victim: [string, Ledger, Running] | undefined;
    for (const [k, l] of this.ledgers) {
      const r = l.running;
      if (r && !r.preempted && k.startsWith(`${richest}/`) && (!victim || r.seq > victim[2].seq)) victim = [k, l, r];
    }
    if (!victim) return;
    const [key, ledger, running] = victim;
    running.preempted = true;
    ledger.running = undefined;
    running.abort.abort();
    this.release(richest);
    this.logger?.warn(
      `${running.kind} check stopped: namespace ${richest} held more than its share of check slots (${share}); it runs again when a slot is free`,
      {
        key,
      },
    );
    this.onDone(key);
  }

  /** The step's decision is made: its results are used up. */
  settle(key: string): void {
    const ledger = this.ledgers.get(key);
    if (ledger && !ledger.running) this.ledgers.delete(key);
  }

  /** The Canary is gone: whatever it was checking is dropped. */
  forget(key: string): void {
    this.ledgers.get(key)?.running?.abort.abort();
    this.ledgers.delete(key);
  }
}
