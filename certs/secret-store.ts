// The webhook's TLS state lives in one Secret so that every replica serves the same certificate.
// Writes carry the resourceVersion they read: two replicas rotating at once cannot both win.

import { GROUP } from '../api/contract.js';
import { at, isAlreadyExists, isConflict, type KubeObject, type ObjectClient, R } from '../lib/kube/client.js';
import { caBundle, type TlsState } from './rotation-plan.js';

type Secret = KubeObject & { data?: Record<string, string>; type?: string };

const STAGED_AT = `${GROUP}/next-ca-staged-at`;
const RETIRED_AT = `${GROUP}/previous-ca-retired-at`;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

export function stateFromSecret(secret: Secret): TlsState | undefined {
  const d = secret.data ?? {};
  const get = (k: string) => unb64(d[k]);
  const [caCert, caKey, tlsCert, tlsKey] = [get('ca.crt'), get('ca.key'), get('tls.crt'), get('tls.key')];
  if (!caCert || !caKey || !tlsCert || !tlsKey) return undefined;
  const state: TlsState = { ca: { certPem: caCert, keyPem: caKey }, serving: { certPem: tlsCert, keyPem: tlsKey } };
  const [nextCert, nextKey] = [get('next-ca.crt'), get('next-ca.key')];
  if (nextCert && nextKey) {
    state.nextCa = { certPem: nextCert, keyPem: nextKey };
    state.nextCaStagedAt = secret.metadata.annotations?.[STAGED_AT];
  }
  const prev = get('previous-ca.crt');
  if (prev) {
    state.previousCaPem = prev;
    state.previousCaRetiredAt = secret.metadata.annotations?.[RETIRED_AT];
  }
  return state;
}

export function secretData(state: TlsState): { data: Record<string, string>; annotations: Record<string, string> } {
  const data: Record<string, string> = {
    'ca.crt': b64(state.ca.certPem),
    'ca.key': b64(state.ca.keyPem),
    'tls.crt': b64(state.serving.certPem),
    'tls.key': b64(state.serving.keyPem),
    'ca-bundle.crt': b64(caBundle(state)),
  };
  const annotations: Record<string, string> = {};
  if (state.nextCa) {
    data['next-ca.crt'] = b64(state.nextCa.certPem);
    data['next-ca.key'] = b64(state.nextCa.keyPem);
    if (state.nextCaStagedAt) annotations[STAGED_AT] = state.nextCaStagedAt;
  }
  if (state.previousCaPem) {
    data['previous-ca.crt'] = b64(state.previousCaPem);
    if (state.previousCaRetiredAt) annotations[RETIRED_AT] = state.previousCaRetiredAt;
  }
  return { data, annotations };
}

export interface StoredState {
  state: TlsState | undefined;
  resourceVersion: string | undefined;
  exists: boolean;
}

export class SecretStore {
  constructor(
    // Only reads and writes one object: any ObjectClient will do (the unit tests' in-memory one too).
    private readonly client: ObjectClient,
    readonly namespace: string,
    readonly name: string,
  ) {}

  async read(): Promise<StoredState> {
    const secret = await this.client.find<Secret>(at(R.secrets, this.namespace, this.name));
    if (!secret) return { state: undefined, resourceVersion: undefined, exists: false };
    return { state: stateFromSecret(secret), resourceVersion: secret.metadata.resourceVersion, exists: true };
  }

  /** Writes `state` if the Secret is still at `basedOn`; answers false when another writer won. */
  async write(state: TlsState, basedOn: StoredState): Promise<boolean> {
    const { data, annotations } = secretData(state);
    const body: Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        annotations,
        labels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/component': 'webhook-tls' },
      },
      data,
    };
    try {
      if (!basedOn.exists) await this.client.create(at(R.secrets, this.namespace), body);
      else
        await this.client.replace(at(R.secrets, this.namespace, this.name), {
          ...body,
          metadata: { ...body.metadata, resourceVersion: basedOn.resourceVersion },
        });
      return true;
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) return false;
      throw err;
    }
  }
}
