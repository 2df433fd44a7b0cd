// Flags: booleans in every form kubectl users write them, errors that name the flag, and --help
// that lists every flag of every program with its default.
import assert from 'node:assert/strict';
import { controllerProgram } from '../../controller/main.js';
import { FlagError, type FlagSpec, type Program, parseFlags, positiveSeconds, usage } from '../../lib/flags.js';
import { testerProgram } from '../../tester/main.js';
import { webhookProgram } from '../../webhook/main.js';

const program = {
  name: 'sluice demo',
  summary: 'a program for tests',
  options: {
    'leader-elect': { type: 'boolean', default: true, help: 'elect' },
    verbose: { type: 'boolean', help: 'talk' },
    port: { type: 'string', default: '8080', help: 'port' },
    name: { type: 'string', multiple: true, default: ['a'], help: 'names' },
  },
} as const satisfies Program<Record<string, FlagSpec>>;

describe('flags', () => {
  const cases: [string[], boolean][] = [
    [[], true],
    [['--leader-elect'], true],
    [['--leader-elect=true'], true],
    [['--leader-elect=TRUE'], true],
    [['--leader-elect=1'], true],
    [['--leader-elect=false'], false],
    [['--leader-elect=False'], false],
    [['--leader-elect=0'], false],
    [['--no-leader-elect'], false],
    [['--no-leader-elect', '--leader-elect'], true],
    [['--leader-elect', '--leader-elect=false'], false],
  ];
  for (const [argv, want] of cases) {
    it(`${argv.join(' ') || '(none)'} → leader-elect ${want}`, () => {
      assert.equal(parseFlags(program, argv)?.['leader-elect'], want);
    });
  }

  it('keeps string values, repeated values and defaults', () => {
    const v = parseFlags(program, ['--port=9000', '--name', 'x', '--name=y'])!;
    assert.equal(v.port, '9000');
    assert.deepEqual(v.name, ['x', 'y']);
    assert.equal(v.verbose, undefined);
    assert.deepEqual(parseFlags(program, [])!.name, ['a']);
  });

  for (const [argv, why] of [
    [['--leader-elect=maybe'], /--leader-elect takes true or false, got "maybe"/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--port'], /--port/],
    [['stray'], /unexpected argument "stray"/],
  ] as const) {
    it(`refuses ${argv.join(' ')} naming the flag`, () => {
      assert.throws(
        () => parseFlags(program, [...argv]),
        (err: unknown) => err instanceof FlagError && why.test(err.message),
      );
    });
  }

  it('answers --help and -h with no values', () => {
    assert.equal(parseFlags(program, ['--port=1', '--help']), undefined);
    assert.equal(parseFlags(program, ['-h']), undefined);
  });

  it('positiveSeconds refuses zero, negatives and words', () => {
    assert.equal(positiveSeconds('x', '1.5'), 1.5);
    for (const bad of ['0', '-1', 'ten', undefined]) assert.throws(() => positiveSeconds('x', bad), FlagError);
  });

  for (const p of [webhookProgram, controllerProgram, testerProgram]) {
    it(`${p.name} --help lists every flag, booleans in both forms, with defaults`, () => {
      const text = usage(p);
      for (const [name, spec] of Object.entries(p.options) as [string, FlagSpec][]) {
        const line = text.split('\n').find((l) => new RegExp(`^\\s*--${name}[=, ]`).test(l));
        assert.ok(line, `--${name} listed`);
        if (spec.type === 'boolean') assert.match(line, new RegExp(`--no-${name}`));
        if (typeof spec.default === 'string' && spec.default !== '') assert.ok(line.includes(`(default: ${spec.default})`), line);
      }
    });
  }

  it('the controller parses --leader-elect=false and --no-leader-elect alike', () => {
    assert.equal(parseFlags(controllerProgram, ['--leader-elect=false'])?.['leader-elect'], false);
    assert.equal(parseFlags(controllerProgram, ['--no-leader-elect'])?.['leader-elect'], false);
    assert.equal(parseFlags(controllerProgram, [])?.['leader-elect'], true);
  });
});
