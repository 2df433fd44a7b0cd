// Alerts for a Canary's events, to the AlertProviders its analysis.alerts name. Runs beside the
// rollout and never holds it up: each provider has its own queue, a failed delivery is retried
// with backoff and then dropped with a log line naming the provider (never its address).
import { type Canary } from '../../api/flagger-types.js';
import { R, at, type KubeClient, type KubeObject } from '../../lib/kube/client.js';
import type { Informer } from '../../lib/kube/informer.js';
import type { Logger } from '../../lib/logger.js';
import type { CanaryEvent } from '../state-machine.js';
import { deliver } from './deliver.js';
import { deliveryUrl, payload, severityOf, wants, type ProviderSettings, type Severity } from './payloads.js';

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
}

export class Notifier {
  private readonly queues = new Map<string, Promise<void>>();
  /** Deliveries that succeeded and failed for good, for metrics and tests. */
  readonly counts = { sent: 0, dropped: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly providers: Informer<AlertProvider>,
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
        this.enqueue(`${ns}/${ref.providerRef.name}`, () => this.send(ns, ref.providerRef!.name, canary, ev.message, severity));
      }
    }
  }

  /** Resolves when every queued delivery has been sent or dropped. */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  private enqueue(key: string, job: () => Promise<void>): void {
    const run = (this.queues.get(key) ?? Promise.resolve()).then(job);
    this.queues.set(key, run);
    void run.finally(() => { if (this.queues.get(key) === run) this.queues.delete(key); });
  }

  private async send(ns: string, name: string, canary: Canary, message: string, severity: Severity): Promise<void> {
    const who = `AlertProvider ${name}.${ns} (for Canary ${canary.metadata.name}.${canary.metadata.namespace})`;
    let lastError = '';
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, this.opts.backoffMs * 2 ** (attempt - 1)));
      try {
        const provider = this.providers.get(ns, name);
        if (!provider) throw new Error('not found; create it or correct analysis.alerts[].providerRef');
        const { address, proxy } = await this.addressOf(provider);
        await deliver({ url: deliveryUrl(provider.spec, address), proxy, body: payload(provider.spec, { canary, message, severity, at: Date.now() }), timeoutMs: this.opts.timeoutMs });
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
      const secret = await this.client.get<KubeObject & { data?: Record<string, string> }>(at(R.secrets, p.metadata.namespace, p.spec.secretRef.name));
      const read = (k: string) => (secret.data?.[k] ? Buffer.from(secret.data[k]!, 'base64').toString('utf8').trim() : undefined);
      address = read('address') ?? address;
      proxy = read('proxy') ?? proxy;
    }
    if (!address) throw new Error(`has no address: set spec.address, or the key "address" in Secret ${p.spec.secretRef?.name ?? '(no secretRef)'}`);
    return { address, ...(proxy ? { proxy } : {}) };
  }
}
