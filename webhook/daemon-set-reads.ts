// The reads the webhook makes on the apiserver: for the rare pod of a frozen DaemonSet created off
// its canary nodes (daemon-pod-decision.ts), the DaemonSet as last written and its
// ControllerRevisions; for a canary copy the controller writes (copy-decision.ts), its target
// Deployment as last written. Every other answer comes from memory. Revisions are immutable once written,
// so a DaemonSet's list is kept until a pod names a hash it lacks (a bounded number of them).
import { annotations as A } from '../api/contract.js';
import type { DaemonSetRevision } from '../api/daemonset.js';
import { DaemonSetRevisions } from '../api/daemonset-revisions.js';
import { at, isNotFound, type KubeList, type KubeObject, R, type RequestOptions, resourcePath } from '../lib/kube/client.js';
import type { PodTemplateLike } from './copy-decision.js';
import { type DaemonSetFacts, daemonSetFacts } from './daemon-pod-decision.js';

/** Well inside the webhook's 5 s: the apiserver waits on this answer. */
const READ_TIMEOUT_MS = 2000;
/** DaemonSets whose revisions are kept. */
const MAX_KEPT = 256;

export type Request = <T>(method: string, path: string, opts?: RequestOptions) => Promise<{ body: T }>;

export class DaemonSetReads {
  private readonly kept: DaemonSetRevisions;

  constructor(private readonly request: Request) {
    this.kept = new DaemonSetRevisions(
      async (namespace, selector) =>
        (
          await this.request<KubeList<KubeObject>>('GET', resourcePath(at(R.controllerrevisions, namespace)), {
            timeoutMs: READ_TIMEOUT_MS,
            query: selector ? { labelSelector: selector } : undefined,
          })
        ).body.items,
      MAX_KEPT,
    );
  }

  async fresh(namespace: string, name: string): Promise<DaemonSetFacts | undefined> {
    try {
      const ds = (
        await this.request<KubeObject & { spec?: { template?: unknown; selector?: { matchLabels?: Record<string, string> } } }>(
          'GET',
          resourcePath(at(R.daemonsets, namespace, name)),
          {
            timeoutMs: READ_TIMEOUT_MS,
          },
        )
      ).body;
      return daemonSetFacts(ds);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * A Deployment as last written, as a copy is checked against it: its pod template and selector,
   * and its stable-revision annotation (what a baseline must run); undefined when there is none.
   */
  async deployment(
    namespace: string,
    name: string,
  ): Promise<
    | {
        metadata: { annotations?: Record<string, string> };
        spec?: { template?: PodTemplateLike; selector?: { matchLabels?: Record<string, string> } };
      }
    | undefined
  > {
    try {
      const d = (
        await this.request<KubeObject & { spec?: { template?: PodTemplateLike; selector?: { matchLabels?: Record<string, string> } } }>(
          'GET',
          resourcePath(at(R.deployments, namespace, name)),
          {
            timeoutMs: READ_TIMEOUT_MS,
          },
        )
      ).body;
      const stable = d.metadata.annotations?.[A.stableRevision];
      return {
        metadata: stable !== undefined ? { annotations: { [A.stableRevision]: stable } } : {},
        spec: { template: d.spec?.template, ...(d.spec?.selector ? { selector: d.spec.selector } : {}) },
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async revisions(namespace: string, uid: string, need: string, selector: string): Promise<DaemonSetRevision[]> {
    return this.kept.of(namespace, uid, selector, (revs) => revs.some((r) => r.hash === need));
  }
}
