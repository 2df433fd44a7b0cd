// Where the webhook's serving certificate comes from. Two sources:
//  - SecretCertificates: sluice generates, stores, rotates and injects its own (the default);
//  - FileCertificates: files another tool manages (cert-manager), used as they are and reloaded
//    when they change; no generation and no caBundle injection.
import fs from 'node:fs';
import tls from 'node:tls';
import type { KubeClient } from '../lib/kube/client.js';
import type { Logger } from '../lib/logger.js';
import type { KeyAndCert } from './authority.js';
import { type InjectionTarget, injectCaBundle } from './ca-bundle-injector.js';
import { caBundle, nextStep, planRotation, type RotationPolicy } from './rotation-plan.js';
import type { SecretStore } from './secret-store.js';

export interface CertificateSource {
  current(): KeyAndCert | undefined;
  onChange(listener: (pair: KeyAndCert) => void): void;
  start(): Promise<void>;
  stop(): void;
}

abstract class ListenableSource {
  protected served: KeyAndCert | undefined;
  private readonly listeners: ((pair: KeyAndCert) => void)[] = [];
  current(): KeyAndCert | undefined {
    return this.served;
  }
  onChange(listener: (pair: KeyAndCert) => void): void {
    this.listeners.push(listener);
  }
  protected serve(pair: KeyAndCert): boolean {
    if (this.served && this.served.certPem === pair.certPem && this.served.keyPem === pair.keyPem) return false;
    this.served = pair;
    for (const l of this.listeners) l(pair);
    return true;
  }
}

export class SecretCertificates extends ListenableSource implements CertificateSource {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly store: SecretStore,
    private readonly policy: RotationPolicy,
    private readonly targets: InjectionTarget[],
    private readonly logger: Logger,
    private readonly checkIntervalMs: number,
  ) {
    super();
  }

  /** One pass: read, take at most one rotation step, inject the bundle, serve the result. */
  async reconcile(now = new Date()): Promise<void> {
    let stored = await this.store.read();
    // node-forge is loaded only when a certificate must be issued (certificate-facts.ts).
    const plan = nextStep(stored.state, this.policy, now)
      ? planRotation(stored.state, this.policy, now, await import('./authority.js'))
      : undefined;
    if (plan) {
      if (await this.store.write(plan.state, stored)) {
        this.logger.info(`webhook certificate ${plan.step}`, { key: `${this.store.namespace}/${this.store.name}`, step: plan.step });
      }
      // Whoever won, serve what is stored now.
      stored = await this.store.read();
    }
    const state = stored.state;
    if (!state)
      throw new Error(
        `Secret ${this.store.namespace}/${this.store.name} holds no usable certificate; delete it and sluice will generate a new one`,
      );
    const changed = await injectCaBundle(this.client, this.targets, caBundle(state));
    if (changed.length > 0) this.logger.info('caBundle injected', { into: changed });
    if (this.serve(state.serving)) this.logger.info('serving certificate loaded', { key: `${this.store.namespace}/${this.store.name}` });
  }

  async start(): Promise<void> {
    const loop = async () => {
      try {
        await this.reconcile();
      } catch (err) {
        this.logger.warn(`certificate check failed: ${(err as Error).message}`);
      }
    };
    await loop();
    // Re-armed after each pass, so a slow apiserver never stacks passes on top of each other.
    const tick = () => {
      this.timer = setTimeout(() => void loop().then(() => !this.stopped && tick()), this.checkIntervalMs);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

export class FileCertificates extends ListenableSource implements CertificateSource {
  private timer: NodeJS.Timeout | undefined;
  /** Reads of the files so far. */
  checks = 0;

  constructor(
    private readonly certFile: string,
    private readonly keyFile: string,
    private readonly logger: Logger,
    private readonly pollMs = 5000,
  ) {
    super();
  }

  private load(): void {
    this.checks++;
    try {
      const pair = { certPem: fs.readFileSync(this.certFile, 'utf8'), keyPem: fs.readFileSync(this.keyFile, 'utf8') };
      // Mid-rotation the two files may not belong together yet: such a pair is not served.
      tls.createSecureContext({ cert: pair.certPem, key: pair.keyPem });
      if (this.serve(pair)) this.logger.info('serving certificate loaded from files', { cert: this.certFile });
    } catch (err) {
      this.logger.warn(
        `cannot read the serving certificate ${this.certFile} / ${this.keyFile}: ${(err as Error).message}; still serving the previous one`,
      );
    }
  }

  async start(): Promise<void> {
    this.load();
    // Polling, not fs.watch: Secret volumes are swapped through symlinks that watchers miss.
    this.timer = setInterval(() => this.load(), this.pollMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
