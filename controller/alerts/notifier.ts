// Alerts for a Canary's events, to the AlertProviders its analysis.alerts name. Runs beside the
// rollout and never holds it up: each provider has its own queue, a failed delivery is retried
// with backoff and then dropped with a log line naming the provider (never its address).
// A provider that answers slowly (each delivery costs up to its deadline and retries) cannot
// make alerts pile up in memory: past `maxQueued` waiting for it, or `maxQueuedInAll` in all,
// new alerts are dropped, counted, and said so once per backlog. One namespace's Canaries may have
// at most `maxQueuedPerNamespace` waiting, and when every slot in all is taken, a namespace that
// holds less than its share (the total divided among the namespaces waiting) still gets one: a
// tenant's slow providers, in however many namespaces, never silence another namespace's alerts.

import { annotations as A, sharesWith } from '../../api/contract.js';
import type { Canary } from '../../api/flagger-types.js';
import { backoffDelay } from '../../lib/backoff.js';
import { EgressDenied, egress } from '../../lib/egress-guard.js';
import { at, type KubeObject, type ObjectClient, R } from '../../lib/kube/client.js';
import type { ObjectCache } from '../../lib/kube/informer.js';
import type { Logger } from '../../lib/logger.js';
import { delay } from '../../lib/wait.js';
import type { CanaryEvent } from '../check-results.js';
import { deliver } from './deliver.js';
import { deliveryUrl, type ProviderSettings, payload, type Severity, severityOf, wants } from './payloads.js';

export type AlertProvider = KubeObject & { spec: ProviderSettings & { address?: string; proxy?: string; secretRef?: { name: string } } };

interface AlertRef {
  name?: string;
  severity?: Severity;
  providerRef?: { name: string; namespace?: string };
}

export interface NotifierOptions {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  /** Alerts one provider may have waiting. */
  maxQueued?: number;
  /** Alerts all providers together may have waiting. */
  maxQueuedInAll?: number;
  /** Alerts the Canaries of one namespace may have waiting. */
  maxQueuedPerNamespace?: number;
}

export const MAX_QUEUED_PER_PROVIDER = 100;
export const MAX_QUEUED_IN_ALL = 2000;
export const MAX_QUEUED_PER_NAMESPACE = 200;

export class Notifier {
  private readonly queues = new Map<string, { tail: Promise<void>; waiting: number; overflowing: boolean }>();
  private waitingInAll = 0;
  /** Alerts waiting per namespace of the Canaries that raised them. */
  private readonly perTenant = new Map<string, number>();
  /** Deliveries that succeeded, failed for good, and were never tried because a queue was full. */
  readonly counts = { sent: 0, dropped: 0, overflowed: 0 };

  constructor(
    private readonly client: ObjectClient,
    private readonly providers: ObjectCache<AlertProvider>,
    private readonly logger: Logger,
    private readonly opts: NotifierOptions = { timeoutMs: 10_000, retries: 3, backoffMs: 1000 },
  ) {}

  /** Queues the alerts `events` raise for `canary` (as it is after them); returns at once. */
  notify(canary: Canary, events: CanaryEvent[]): void {
    const refs = (canary.spec.analysis?.alerts ?? []) as AlertRef[];
    if (refs.length === 0) return;
    const muted = new Set((canary.spec.analysis?.webhooks ?? []).filter((h) => h.muteAlert).map((h) => h.name));
    for (const ev of events) {
      const severity = severityOf(ev);
      if (!severity || (ev.hook && muted.has(ev.hook))) continue;
      for (const ref of refs) {
        if (!ref.providerRef?.name || !wants(ref.severity, severity)) continue;
        const ns = ref.providerRef.namespace ?? canary.metadata.namespace!;
        this.enqueue(ns, ref.providerRef.name, canary.metadata.namespace ?? '', () =>
          this.send(ns, ref.providerRef!.name, canary, ev.message, severity),
        );
      }
    }
  }

