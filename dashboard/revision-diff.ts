// What changed between the stable and the candidate pod template, as the Canary page lists it:
// one line per JSON Patch operation (fast-json-patch's compare), each value shortened, the list
// bounded. ReplicaSet bookkeeping (pod-template-hash) is not a change anyone made.

import jsonPatch from 'fast-json-patch';

export interface TemplateChange {
  op: 'add' | 'remove' | 'replace';
  path: string;
  stable?: string;
  candidate?: string;
}

const MAX_CHANGES = 100;
const MAX_VALUE = 300;

const shown = (v: unknown): string | undefined => {
  if (v === undefined) return undefined;
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text;
};

/** The JSON Pointer's value in a document, or undefined. */
function valueAt(doc: unknown, pointer: string): unknown {
  let at: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

export function templateDiff(stable: unknown, candidate: unknown): TemplateChange[] {
  if (!stable || !candidate || typeof stable !== 'object' || typeof candidate !== 'object') return [];
  // In path order, so the list reads the same on every refresh.
  const ops = jsonPatch.compare(stable as object, candidate as object).sort((a, b) => a.path.localeCompare(b.path));
  const changes: TemplateChange[] = [];
  for (const op of ops) {
    if (op.op !== 'add' && op.op !== 'remove' && op.op !== 'replace') continue;
    if (op.path.endsWith('/pod-template-hash')) continue;
    changes.push({
      op: op.op,
      path: op.path,
      ...(op.op !== 'add' ? { stable: shown(valueAt(stable, op.path)) } : {}),
      ...(op.op !== 'remove' ? { candidate: shown((op as { value?: unknown }).value) } : {}),
    });
    if (changes.length >= MAX_CHANGES) break;
  }
  return changes;
}
