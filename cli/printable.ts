// Text from the cluster shown on an operator's terminal: Event messages, condition reasons, an
// action's reason and user are written by whoever can create those objects. A terminal obeys the
// control sequences in them (move the cursor, rewrite the screen, set the window title, hide
// text), so every control character, and the Unicode controls that reorder or hide text, is shown
// as an escape instead of being sent.
// C0 and C1 controls, DEL, and the bidirectional and invisible formatting characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** `value` with every string in it made printable (objects and arrays copied). */
export function printableDeep<T>(value: T): T {
  if (typeof value === 'string') return printable(value) as T;
  if (Array.isArray(value)) return value.map((v) => printableDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, printableDeep(v)])) as T;
  }
  return value;
}
