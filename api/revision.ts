// The revision of a pod template: one function, used by the webhook and the controller alike,
// so both always agree whether a Deployment holds its stable template.
import crypto from 'node:crypto';

/** JSON with object keys sorted at every depth: equal templates always serialise equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Set on the pod template by the controller to roll primary pods onto new config snapshots. */
const CONFIG_REVISION = 'sluice.dev/config-revision';

/**
 * SHA-256 of the template's canonical JSON, hex, first 16 characters (64 bits). The controller's
 * config-revision annotation is left out: it restarts pods onto a released config, it is not a
 * change of the user's template.
 */
export function templateRevision(template: unknown): string {
  const t = template as { metadata?: { annotations?: Record<string, string> } } | undefined;
  let hashed = template ?? {};
  if (t?.metadata?.annotations?.[CONFIG_REVISION] !== undefined) {
    const { [CONFIG_REVISION]: _dropped, ...rest } = t.metadata.annotations;
    hashed = { ...t, metadata: { ...t.metadata, annotations: Object.keys(rest).length ? rest : undefined } };
  }
  return crypto.createHash('sha256').update(canonicalJson(hashed)).digest('hex').slice(0, 16);
}
