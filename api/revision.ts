// What a revision is, in one place: the hash of a pod template (used by the webhook and the
// controller alike, so both always agree whether a Deployment holds its stable template), the
// `template+configs` form the controller analyses when the template reads tracked configs, and
// whether a revision is the released one.
import crypto from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.js';
import { annotations } from './contract.js';

const CONFIG_REVISION = annotations.configRevision;

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

/**
 * A revision as the controller analyses it: the template's hash and, when the template reads
 * tracked ConfigMaps or Secrets, their hash (docs/tracked-configs.md). Status fields record `id`;
 * the stable-revision annotation records `template` only, which is all the webhook can compute.
 */
export class Revision {
  constructor(
    readonly template: string,
    readonly configs?: string,
  ) {}

  /** The revision of a pod template, with the hash of the tracked configs it reads (if any). */
  static of(podTemplate: unknown, configs?: string): Revision {
    return new Revision(templateRevision(podTemplate), configs);
  }

  /** `template` or `template+configs`, as status fields record it. */
  static parse(id: string): Revision {
    const [template, configs] = id.split('+');
    return new Revision(template!, configs || undefined);
  }

  get id(): string {
    return this.configs ? `${this.template}+${this.configs}` : this.template;
  }

  toString(): string {
    return this.id;
  }

  /**
   * Whether this revision's template is the released one: `released` is the stable-revision
   * annotation or a status field (either form). Configs are not compared: the webhook cannot see
   * them, and a config change alone is rolled onto the primary by the controller, not by a
   * template change.
   */
  isReleased(released: string | undefined): boolean {
    return released !== undefined && templatePart(released) === this.template;
  }
}

/** The template part of a recorded revision (`template+configs` → `template`). */
export const templatePart = (revision: string | undefined) => revision?.split('+')[0];
