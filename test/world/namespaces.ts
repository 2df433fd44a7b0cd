// A namespace ready for workloads: created (after any earlier one of that name is fully gone,
// not merely terminating) and with its default ServiceAccount, without which pods are refused.
import { at, type KubeClient, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';

export async function readyNamespace(client: KubeClient, name: string, labels: Record<string, string> = {}): Promise<string> {
  if (await client.delete(at(R.namespaces, undefined, name))) {
    await waitFor(async () => !(await client.find(at(R.namespaces, undefined, name))), {
      timeoutMs: 120_000,
      what: `namespace ${name} to be gone`,
    });
  }
  await client.create(R.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  await waitFor(() => client.find(at(R.serviceaccounts, name, 'default')), {
    timeoutMs: 30_000,
    what: `ServiceAccount default in ${name}`,
  });
  return name;
}
