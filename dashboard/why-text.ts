// `kubectl sluice why` for a Canary's page: the same words the terminal prints (cli/commands.ts),
// read with the person's own client, collected instead of printed.

import type { Canary } from '../api/flagger-types.js';
import { type Context, why } from '../cli/commands.js';
import { PLAIN } from '../cli/screen.js';
import type { KubeClient } from '../lib/kube/client.js';

export async function whyText(client: KubeClient, canary: Canary): Promise<string> {
  let text = '';
  const ctx: Context = {
    client,
    namespace: canary.metadata.namespace!,
    allNamespaces: false,
    output: 'text',
    paint: PLAIN,
    out: (s) => void (text += s),
    tty: false,
  };
  const kind = (canary.spec.targetRef.kind ?? 'Deployment').toLowerCase();
  await why(ctx, `${kind}/${canary.spec.targetRef.name}`);
  return text.trimEnd();
}
