// Command-line flags shared by sluice's programs: one table per program that both parses and
// documents (`--help`), so the help text can never drift from what is accepted.
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface FlagSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  default?: string | boolean | readonly string[];
  /** One line for --help; the default is appended to it. */
  help: string;
}

type Value<S extends FlagSpec> = S extends { type: 'boolean' }
  ? S extends { default: boolean }
    ? boolean
    : boolean | undefined
  : S extends { multiple: true }
    ? string[]
    : S extends { default: string }
      ? string
      : string | undefined;

export type FlagValues<O extends Record<string, FlagSpec>> = { -readonly [K in keyof O]: Value<O[K]> };

/** A flag the user got wrong: the program prints it with a pointer to --help and exits 2. */
export class FlagError extends Error {}

export interface Program<O extends Record<string, FlagSpec>> {
  /** e.g. "sluice webhook" */
  name: string;
  summary: string;
  options: O;
}

/** The --help text: every flag with its default. */
export function usage(program: Program<Record<string, FlagSpec>>): string {
  const rows = Object.entries(program.options).map(([name, spec]) => {
    const form = spec.type === 'boolean' ? `--${name}, --no-${name}` : `--${name}=${spec.multiple ? 'VALUE (repeatable)' : 'VALUE'}`;
    const d = spec.default;
    const dflt =
      d === undefined || (typeof d === 'object' && d.length === 0) ? '' : ` (default: ${typeof d === 'object' ? d.join(', ') : String(d)})`;
    return [form, `${spec.help}${dflt}`] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `usage: ${program.name} [flags]`,
    '',
    program.summary,
    '',
    'flags:',
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
    `  ${'--help'.padEnd(width)}print this text`,
  ].join('\n');
}

/**
 * Booleans accept `--flag`, `--flag=true|false` and `--no-flag` (kubectl's and Go's habit, which
 * manifests written for other controllers carry); parseArgs alone rejects `=false`.
 */
function normaliseBooleans(argv: string[], options: Record<string, FlagSpec>): string[] {
  return argv.map((arg) => {
    const m = /^--([^=]+)=(.*)$/.exec(arg);
    if (!m || options[m[1]!]?.type !== 'boolean') return arg;
    const v = m[2]!.toLowerCase();
    if (v === 'true' || v === '1') return `--${m[1]}`;
    if (v === 'false' || v === '0') return `--no-${m[1]}`;
    throw new FlagError(`--${m[1]} takes true or false, got "${m[2]}"`);
  });
}

/** Parses argv; throws FlagError on a wrong flag; answers undefined when --help was asked. */
export function parseFlags<O extends Record<string, FlagSpec>>(program: Program<O>, argv: string[]): FlagValues<O> | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return undefined;
  const options = Object.fromEntries(
    Object.entries(program.options).map(([k, s]) => [
      k,
      {
        type: s.type,
        ...(s.multiple ? { multiple: true } : {}),
        ...(s.default === undefined ? {} : { default: typeof s.default === 'object' ? [...s.default] : s.default }),
      },
    ]),
  ) as NonNullable<ParseArgsConfig['options']>;
  try {
    const { values, positionals } = parseArgs({
      args: normaliseBooleans(argv, program.options),
      options,
      strict: true,
      allowPositionals: true,
      allowNegative: true,
    });
    if (positionals.length > 0) throw new FlagError(`unexpected argument "${positionals[0]}"`);
    return values as FlagValues<O>;
  } catch (err) {
    if (err instanceof FlagError) throw err;
    throw new FlagError((err as Error).message);
  }
}

/** parseFlags for a program's entry point: --help prints every flag and exits 0. */
export function flagsOrHelp<O extends Record<string, FlagSpec>>(program: Program<O>, argv: string[]): FlagValues<O> {
  const values = parseFlags(program, argv);
  if (values) return values;
  console.log(usage(program));
  process.exit(0);
}

/** A count flag: a whole number of at least 1. */
export function positiveCount(name: string, raw: string | undefined): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new FlagError(`--${name} must be a whole number above 0, got ${String(raw)}`);
  return v;
}

/** A flag that holds a number of seconds, 0 allowed (to turn a wait off). */
export function nonNegativeSeconds(name: string, raw: string | undefined): number {
  const v = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(v) || v < 0)
    throw new FlagError(`--${name} must be a number of seconds, 0 or more, got ${String(raw)}`);
  return v;
}

/** A flag that holds a positive number of seconds. */
export function positiveSeconds(name: string, raw: string | undefined): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new FlagError(`--${name} must be a positive number of seconds, got ${String(raw)}`);
  return v;
}
