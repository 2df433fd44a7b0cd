import assert from 'node:assert/strict';
import { maxWeight, nextWeight } from '../../api/canary-analysis.js';
import type { CanarySpec } from '../../api/flagger-types.js';
import type { ClusterCanaryPolicy, PolicyConstraints } from '../../api/policy-types.js';
import { actionRefusal, allowedActions, enforce, policyViolations, violations } from '../../policy/constraints.js';
import { seedCanary } from './controller-fixtures.js';

const policy = (name: string, constraints: PolicyConstraints): ClusterCanaryPolicy => ({ metadata: { name }, spec: { constraints } });
const spec = (analysis: NonNullable<CanarySpec['analysis']>, extra: Partial<CanarySpec> = {}): CanarySpec => ({
  ...seedCanary().spec,
  analysis,
  ...extra,
});

describe('policy constraints', () => {
  const strict: PolicyConstraints = {
    maxWeight: 50,
    maxStepWeight: 10,
    minInterval: '30s',
    maxThreshold: 5,
    forbidSkipAnalysis: true,
    requiredMetrics: [
      { name: 'request-success-rate', thresholdRange: { min: 99 } },
      { name: 'request-duration', thresholdRange: { max: 500 } },
    ],
    requiredWebhooks: [{ type: 'pre-rollout' }],
  };

  it('passes the seed Canary against limits it meets', () => {
    assert.deepEqual(
      violations(seedCanary().spec, {
        maxWeight: 50,
        maxStepWeight: 10,
        minInterval: '1m',
        maxThreshold: 5,
        requiredMetrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      }),
      [],
    );
  });

  it('lists every broken rule at once, each naming the field, its value and the limit', () => {
    const s = spec(
      {
        interval: '10s',
        threshold: 10,
        maxWeight: 90,
        stepWeight: 30,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 90 } }],
      },
      { skipAnalysis: true },
    );
    assert.deepEqual(violations(s, strict), [
      'skipAnalysis: true is forbidden',
      'analysis.maxWeight 90 is above the ceiling 50',
      'analysis.stepWeight 30 is above the ceiling 10',
      'analysis.interval 10s is below the floor 30s',
      'analysis.threshold 10 is above the ceiling 5',
      'analysis.metrics "request-success-rate" thresholdRange.min 90 is looser than 99',
      'analysis.metrics has no "request-duration", which is required',
      'analysis.webhooks has no pre-rollout hook, which is required',
    ]);
  });

  it('judges unset fields by the defaults the controller would use', () => {
    assert.deepEqual(violations(spec({}), { maxWeight: 50, maxStepWeight: 5, minInterval: '2m', maxThreshold: 3 }), [
      'analysis.maxWeight 100 (unset, so the default) is above the ceiling 50',
      'analysis.stepWeight 10 (unset, so the default) is above the ceiling 5',
      'analysis.interval 1m (unset) is below the floor 2m',
      'analysis.threshold 5 (unset, so the default) is above the ceiling 3',
    ]);
  });

  it('checks stepWeights entries and increments, and a missing bound counts as looser', () => {
    const s = spec({ stepWeights: [5, 10, 40, 80], metrics: [{ name: 'request-duration' }] });
    assert.deepEqual(
      violations(s, { maxWeight: 60, maxStepWeight: 20, requiredMetrics: [{ name: 'request-duration', thresholdRange: { max: 500 } }] }),
      [
        'analysis.stepWeights entry 80 is above the ceiling 60',
        'analysis.stepWeights step 10→40 is above the ceiling 20 per step',
        'analysis.stepWeights step 40→80 is above the ceiling 20 per step',
        'analysis.metrics "request-duration" thresholdRange.max unset is looser than 500',
      ],
    );
  });

  it('requires a hook by type and, when given, by name', () => {
    const s = spec({
      webhooks: [
        { name: 'load', type: 'rollout', url: 'http://x' },
        { name: 'gate', type: 'pre-rollout', url: 'http://x' },
      ],
    });
    assert.deepEqual(violations(s, { requiredWebhooks: [{ type: 'pre-rollout' }, { type: 'rollout', name: 'load' }] }), []);
    assert.deepEqual(violations(s, { requiredWebhooks: [{ type: 'pre-rollout', name: 'smoke' }] }), [
      'analysis.webhooks has no pre-rollout "smoke" hook, which is required',
    ]);
  });

  it('a required templateRef must be the one used', () => {
    const s = spec({ metrics: [{ name: 'error-rate', templateRef: { name: 'mine' }, thresholdRange: { max: 1 } }] });
    assert.deepEqual(
      violations(s, {
        requiredMetrics: [
          { name: 'error-rate', templateRef: { name: 'platform-errors', namespace: 'sluice-system' }, thresholdRange: { max: 1 } },
        ],
      }),
      ['analysis.metrics "error-rate" must be computed by templateRef sluice-system/platform-errors, not templateRef mine'],
    );
  });

  it("a required metric must be computed the policy's way: no query, template or variables of the Canary's own", () => {
    const required = [{ name: 'request-success-rate', thresholdRange: { min: 99 } }];
    const bypasses: [object, string][] = [
      [{ query: 'vector(100)' }, 'query "vector(100)"'],
      [{ templateRef: { name: 'always-100' } }, 'templateRef always-100'],
    ];
    for (const [how, said] of bypasses) {
      const s = spec({ metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, ...how }] });
      assert.deepEqual(violations(s, { requiredMetrics: required }), [
        `analysis.metrics "request-success-rate" must be computed by the builtin query, not ${said}`,
      ]);
      const fixed = enforce(s, [policy('p', { requiredMetrics: required })]);
      assert.deepEqual(
        fixed.analysis?.metrics?.[0],
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        'enforced: the builtin again',
      );
    }
    const templated = [
      {
        name: 'errors',
        templateRef: { name: 'platform-errors', namespace: 'sluice-system' },
        templateVariables: { service: 'x' },
        thresholdRange: { max: 1 },
      },
    ];
    const s = spec({
      metrics: [
        {
          name: 'errors',
          templateRef: { name: 'platform-errors', namespace: 'sluice-system' },
          templateVariables: { service: 'other' },
          thresholdRange: { max: 1 },
        },
      ],
    });
    assert.deepEqual(violations(s, { requiredMetrics: templated }), [
      'analysis.metrics "errors" must be computed by templateRef sluice-system/platform-errors with templateVariables service=x, not templateRef sluice-system/platform-errors with templateVariables service=other',
    ]);
    assert.deepEqual(violations(enforce(s, [policy('p', { requiredMetrics: templated })]), { requiredMetrics: templated }), []);
  });

  it("a required metric's range is no longer than the policy's (or Flagger's 1m): a year-long window would hide every error", () => {
    const c: PolicyConstraints = { requiredMetrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] };
    const at = (interval: string | undefined) =>
      spec({ metrics: [{ name: 'request-success-rate', ...(interval ? { interval } : {}), thresholdRange: { min: 99 } }] });
    assert.deepEqual(violations(at('1m'), c), []);
    assert.deepEqual(violations(at(undefined), c), []);
    assert.deepEqual(violations(at('8760h'), c), ['analysis.metrics "request-success-rate" interval 8760h is longer than the ceiling 1m']);
    assert.deepEqual(violations(at('soon'), c), ['analysis.metrics "request-success-rate" interval soon is longer than the ceiling 1m']);
    const wider: PolicyConstraints = { requiredMetrics: [{ name: 'request-success-rate', interval: '5m', thresholdRange: { min: 99 } }] };
    assert.deepEqual(violations(at('5m'), wider), []);
    assert.equal(violations(at('6m'), wider).length, 1);
    // enforce cuts it down to the ceiling.
    assert.equal(enforce(at('8760h'), [policy('p', c)]).analysis?.metrics?.[0]?.interval, '1m');
  });

  it('a required hook with a URL must call that URL: a gate pointed at an endpoint that always says yes is no gate', () => {
    const c: PolicyConstraints = { requiredWebhooks: [{ type: 'confirm-promotion', name: 'approval', url: 'http://approvals.ops/gate' }] };
    const hook = (url: string) => spec({ webhooks: [{ type: 'confirm-promotion', name: 'approval', url }] });
    assert.deepEqual(violations(hook('http://approvals.ops/gate'), c), []);
    assert.deepEqual(violations(hook('http://always-yes.mine/'), c), [
      'analysis.webhooks has no confirm-promotion "approval" at http://approvals.ops/gate hook, which is required',
    ]);
  });

  it('may forbid MetricTemplates and AlertProviders of another namespace (Flagger allows them)', () => {
    const c: PolicyConstraints = { forbidCrossNamespaceRefs: true };
    const s = spec({
      metrics: [
        { name: 'own', templateRef: { name: 'latency' }, thresholdRange: { max: 1 } },
        { name: 'theirs', templateRef: { name: 'latency', namespace: 'ops' }, thresholdRange: { max: 1 } },
      ],
      alerts: [{ name: 'pager', providerRef: { name: 'pd', namespace: 'ops' } }],
    });
    assert.deepEqual(violations(s, c, 'test'), [
      'analysis.metrics "theirs" uses MetricTemplate ops/latency: another namespace\'s objects are forbidden',
      'analysis.alerts "pager" uses AlertProvider ops/pd: another namespace\'s objects are forbidden',
    ]);
    assert.deepEqual(violations(s, {}, 'test'), [], 'allowed unless a policy says otherwise');
    assert.deepEqual(violations(s, c, 'ops'), [], "a namespace's own objects");
  });

  describe('actions a policy allows', () => {
    it('by default every action, but no promote past a forbidden skipAnalysis or a required gate', () => {
      assert.deepEqual(allowedActions({}), ['promote', 'abort', 'retry', 'pause', 'resume', 'break-glass']);
      assert.deepEqual(allowedActions({ forbidSkipAnalysis: true }), ['abort', 'retry', 'pause', 'resume', 'break-glass']);
      assert.deepEqual(allowedActions({ requiredWebhooks: [{ type: 'confirm-rollout', url: 'http://x/' }] }), [
        'abort',
        'retry',
        'pause',
        'resume',
        'break-glass',
      ]);
      assert.deepEqual(allowedActions({ requiredWebhooks: [{ type: 'pre-rollout' }] }), [
        'promote',
        'abort',
        'retry',
        'pause',
        'resume',
        'break-glass',
      ]);
      assert.deepEqual(allowedActions({ forbidSkipAnalysis: true, allowedActions: ['promote', 'abort'] }), ['promote', 'abort']);
    });

    it('refuses an action naming the policy, and passes one every policy allows', () => {
      const ps = [policy('open', {}), policy('prod-gates', { requiredWebhooks: [{ type: 'confirm-promotion', url: 'http://x/' }] })];
      assert.match(
        actionRefusal('promote', ps) ?? '',
        /^ClusterCanaryPolicy prod-gates does not allow promote here \(it forbids skipping analysis or requires a gate/,
      );
      assert.equal(actionRefusal('abort', ps), undefined);
      assert.match(actionRefusal('retry', [policy('strict', { allowedActions: ['abort'] })]) ?? '', /it allows only abort/);
      assert.match(actionRefusal('pause', [policy('none', { allowedActions: [] })]) ?? '', /it allows only no action/);
    });
  });

  it('prefixes each violation with the policy that sets the rule', () => {
    const s = spec({ maxWeight: 90 });
    assert.deepEqual(policyViolations(s, [policy('a', { maxWeight: 50 }), policy('b', { maxWeight: 80 }), policy('c', {})]), [
      'analysis.maxWeight 90 is above the ceiling 50 (ClusterCanaryPolicy a)',
      'analysis.maxWeight 90 is above the ceiling 80 (ClusterCanaryPolicy b)',
    ]);
  });

  describe('enforce', () => {
    it('tightens a loose spec to the strictest of several policies, leaving the stored spec untouched', () => {
      const s = spec(
        {
          interval: '10s',
          threshold: 10,
          maxWeight: 90,
          stepWeight: 30,
          metrics: [{ name: 'request-success-rate', thresholdRange: { min: 90 } }],
        },
        { skipAnalysis: true },
      );
      const before = structuredClone(s);
      const out = enforce(s, [policy('a', strict), policy('b', { maxWeight: 40 })]);
      assert.deepEqual(s, before);
      assert.equal(out.skipAnalysis, false);
      assert.equal(out.analysis!.maxWeight, 40);
      assert.equal(out.analysis!.stepWeight, 10);
      assert.equal(out.analysis!.interval, '30s');
      assert.equal(out.analysis!.threshold, 5);
      assert.deepEqual(out.analysis!.metrics, [
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        { name: 'request-duration', thresholdRange: { max: 500 } },
      ]);
      // A required hook without a URL cannot be made up: it stays a violation, reported.
      assert.deepEqual(violations(out, strict), ['analysis.webhooks has no pre-rollout hook, which is required']);
    });

    it('splits stepWeights into steps no larger than the ceiling', () => {
      const out = enforce(spec({ stepWeights: [10, 50, 90] }), [policy('a', { maxStepWeight: 20, maxWeight: 60 })]);
      assert.deepEqual(out.analysis!.stepWeights, [10, 30, 50, 60]);
      assert.equal(out.analysis!.maxWeight, 60);
    });

    it('adds a required hook that carries its URL', () => {
      const out = enforce(spec({}), [
        policy('a', { requiredWebhooks: [{ type: 'pre-rollout', name: 'smoke', url: 'http://tester/gate' }] }),
      ]);
      assert.deepEqual(out.analysis!.webhooks, [{ type: 'pre-rollout', name: 'smoke', url: 'http://tester/gate' }]);
    });

    it('always yields a spec with no enforceable violation, and weights the state machine keeps under the ceiling (500 random cases)', () => {
      let seed = 7;
      const rnd = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const maybe = <T>(v: T) => (rnd(3) === 0 ? undefined : v);
      for (let i = 0; i < 500; i++) {
        const steps = rnd(2) === 0 ? undefined : [...new Set(Array.from({ length: 1 + rnd(4) }, () => 1 + rnd(100)))];
        const s = spec(
          {
            interval: maybe(`${1 + rnd(120)}s`),
            threshold: maybe(1 + rnd(10)),
            maxWeight: maybe(1 + rnd(100)),
            stepWeight: maybe(1 + rnd(50)),
            stepWeights: steps,
            metrics: rnd(2) === 0 ? [] : [{ name: 'request-success-rate', thresholdRange: maybe({ min: rnd(100) }) }],
          },
          { skipAnalysis: rnd(4) === 0 },
        );
        const c: PolicyConstraints = {
          maxWeight: maybe(1 + rnd(100)),
          maxStepWeight: maybe(1 + rnd(40)),
          minInterval: maybe(`${1 + rnd(90)}s`),
          maxThreshold: maybe(1 + rnd(8)),
          forbidSkipAnalysis: rnd(2) === 0,
          requiredMetrics: rnd(2) === 0 ? [] : [{ name: 'request-success-rate', thresholdRange: { min: 90 + rnd(10) } }],
        };
        const out = enforce(s, [policy('p', c)]);
        assert.deepEqual(violations(out, c), [], `case ${i}: ${JSON.stringify({ s: s.analysis, c })}`);
        if (c.maxWeight !== undefined) {
          const canary = { ...seedCanary(), spec: out };
          assert.ok(maxWeight(canary.spec) <= c.maxWeight, `case ${i}`);
          for (let w = 0, n = 0; w < maxWeight(canary.spec) && n < 200; n++) {
            const next = nextWeight(canary.spec, w);
            assert.ok(next <= c.maxWeight && (c.maxStepWeight === undefined || next - w <= c.maxStepWeight), `case ${i}: ${w}→${next}`);
            w = next;
          }
        }
      }
    });
  });
});

