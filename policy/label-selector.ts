// Kubernetes label selector semantics (matchLabels AND matchExpressions), for selecting
// namespaces and Deployments from cached objects without asking the apiserver.
import type { LabelSelector } from '../api/policy-types.js';

/** An absent selector selects everything, as in the Kubernetes API; an empty one too. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (have[k] !== v) return false;
  for (const req of selector?.matchExpressions ?? []) {
    const present = Object.hasOwn(have, req.key);
    const inValues = present && (req.values ?? []).includes(have[req.key]!);
    switch (req.operator) {
      case 'In':
        if (!inValues) return false;
        break;
      case 'NotIn':
        if (inValues) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        // The CRD schema restricts operators; an unknown one selects nothing rather than everything.
        return false;
    }
  }
  return true;
}
