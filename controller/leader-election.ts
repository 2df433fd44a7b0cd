// Leader election on a coordination.k8s.io Lease, as client-go does it: the holder renews every
// `retryMs`; a candidate takes the Lease once it has seen no renewal for `leaseDurationMs` (by its
// own clock, so clock skew between replicas does not matter); a leader that cannot renew within
// `renewDeadlineMs` stops acting at once and becomes a candidate again. "At once" holds even when
// the apiserver hangs: an attempt is cut off at the renew deadline, and `isLeader` (asked before
// every write) turns false the moment the deadline passes, whatever an attempt is still doing —
// otherwise a hung renew could keep a leader acting after a standby took the expired Lease.
import { at, isAlreadyExists, isConflict, type KubeObject, type ObjectClient, R } from '../lib/kube/client.js';
import type { Logger } from '../lib/logger.js';
import { delay } from '../lib/wait.js';

type Lease = KubeObject & {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
};

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

const microTime = (d: Date) => d.toISOString().replace('Z', '000Z');

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  private stopped = false;
  private observed: { record: string; at: number } | undefined;

  constructor(
    private readonly client: ObjectClient,
    private readonly opts: LeaderElectionOptions,
    private readonly logger: Logger,
  ) {}

  get isLeader(): boolean {
    return this.leading && Date.now() - this.lastRenew <= this.renewDeadlineMs;
  }

  private get renewDeadlineMs(): number {
    return this.opts.renewDeadlineMs ?? 10_000;
  }

  private get durationMs(): number {
    return this.opts.leaseDurationMs ?? 15_000;
  }

  /** One attempt to acquire or renew; true when we hold the Lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const ref = at(R.leases, this.opts.namespace, this.opts.name);
    const now = new Date();
    const mine = (prev?: Lease['spec']) => ({
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.durationMs / 1000),
      acquireTime: prev?.holderIdentity === this.opts.identity && prev.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (prev?.holderIdentity === this.opts.identity ? 0 : prev ? 1 : 0),
    });
    const lease = await this.client.find<Lease>(ref);
    if (!lease) {
      try {
        await this.client.create(at(R.leases, this.opts.namespace), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: mine(),
        });
        return true;
      } catch (err) {
        if (isAlreadyExists(err)) return false;
        throw err;
      }
    }
    const record = JSON.stringify([lease.spec.holderIdentity, lease.spec.renewTime]);
    if (!this.observed || this.observed.record !== record) this.observed = { record, at: Date.now() };
    const heldByOther = lease.spec.holderIdentity && lease.spec.holderIdentity !== this.opts.identity;
    if (heldByOther && Date.now() - this.observed.at < this.durationMs) return false;
    try {
      await this.client.replace(ref, { ...lease, spec: { ...lease.spec, ...mine(lease.spec) } });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Runs until stop(): campaigns, leads, and campaigns again after losing the Lease. */
  async run(): Promise<void> {
    const retry = this.opts.retryMs ?? 2_000;
    const renewDeadline = this.renewDeadlineMs;
    while (!this.stopped) {
      let ok = false;
      // A leader's attempt may last until its renew deadline; a candidate's, one lease duration.
      const budget = this.leading ? Math.max(1, this.lastRenew + renewDeadline - Date.now()) : this.durationMs;
      let timer: NodeJS.Timeout | undefined;
      try {
        ok = await Promise.race([
          this.tryAcquireOrRenew(),
          new Promise<never>(
            (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer from the apiserver within ${budget} ms`)), budget)),
          ),
        ]);
      } catch (err) {
        this.logger.warn(`leader election: ${(err as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
      if (ok) {
        this.lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.logger.info(`became leader (${this.opts.identity})`, { lease: `${this.opts.namespace}/${this.opts.name}` });
          this.opts.onStartedLeading();
        }
      } else if (this.leading && Date.now() - this.lastRenew > renewDeadline) {
        this.leading = false;
        this.logger.warn(`lost leadership (${this.opts.identity}); stopped acting`);
        this.opts.onStoppedLeading();
      }
      await delay(retry);
    }
  }

  /** Stops campaigning and renewing without giving the Lease up (as a crash would). */
  stop(): void {
    this.stopped = true;
  }

  /** Gives the Lease up so a standby takes over at once rather than after it expires. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const ref = at(R.leases, this.opts.namespace, this.opts.name);
      const lease = await this.client.get<Lease>(ref);
      if (lease.spec.holderIdentity === this.opts.identity) {
        await this.client.replace(ref, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
      }
    } catch {
      /* best effort: the Lease expires anyway */
    }
  }
}
