// A DaemonSet's revisions as its ControllerRevisions record them, kept in memory: a revision never
// changes once written, so a DaemonSet's list is read again only when an answer needs a revision
// it lacks (a new template, a pod naming a new hash). Both the webhook (a frozen DaemonSet's pods)
// and the controller (the hashes its Services select) read them through this.
import type { KubeObject } from '../lib/kube/client.js';
import { type ControllerRevision, type DaemonSetRevision, daemonSetRevision } from './daemonset.js';

/** ControllerRevisions of a namespace matching a label selector (`k=v,…`), read from the apiserver. */
export type RevisionLister = (namespace: string, labelSelector: string) => Promise<KubeObject[]>;

export class DaemonSetRevisions {
  private readonly kept = new Map<string, DaemonSetRevision[]>();

  /** `max`: DaemonSets whose revisions are kept; the longest unread is dropped first. */
  constructor(
    private readonly list: RevisionLister,
    private readonly max: number,
  ) {}

  /**
   * The revisions of the DaemonSet with `uid` (its ControllerRevisions are found by its
   * `selector`), read again when the kept ones do not satisfy `enough`.
   */
  async of(namespace: string, uid: string, selector: string, enough: (revs: DaemonSetRevision[]) => boolean): Promise<DaemonSetRevision[]> {
    const kept = this.kept.get(uid);
    if (kept && enough(kept)) return kept;
    const revisions = (await this.list(namespace, selector)).flatMap((cr) => daemonSetRevision(cr as ControllerRevision, uid) ?? []);
    this.kept.delete(uid);
    this.kept.set(uid, revisions);
    if (this.kept.size > this.max) this.kept.delete(this.kept.keys().next().value!);
    return revisions;
  }
}
