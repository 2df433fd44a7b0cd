// Command-line values shared by sluice's programs.

/** A flag that holds a positive number of seconds; a clear message and exit 2 otherwise. */
export function positiveSeconds(program: string, name: string, raw: string | undefined): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`${program}: --${name} must be a positive number of seconds, got ${String(raw)}`);
    process.exit(2);
  }
  return v;
}