describe('policy constraints, rule by rule', () => {
  const policy = (name: string, constraints: PolicyConstraints): ClusterCanaryPolicy => ({ metadata: { name }, spec: { constraints } });
  const spec = (analysis: NonNullable<CanarySpec['analysis']>, extra: Partial<CanarySpec> = {}): CanarySpec => ({
    ...seedCanary().spec,
    analysis,
    ...extra,
  });
  const rate = (thresholdRange?: { min?: number; max?: number }, more: Record<string, unknown> = {}) => ({
    name: 'request-success-rate',
    interval: '1m',
    ...(thresholdRange ? { thresholdRange } : {}),
    ...more,
  });

  it('judges stepWeights as climbed in order, whatever order they are written in', () => {
    assert.deepEqual(violations(spec({ stepWeights: [30, 10] }), { maxStepWeight: 15 }), [
      'analysis.stepWeights step 10→30 is above the ceiling 15 per step',
    ]);
    assert.deepEqual(violations(spec({ stepWeights: [10, 20, 30] }), { maxStepWeight: 10 }), []);
    // Without maxWeight, the entries are the ceiling: only those above it are named.
    assert.deepEqual(violations(spec({ stepWeights: [20, 60, 80] }), { maxWeight: 50 }), [
      'analysis.stepWeights entry 60 is above the ceiling 50',
      'analysis.stepWeights entry 80 is above the ceiling 50',
    ]);
  });

  it('names a missing or looser bound of a required metric, each side on its own', () => {
    const want = { maxWeight: undefined, requiredMetrics: [{ name: 'request-success-rate', thresholdRange: { min: 99, max: 100 } }] };
    assert.deepEqual(violations(spec({ metrics: [rate()] }), want), [
      'analysis.metrics "request-success-rate" thresholdRange.min unset is looser than 99',
      'analysis.metrics "request-success-rate" thresholdRange.max unset is looser than 100',
    ]);
    assert.deepEqual(violations(spec({ metrics: [rate({ min: 98, max: 101 })] }), want), [
      'analysis.metrics "request-success-rate" thresholdRange.min 98 is looser than 99',
      'analysis.metrics "request-success-rate" thresholdRange.max 101 is looser than 100',
    ]);
    assert.deepEqual(violations(spec({ metrics: [rate({ min: 99, max: 100 })] }), want), []);
    assert.deepEqual(violations(spec({ metrics: [rate({ min: 99.5, max: 99.9 })] }), want), []);
  });

  it("a template's variables compare whatever their order, and are named in order", () => {
    const want = { name: 'm', templateRef: { name: 't', namespace: 'ops' }, templateVariables: { b: '2', a: '1' } };
    const c = { requiredMetrics: [want] };
    assert.deepEqual(violations(spec({ metrics: [{ ...want, templateVariables: { a: '1', b: '2' } }] }), c), []);
    assert.deepEqual(violations(spec({ metrics: [{ ...want, templateVariables: { a: '1', b: '3' } }] }), c), [
      'analysis.metrics "m" must be computed by templateRef ops/t with templateVariables a=1, b=2, not templateRef ops/t with templateVariables a=1, b=3',
    ]);
    assert.deepEqual(
      violations(spec({ metrics: [{ name: 'm', templateRef: { name: 't' } }] }), {
        requiredMetrics: [{ name: 'm', templateRef: { name: 't' } }],
      }),
      [],
    );
  });

  it('a required hook without a type is any type; a hook without a type is a rollout hook', () => {
    const hooks = (...w: Record<string, unknown>[]) => spec({ webhooks: w as never });
    assert.deepEqual(violations(hooks({ name: 'load', url: 'http://l' }), { requiredWebhooks: [{ type: 'rollout', name: 'load' }] }), []);
    assert.deepEqual(
      violations(hooks({ name: 'load', type: 'pre-rollout', url: 'http://l' }), { requiredWebhooks: [{ name: 'load' }] }),
      [],
    );
    assert.deepEqual(violations(hooks(), { requiredWebhooks: [{ name: 'load', url: 'http://l' }] }), [
      'analysis.webhooks has no any-type "load" at http://l hook, which is required',
    ]);
    assert.deepEqual(
      violations(hooks({ name: 'x', type: 'rollout', url: 'http://x' }), { requiredWebhooks: [{ type: 'confirm-rollout' }] }),
      ['analysis.webhooks has no confirm-rollout hook, which is required'],
    );
  });

  it('promote is guarded only by a gate a promote walks past, or a forbidden skipAnalysis', () => {
    const all = ['promote', 'abort', 'retry', 'pause', 'resume', 'break-glass'];
    assert.deepEqual(allowedActions({ requiredWebhooks: [{ type: 'pre-rollout' }, { name: 'untyped' }] }), all);
    for (const gate of ['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion'] as const)
      assert.ok(!allowedActions({ requiredWebhooks: [{ type: gate }] }).includes('promote'), gate);
    assert.deepEqual(allowedActions({ forbidSkipAnalysis: false }), all);
    assert.equal(
      actionRefusal('abort', [policy('frozen', { allowedActions: [] })]),
      'ClusterCanaryPolicy frozen does not allow abort here (it allows only no action); ask a platform owner, or let the analysis finish',
    );
    assert.equal(
      actionRefusal('promote', [policy('open', {}), policy('gated', { forbidSkipAnalysis: true })]),
      'ClusterCanaryPolicy gated does not allow promote here (it forbids skipping analysis or requires a gate, which a promote would walk past); ask a platform owner, or let the analysis finish',
    );
  });

  it("another namespace's templates and providers: named only when forbidden, and only when they are another namespace's", () => {
    const s = spec({
      metrics: [
        { name: 'own', templateRef: { name: 't', namespace: 'test' } },
        { name: 'theirs', templateRef: { name: 't', namespace: 'ops' } },
        { name: 'plain', templateRef: { name: 't' } },
      ],
      alerts: [
        { name: 'own', providerRef: { name: 'p', namespace: 'test' } },
        { name: 'theirs', providerRef: { name: 'p', namespace: 'ops' } },
        { name: 'bare' },
        null,
      ] as never,
    });
    assert.deepEqual(violations(s, { forbidCrossNamespaceRefs: true }, 'test'), [
      'analysis.metrics "theirs" uses MetricTemplate ops/t: another namespace\'s objects are forbidden',
      'analysis.alerts "theirs" uses AlertProvider ops/p: another namespace\'s objects are forbidden',
    ]);
    assert.deepEqual(violations(s, { forbidCrossNamespaceRefs: true }), [], 'no namespace to compare with');
    assert.deepEqual(violations(s, { forbidCrossNamespaceRefs: false }, 'test'), []);
  });

  describe('enforce, rule by rule', () => {
    it('no policy: the very same spec', () => {
      const s = spec({ maxWeight: 90 });
      assert.equal(enforce(s, []), s);
    });

    it('stepWeights sorted, split, capped and deduplicated; maxWeight follows', () => {
      const out = enforce(spec({ stepWeights: [50, 10, 30, 30] }), [policy('p', { maxStepWeight: 15, maxWeight: 40 })]);
      assert.deepEqual(out.analysis!.stepWeights, [10, 25, 30, 40]);
      assert.equal(out.analysis!.maxWeight, 40);
      assert.deepEqual(enforce(spec({ stepWeights: [20, 40] }), [policy('p', { maxWeight: 30 })]).analysis!.stepWeights, [20, 30]);
      assert.deepEqual(enforce(spec({ stepWeights: [20, 40] }), [policy('p', {})]).analysis!.stepWeights, [20, 40]);
    });

    it('skipAnalysis off only when forbidden; interval raised only when below the floor; threshold lowered only when above', () => {
      const p = (c: PolicyConstraints) => [policy('p', c)];
      assert.equal(enforce(spec({}, { skipAnalysis: true }), p({ forbidSkipAnalysis: true })).skipAnalysis, false);
      assert.equal(enforce(spec({}, { skipAnalysis: true }), p({ maxWeight: 50 })).skipAnalysis, true);
      assert.equal(enforce(spec({ interval: '10s' }), p({ minInterval: '30s' })).analysis!.interval, '30s');
      assert.equal(enforce(spec({ interval: '30s' }), p({ minInterval: '30s' })).analysis!.interval, '30s');
      assert.equal(enforce(spec({ interval: '2m' }), p({ minInterval: '30s' })).analysis!.interval, '2m');
      assert.equal(enforce(spec({ interval: '10s' }), p({ maxWeight: 50 })).analysis!.interval, '10s');
      assert.equal(enforce(spec({}), p({ maxThreshold: 3 })).analysis!.threshold, 3);
      assert.equal(enforce(spec({ threshold: 2 }), p({ maxThreshold: 3 })).analysis!.threshold, 2);
      assert.equal(enforce(spec({ threshold: 9 }), p({ maxWeight: 50 })).analysis!.threshold, 9);
      assert.equal(enforce(spec({ stepWeight: 30 }), p({ maxWeight: 50 })).analysis!.stepWeight, 30);
    });

    it("a required metric: the policy's computation, the tighter bound on each side, no bound invented", () => {
      const c = {
        requiredMetrics: [{ name: 'request-success-rate', templateRef: { name: 'rate', namespace: 'ops' }, thresholdRange: { min: 99 } }],
      };
      const cheat = rate({ min: 90, max: 100 }, { query: 'vector(100)', templateVariables: { x: '1' } });
      const [m] = enforce(spec({ metrics: [cheat] }), [policy('p', c)]).analysis!.metrics!;
      assert.deepEqual(m, {
        name: 'request-success-rate',
        interval: '1m',
        thresholdRange: { min: 99, max: 100 },
        templateRef: { name: 'rate', namespace: 'ops' },
      });
      const [tighter] = enforce(spec({ metrics: [rate({ min: 99.5 })] }), [policy('p', c)]).analysis!.metrics!;
      assert.deepEqual(tighter!.thresholdRange, { min: 99.5 });
      const [bare] = enforce(spec({ metrics: [rate()] }), [
        policy('p', { requiredMetrics: [{ name: 'request-success-rate', query: 'q', thresholdRange: { max: 5 } }] }),
      ]).analysis!.metrics!;
      assert.deepEqual([bare!.query, bare!.thresholdRange], ['q', { max: 5 }]);
      const [capped] = enforce(spec({ metrics: [rate({ max: 3 })] }), [
        policy('p', { requiredMetrics: [{ name: 'request-success-rate', thresholdRange: { max: 5 } }] }),
      ]).analysis!.metrics!;
      assert.deepEqual(capped!.thresholdRange, { max: 3 });
      const none = enforce(spec({}), [policy('p', c)]).analysis!.metrics!;
      assert.deepEqual(
        none.map((x) => x.name),
        ['request-success-rate'],
        'a missing required metric is added',
      );
    });

    it('a required hook is added once, and only when it can be called (a name and a URL)', () => {
      const load = { type: 'rollout' as const, name: 'load', url: 'http://load' };
      const once = enforce(spec({}), [policy('a', { requiredWebhooks: [load] }), policy('b', { requiredWebhooks: [load] })]);
      assert.deepEqual(once.analysis!.webhooks, [load]);
      assert.equal(
        enforce(spec({}), [policy('a', { requiredWebhooks: [{ type: 'rollout', name: 'load' }] })]).analysis!.webhooks,
        undefined,
      );
      assert.equal(
        enforce(spec({}), [policy('a', { requiredWebhooks: [{ type: 'rollout', url: 'http://load' }] })]).analysis!.webhooks,
        undefined,
      );
      const kept = enforce(spec({ webhooks: [load] }), [policy('a', { requiredWebhooks: [load] })]);
      assert.deepEqual(kept.analysis!.webhooks, [load]);
    });
  });
});
