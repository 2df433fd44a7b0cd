// Tracked configs (docs/tracked-configs.md): the ConfigMaps and Secrets a pod template reads, their
// content fingerprints, the immutable snapshots sluice pins pods to, and rewriting a pod spec's
// references to those snapshots. Pure, shared by the controller (canary copy, revisions) and the
// webhook (primary pods). Only names and hashes leave this module, never content.
import crypto from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.js';

export type ConfigKind = 'ConfigMap' | 'Secret';
export interface ConfigRef {
  kind: ConfigKind;
  name: string;
}

/** `ConfigMap/app-config`: how a reference is keyed in maps and annotations. */
export const refKey = (r: ConfigRef) => `${r.kind}/${r.name}`;

export const TRACKING_ANNOTATION = 'flagger.app/config-tracking';

type Json = Record<string, unknown>;
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);

/**
 * Every place a pod spec names a ConfigMap or Secret: volumes (configMap, secret, projected
 * sources) and, in containers and init containers, env valueFrom and envFrom. `visit` may return
 * a new name; the spec is rewritten in place on a copy.
 */
function walk(podSpec: Json, visit: (ref: ConfigRef) => string | undefined): Json {
  const spec = structuredClone(podSpec);
  const rename = (holder: Json | undefined, field: string, kind: ConfigKind) => {
    const name = holder?.[field];
    if (typeof name !== 'string' || !name) return;
    const next = visit({ kind, name });
    if (next !== undefined) holder![field] = next;
  };
  for (const v of arr(spec.volumes)) {
    rename(obj(v.configMap), 'name', 'ConfigMap');
    rename(obj(v.secret), 'secretName', 'Secret');
    for (const src of arr(obj(v.projected)?.sources)) {
      rename(obj(src.configMap), 'name', 'ConfigMap');
      rename(obj(src.secret), 'name', 'Secret');
    }
  }
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    for (const e of arr(c.env)) {
      const from = obj(e.valueFrom);
      rename(obj(from?.configMapKeyRef), 'name', 'ConfigMap');
      rename(obj(from?.secretKeyRef), 'name', 'Secret');
    }
    for (const e of arr(c.envFrom)) {
      rename(obj(e.configMapRef), 'name', 'ConfigMap');
      rename(obj(e.secretRef), 'name', 'Secret');
    }
  }
  return spec;
}

/** The distinct ConfigMaps and Secrets a pod spec reads, sorted. */
export function configRefs(podSpec: unknown): ConfigRef[] {
  const seen = new Map<string, ConfigRef>();
  walk(obj(podSpec) ?? {}, (r) => void seen.set(refKey(r), r));
  return [...seen.values()].sort((a, b) => refKey(a).localeCompare(refKey(b)));
}

/** The pod spec with each reference in `to` (refKey → name) renamed. */
export function rewriteRefs(podSpec: unknown, to: Record<string, string>): Json {
  return walk(obj(podSpec) ?? {}, (r) => to[refKey(r)]);
}

const SNAPSHOT = /^(.*)-sluice-[0-9a-f]{10}$/;

/**
 * The pod spec with every reference in the form of a snapshot name read as the name it was made
 * from, and every other cut to the length a snapshot name keeps of it: a canary copy's spec,
 * which reads snapshots of its target's configs, then equals its target's.
 */
export function withoutSnapshots(podSpec: unknown): Json {
  return walk(obj(podSpec) ?? {}, (r) => SNAPSHOT.exec(r.name)?.[1] ?? r.name.slice(0, 230));
}

/** Hash of a ConfigMap's or Secret's content (data and binaryData): 16 hex characters. */
export function fingerprint(o: { data?: unknown; binaryData?: unknown }): string {
  return crypto
    .createHash('sha256')
    .update(canonicalJson({ data: o.data ?? {}, binaryData: o.binaryData ?? {} }))
    .digest('hex')
    .slice(0, 16);
}

/** The snapshot of `name` at `fp`: a new name for new content, so a snapshot never changes. */
export const snapshotName = (name: string, fp: string) => `${name.slice(0, 230)}-sluice-${fp.slice(0, 10)}`;

/** One hash for a set of fingerprints (refKey → fp); undefined for none, so untracked revisions stay as they were. */
export function configHash(fps: Record<string, string>): string | undefined {
  const keys = Object.keys(fps);
  if (keys.length === 0) return undefined;
  return crypto.createHash('sha256').update(canonicalJson(fps)).digest('hex').slice(0, 16);
}