  /** Resolves when every queued delivery has been sent or dropped. */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()].map((q) => q.tail));
  }

  /** Why an alert of `tenant`'s Canaries for this queue is dropped, or undefined when it may wait. */
  private full(q: { waiting: number }, tenant: string): string | undefined {
    const perProvider = this.opts.maxQueued ?? MAX_QUEUED_PER_PROVIDER;
    const inAll = this.opts.maxQueuedInAll ?? MAX_QUEUED_IN_ALL;
    const perNamespace = this.opts.maxQueuedPerNamespace ?? MAX_QUEUED_PER_NAMESPACE;
    const mine = this.perTenant.get(tenant) ?? 0;
    if (q.waiting >= perProvider) return `${q.waiting} alerts already wait for it`;
    if (mine >= perNamespace) return `${mine} alerts of namespace ${tenant} already wait`;
    const tenants = this.perTenant.has(tenant) ? this.perTenant.size : this.perTenant.size + 1;
    if (this.waitingInAll >= inAll && mine >= Math.floor(inAll / tenants))
      return `${this.waitingInAll} alerts already wait in all, ${mine} of them namespace ${tenant}'s`;
    return undefined;
  }

  private enqueue(ns: string, name: string, tenant: string, job: () => Promise<void>): void {
    const key = `${ns}/${name}`;
    const q = this.queues.get(key) ?? { tail: Promise.resolve(), waiting: 0, overflowing: false };
    const why = this.full(q, tenant);
    if (why) {
      this.counts.overflowed++;
      if (!q.overflowing) {
        q.overflowing = true;
        this.logger.warn(`AlertProvider ${name}.${ns}: alerts dropped: ${why} (is it answering slowly?)`);
      }
      return;
    }
    q.waiting++;
    this.waitingInAll++;
    this.perTenant.set(tenant, (this.perTenant.get(tenant) ?? 0) + 1);
    const run = q.tail.then(job).finally(() => {
      q.waiting--;
      this.waitingInAll--;
      const left = (this.perTenant.get(tenant) ?? 1) - 1;
      if (left > 0) this.perTenant.set(tenant, left);
      else this.perTenant.delete(tenant);
      if (q.waiting === 0) {
        q.overflowing = false;
        if (this.queues.get(key) === q) this.queues.delete(key);
      }
    });
    q.tail = run;
    this.queues.set(key, q);
  }

  private async send(ns: string, name: string, canary: Canary, message: string, severity: Severity): Promise<void> {
    const who = `AlertProvider ${name}.${ns} (for Canary ${canary.metadata.name}.${canary.metadata.namespace})`;
    let lastError = '';
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) await delay(backoffDelay(attempt - 1, this.opts.backoffMs));
      try {
        const provider = this.providers.get(ns, name);
        if (!provider) throw new Error('not found; create it or correct analysis.alerts[].providerRef');
        // Its Secret (address, token) is its namespace's to lend (api/contract.ts, sharedWith).
        if (provider.spec.secretRef?.name && !sharesWith(provider, canary.metadata.namespace ?? '')) {
          this.counts.dropped++;
          this.logger.warn(
            `${who}: not sent: it holds credentials (secretRef) and does not share them with namespace ${canary.metadata.namespace}; its owners may add the annotation ${A.sharedWith}`,
          );
          return;
        }
        const { address, proxy } = await this.addressOf(provider);
        const url = deliveryUrl(provider.spec, address);
        // The first hop is what the controller connects to. The message names no address: a
        // webhook URL is a credential.
        await egress.check(proxy ?? url).catch((err: unknown) => {
          throw err instanceof EgressDenied
            ? new Error(`its ${proxy ? 'proxy' : 'address'} is in a range the controller may not call (--deny-egress-cidr)`)
            : err;
        });
        await deliver({
          url,
          proxy,
          body: payload(provider.spec, { canary, message, severity, at: Date.now() }),
          timeoutMs: this.opts.timeoutMs,
        });
        this.counts.sent++;
        return;
      } catch (err) {
        lastError = (err as Error).message;
      }
    }
    this.counts.dropped++;
    this.logger.warn(`${who}: alert dropped after ${this.opts.retries + 1} attempts: ${lastError}`);
  }

  /** address and proxy from the provider, or from its Secret's `address` and `proxy` keys. */
  private async addressOf(p: AlertProvider): Promise<{ address: string; proxy?: string }> {
    let address = p.spec.address;
    let proxy = p.spec.proxy;
    if (p.spec.secretRef?.name) {
      const secret = await this.client.get<KubeObject & { data?: Record<string, string> }>(
        at(R.secrets, p.metadata.namespace, p.spec.secretRef.name),
      );
      const read = (k: string) => (secret.data?.[k] ? Buffer.from(secret.data[k]!, 'base64').toString('utf8').trim() : undefined);
      address = read('address') ?? address;
      proxy = read('proxy') ?? proxy;
    }
    if (!address)
      throw new Error(`has no address: set spec.address, or the key "address" in Secret ${p.spec.secretRef?.name ?? '(no secretRef)'}`);
    return { address, ...(proxy ? { proxy } : {}) };
  }
}
