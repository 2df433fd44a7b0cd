// The phase table as the state machine's contract: random situations in every phase never make
// decide() leave the table, every transition the table lists is one decide() really makes, and
// docs/controller.md shows the table as it is.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { HookType } from '../../api/canary-analysis.js';
import { annotations } from '../../api/contract.js';
import type { CanaryWebhook } from '../../api/flagger-types.js';
import { allowed, type KnownPhase, PHASES, TRANSITIONS } from '../../api/phases.js';
import { revisionOf } from '../../api/workload.js';
import type { HookResults, MetricResult } from '../../controller/check-results.js';
import { decide } from '../../controller/state-machine.js';
import { CONTROLLER_DOC, withTables } from '../tools/phase-table.js';
import { root } from '../world/layout.js';
import { copyOf, deployment, rev, seedCanary } from './controller-fixtures.js';

const NOW = new Date('2026-01-01T00:00:00Z');
const IMAGES = ['podinfo:6.0.0', 'podinfo:6.0.1', 'podinfo:6.0.2'] as const;
const GATED: HookType[] = ['confirm-rollout', 'pre-rollout', 'rollout', 'confirm-traffic-increase', 'confirm-promotion', 'rollback'];

const situation = fc.record({
  phase: fc.constantFrom(...(Object.keys(PHASES) as KnownPhase[])),
  // Which image the target runs: the stable one, the one under analysis (mostly), or another.
  image: fc.constantFrom('stable', 'applied', 'applied', 'applied', 'other'),
  applied: fc.constantFrom(1, 2),
  stableAnnotation: fc.boolean(),
  paused: fc.boolean(),
  rolledOut: fc.boolean(),
  copy: fc.option(
    fc.record({
      image: fc.constantFrom('stable', 'applied', 'applied', 'applied', 'other'),
      replicas: fc.constantFrom(0, 2, 2),
      ready: fc.boolean(),
    }),
    {
      nil: undefined,
    },
  ),
  weight: fc.constantFrom(0, 10, 50, 100),
  iterations: fc.constantFrom(0, 1, 3),
  failedChecks: fc.constantFrom(0, 1, 4),
  sinceMs: fc.constantFrom(0, 30_000, 70_000, 10_000_000),
  strategy: fc.constantFrom('canary', 'ab', 'bluegreen'),
  skipAnalysis: fc.boolean(),
  stepWeightPromotion: fc.constantFrom(undefined, 30),
  hooks: fc.subarray(GATED),
  // A hook not asked yet (absent) makes decide() ask for it; mostly they have answered.
  hookAnswers: fc.dictionary(fc.constantFrom(...GATED), fc.constantFrom('ok', 'fail'), { minKeys: 4 }),
  metrics: fc.constantFrom('none', 'pass', 'pass', 'fail'),
});

type Situation = typeof situation extends fc.Arbitrary<infer T> ? T : never;

function run(x: Situation) {
  const image = (which: 'stable' | 'applied' | 'other') =>
    IMAGES[which === 'stable' ? 0 : which === 'applied' ? x.applied : 3 - x.applied]!;
  const webhooks: CanaryWebhook[] = x.hooks.map((type: HookType) => ({ name: type, type, url: `http://hooks.test/${type}` }));
  const canary = seedCanary({
    spec: { skipAnalysis: x.skipAnalysis },
    analysis: {
      interval: '1m',
      webhooks,
      stepWeightPromotion: x.stepWeightPromotion,
      ...(x.strategy === 'canary' ? {} : { iterations: 3 }),
      ...(x.strategy === 'ab' ? { match: [{ headers: { 'x-canary': { exact: 'insider' } } }] } : {}),
    },
    status:
      x.phase === ''
        ? undefined
        : {
            phase: x.phase,
            lastPromotedSpec: rev(IMAGES[0]),
            lastAppliedSpec: rev(IMAGES[x.applied]!),
            canaryWeight: x.weight,
            iterations: x.iterations,
            failedChecks: x.failedChecks,
            lastTransitionTime: new Date(NOW.getTime() - x.sinceMs).toISOString(),
          },
  });
  const target = deployment(image(x.image), {
    paused: x.paused,
    rolledOut: x.rolledOut,
    annotations: x.stableAnnotation ? { [annotations.stableRevision]: rev(IMAGES[0]) } : undefined,
  });
  const hooks: HookResults = {};
  for (const [type, answer] of Object.entries(x.hookAnswers))
    hooks[type as HookType] = [{ name: type, ok: answer === 'ok', message: String(answer) }];
  const metrics: MetricResult[] | undefined =
    x.metrics === 'none' ? undefined : [{ name: 'request-success-rate', ok: x.metrics === 'pass', message: 'success rate 90% < 99%' }];
  const copy = x.copy ? copyOf(image(x.copy.image), x.copy.replicas, x.copy.ready) : undefined;
  const observed = { target, revision: revisionOf(target), canaryCopy: copy, autoscaler: undefined };
  return decide(canary, observed, metrics, NOW, { minIntervalMs: 1000, pollMs: 1000 }, hooks);
}

describe('api/phases: the transition table', () => {
  it('decide() makes only the transitions the table lists, and makes every one of them (fast-check, 30,000 situations)', function () {
    this.timeout(30_000);
    const seen = new Set<string>();
    fc.assert(
      fc.property(situation, (x) => {
        const d = run(x); // throws on a transition outside the table
        const from = x.phase;
        const to = d.status.phase ?? '';
        assert.ok(allowed(from, to));
        if (from !== to) seen.add(`${from}→${to}`);
      }),
      { numRuns: 30_000, seed: 42 },
    );
    const listed = TRANSITIONS.flatMap((t) => t.from.filter((f) => f !== t.to).map((f) => `${f}→${t.to}`));
    const never = listed.filter((t) => !seen.has(t));
    assert.deepEqual(never, [], `the table lists transitions decide() never made: ${never.join(', ')}`);
  });

  it('refuses a transition the table does not list', () => {
    assert.equal(allowed('Initialized', 'Finalising'), false);
    assert.equal(allowed('Failed', 'Succeeded'), false);
    assert.equal(allowed('Progressing', 'Progressing'), true);
  });

  it('docs/controller.md shows the current tables (run `make docs` after changing api/phases.ts)', () => {
    const doc = fs.readFileSync(path.join(root, CONTROLLER_DOC), 'utf8');
    assert.equal(withTables(doc), doc);
  });
});
