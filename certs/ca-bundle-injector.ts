// Puts the CA bundle into every webhook entry of sluice's webhook configurations, so the
// apiserver trusts the certificate the webhook serves. A JSON patch per configuration, written
// only when a value differs.
import { ApiError, at, isConflict, type KubeClient, type KubeObject, R } from '../lib/kube/client.js';

type WebhookConfiguration = KubeObject & { webhooks?: { name: string; clientConfig?: { caBundle?: string } }[] };

export interface InjectionTarget {
  kind: 'mutating' | 'validating';
  name: string;
}

export async function injectCaBundle(client: KubeClient, targets: InjectionTarget[], bundlePem: string): Promise<string[]> {
  const encoded = Buffer.from(bundlePem).toString('base64');
  const changed: string[] = [];
  for (const t of targets) {
    const ref = t.kind === 'mutating' ? R.mutatingwebhooks : R.validatingwebhooks;
    const cfg = await client.find<WebhookConfiguration>(at(ref, undefined, t.name));
    if (!cfg) continue; // Not installed (yet): nothing to trust.
    const ops = (cfg.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig?.caBundle === encoded ? [] : [{ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: encoded }],
    );
    if (ops.length === 0) continue;
    try {
      // The test op pins the resourceVersion: a concurrent edit makes this patch fail and retry.
      await client.patch(
        at(ref, undefined, t.name),
        [{ op: 'test', path: '/metadata/resourceVersion', value: cfg.metadata.resourceVersion }, ...ops],
        'json',
      );
      changed.push(`${t.kind}/${t.name}`);
    } catch (err) {
      if ((err instanceof ApiError && err.status === 422) || isConflict(err))
        throw new Error(`${t.kind} webhook configuration ${t.name} changed while injecting its caBundle; will retry`);
      throw err;
    }
  }
  return changed;
}
