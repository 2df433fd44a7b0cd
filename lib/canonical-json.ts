// One serialisation for comparing and hashing JSON values: keys sorted at every depth, so equal
// values always serialise equally, whatever order a producer (or the apiserver) wrote them in.
// Iterative, with its own stack: a value nested thousands deep (a hostile review's template) is
// serialised like any other instead of overflowing the call stack. The output is the same, byte
// for byte, as the recursive form it replaced: revisions recorded in clusters stay valid.

type Work = { value: unknown } | string;

const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

/** JSON with object keys sorted at every depth: equal values always serialise equally. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  const stack: Work[] = [{ value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const v = item.value;
    if (v === null || typeof v !== 'object') {
      out.push(JSON.stringify(v) ?? 'null');
      continue;
    }
    // Pushed in reverse, so they come off the stack in order.
    if (Array.isArray(v)) {
      stack.push(']');
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i] === undefined ? null : v[i] });
        if (i > 0) stack.push(',');
      }
      stack.push('[');
      continue;
    }
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(byKey);
    stack.push('}');
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, x] = entries[i]!;
      stack.push({ value: x });
      stack.push(`${JSON.stringify(k)}:`);
      if (i > 0) stack.push(',');
    }
    stack.push('{');
  }
  return out.join('');
}
