// Change windows (policy/change-windows.ts): recurring windows read on a time zone's wall clock
// (midnight-crossing, daylight saving), one-off windows, deny over allow, "until when", windows
// that never open, overlaps, and what admission refuses. Properties are checked against a
// minute-by-minute walk, which is slow but obviously right.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ChangeWindow, ChangeWindows, ClusterCanaryPolicy } from '../../api/policy-types.js';
import { WEEKDAYS } from '../../api/policy-types.js';
import {
  closedWindowFor,
  knownTimeZone,
  type PolicyWindows,
  windowProblems,
  windowState,
  windowWarnings,
} from '../../policy/change-windows.js';
import { decideValidate } from '../../webhook/validate-decision.js';

const pw = (windows: ChangeWindows, policy = 'release-policy'): PolicyWindows[] => [{ policy, windows }];
const at = (iso: string) => new Date(iso);

describe('change windows', () => {
  it('closes inside a recurring deny window and says until when, on the zone wall clock', () => {
    // Friday 2026-12-04 18:30 in Berlin (UTC+1) is 17:30 UTC.
    const windows: ChangeWindows = {
      timeZone: 'Europe/Berlin',
      deny: [{ name: 'friday-evening', days: ['Fri'], start: '16:00', end: '23:00' }],
    };
    const s = windowState(pw(windows), at('2026-12-04T17:30:00Z'));
    assert.equal(s.open, false);
    assert.ok(!s.open);
    assert.deepEqual(s.closure, { policy: 'release-policy', window: 'friday-evening', kind: 'deny' });
    assert.equal(s.until?.toISOString(), '2026-12-04T22:00:00.000Z');
    // 14:59 UTC is 15:59 in Berlin: open.
    assert.deepEqual(windowState(pw(windows), at('2026-12-04T14:59:00Z')), { open: true });
    // The same wall clock on a Thursday: open.
    assert.deepEqual(windowState(pw(windows), at('2026-12-03T17:30:00Z')), { open: true });
  });

  it('reads a window crossing midnight as the evening of a listed day and the morning after', () => {
    const windows: ChangeWindows = { deny: [{ name: 'night', days: ['Sat'], start: '22:00', end: '06:00' }] };
    assert.equal(windowState(pw(windows), at('2026-12-05T23:00:00Z')).open, false); // Saturday 23:00
    const sunday = windowState(pw(windows), at('2026-12-06T05:59:00Z'));
    assert.ok(!sunday.open);
    assert.equal(sunday.until?.toISOString(), '2026-12-06T06:00:00.000Z');
    assert.equal(windowState(pw(windows), at('2026-12-06T22:30:00Z')).open, true); // Sunday night is not listed
    assert.equal(windowState(pw(windows), at('2026-12-05T05:00:00Z')).open, true); // Saturday morning: Friday is not listed
  });

  it('closes outside allow windows, and opens at the next one', () => {
    const windows: ChangeWindows = {
      timeZone: 'America/New_York',
      allow: [{ name: 'office-hours', days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '09:00', end: '17:00' }],
    };
    // Saturday noon in New York (UTC-5): closed until Monday 09:00 local, 14:00 UTC.
    const s = windowState(pw(windows), at('2026-12-05T17:00:00Z'));
    assert.ok(!s.open);
    assert.equal(s.closure.kind, 'allow');
    assert.equal(s.until?.toISOString(), '2026-12-07T14:00:00.000Z');
    assert.equal(windowState(pw(windows), at('2026-12-07T14:00:00Z')).open, true);
  });

  it('lets deny win where it overlaps an allow window, and says so', () => {
    const windows: ChangeWindows = {
      allow: [{ name: 'daytime', start: '08:00', end: '18:00' }],
      deny: [{ name: 'lunch', start: '12:00', end: '13:00' }],
    };
    const s = windowState(pw(windows), at('2026-12-07T12:30:00Z'));
    assert.ok(!s.open);
    assert.equal(s.closure.window, 'lunch');
    assert.equal(s.until?.toISOString(), '2026-12-07T13:00:00.000Z');
    assert.deepEqual(windowWarnings(pw(windows)[0]!, at('2026-12-07T07:00:00Z')), [
      'deny window lunch overlaps allow window daytime; deny wins where they overlap',
    ]);
  });

  it('follows daylight saving: 09:00 in Berlin is 08:00 UTC in winter and 07:00 in summer', () => {
    const windows: ChangeWindows = { timeZone: 'Europe/Berlin', allow: [{ name: 'morning', start: '09:00', end: '10:00' }] };
    const winter = windowState(pw(windows), at('2026-01-15T06:00:00Z'));
    const summer = windowState(pw(windows), at('2026-07-15T06:00:00Z'));
    assert.ok(!winter.open && !summer.open);
    assert.equal(winter.until?.toISOString(), '2026-01-15T08:00:00.000Z');
    assert.equal(summer.until?.toISOString(), '2026-07-15T07:00:00.000Z');
    // The night the clocks go forward (2026-03-29, 02:00 → 03:00): the window still opens at 09:00 local.
    const spring = windowState(pw(windows), at('2026-03-29T00:30:00Z'));
    assert.ok(!spring.open);
    assert.equal(spring.until?.toISOString(), '2026-03-29T07:00:00.000Z');
  });

  it('evaluates one-off windows, and looks past a long one-off freeze for the recurring windows after it', () => {
    const windows: ChangeWindows = {
      deny: [{ name: 'year-end', from: '2026-12-20T00:00:00Z', until: '2027-01-04T00:00:00Z' }],
      allow: [{ name: 'weekdays', days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '09:00', end: '17:00' }],
    };
    const s = windowState(pw(windows), at('2026-12-24T10:00:00Z'));
    assert.ok(!s.open);
    assert.equal(s.closure.window, 'year-end');
    // 2027-01-04 is a Monday; the allow window opens at 09:00 UTC.
    assert.equal(s.until?.toISOString(), '2027-01-04T09:00:00.000Z');
  });

  it('says when windows never open again, and admission refuses them', () => {
    const never: ChangeWindows = { allow: [{ name: 'last-week', from: '2026-11-01T00:00:00Z', until: '2026-11-02T00:00:00Z' }] };
    const s = windowState(pw(never), at('2026-12-07T00:00:00Z'));
    assert.ok(!s.open);
    assert.equal(s.until, undefined);
    assert.match(windowWarnings(pw(never)[0]!, at('2026-12-07T00:00:00Z'))[0]!, /never open again/);
    const v = decideValidate(policyReview({ changeWindows: never }), validateCtx);
    assert.equal(v.allowed, false);
    assert.ok(!v.allowed);
    assert.match(v.message, /^ClusterCanaryPolicy windows: its changeWindows never open again as written .*use spec\.stopTheLine$/);
  });

  it('refuses an unknown time zone, a one-off window the wrong way round, and mixed kinds, naming each', () => {
    assert.equal(knownTimeZone('Europe/Berlin'), true);
    assert.equal(knownTimeZone('Mars/Olympus_Mons'), false);
    const bad: ChangeWindows = {
      timeZone: 'Mars/Olympus_Mons',
      deny: [
        { name: 'backwards', from: '2026-12-10T00:00:00Z', until: '2026-12-09T00:00:00Z' },
        { name: 'both', start: '10:00', end: '11:00', from: '2026-12-10T00:00:00Z', until: '2026-12-11T00:00:00Z' },
        { name: 'empty', start: '10:00', end: '10:00' },
      ],
      allow: [{ name: 'backwards', start: '09:00', end: '17:00' }],
    };
    const problems = windowProblems(bad);
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems[0]!, /timeZone "Mars\/Olympus_Mons" is not an IANA time zone/);
    assert.match(problems[1]!, /deny\[0\] \(backwards\): until .* must be after from/);
    assert.match(problems[2]!, /deny\[1\] \(both\): give either days\/start\/end \(recurring\) or from\/until \(one-off\), not both/);
    assert.match(problems[3]!, /deny\[2\] \(empty\): start and end are the same time/);
    assert.match(problems[4]!, /allow\[0\] \(backwards\): the name backwards is used twice/);
    const v = decideValidate(policyReview({ changeWindows: bad }), validateCtx);
    assert.ok(!v.allowed);
    assert.equal(v.code, 422);
    assert.match(v.message, /^ClusterCanaryPolicy windows: 1\) timeZone "Mars\/Olympus_Mons"/);
    assert.equal(decideValidate(policyReview({}), validateCtx).allowed, true);
    // Shapes no schema let through are refused, not thrown on.
    assert.deepEqual(windowProblems({ deny: 'weekend' } as unknown as ChangeWindows), [
      'changeWindows must be an object whose deny and allow are lists of windows and whose timeZone is a string',
    ]);
    assert.deepEqual(windowProblems({ allow: [{ name: 'x', start: 9 }] } as unknown as ChangeWindows), [
      'every window has a name, start, end, from and until that are strings, and days that is a list',
    ]);
    for (const hostile of [
      { deny: 'weekend' },
      { allow: [null] },
      { timeZone: 7 },
      { deny: [{ name: 'x', start: 9, end: 17 }] },
      { deny: [{ name: 'x', days: 'Mon' }] },
    ])
      assert.equal(
        decideValidate(policyReview({ changeWindows: hostile as unknown as ChangeWindows }), validateCtx).allowed,
        false,
        JSON.stringify(hostile),
      );
  });

  it('opens at the first of several one-off allow windows whatever their order, and counts from as inside and until as outside', () => {
    const windows: ChangeWindows = {
      allow: [
        { name: 'later', from: '2026-12-09T10:00:00Z', until: '2026-12-09T12:00:00Z' },
        { name: 'sooner', from: '2026-12-08T10:00:00Z', until: '2026-12-08T12:00:00Z' },
      ],
    };
    const s = windowState(pw(windows), at('2026-12-07T00:00:00Z'));
    assert.ok(!s.open);
    assert.deepEqual(s.closure, { policy: 'release-policy', window: 'later, sooner', kind: 'allow' });
    assert.equal(s.until?.toISOString(), '2026-12-08T10:00:00.000Z');
    assert.equal(windowState(pw(windows), at('2026-12-08T10:00:00Z')).open, true, 'from is inside');
    const after = windowState(pw(windows), at('2026-12-08T12:00:00Z'));
    assert.ok(!after.open, 'until is outside');
    assert.equal(after.until?.toISOString(), '2026-12-09T10:00:00.000Z');
    const deny: ChangeWindows = { deny: [{ name: 'd', from: '2026-12-08T10:00:00Z', until: '2026-12-08T12:00:00Z' }] };
    assert.equal(windowState(pw(deny), at('2026-12-08T10:00:00Z')).open, false, 'a deny window is closed from its from');
    assert.equal(windowState(pw(deny), at('2026-12-08T12:00:00Z')).open, true, 'and open at its until');
  });

  it('names each problem of a window as written', () => {
    const problem = (w: Partial<ChangeWindow>) => windowProblems({ deny: [w as ChangeWindow] });
    assert.deepEqual(problem({ start: '09:00', end: '10:00' }), ['changeWindows.deny[0]: a name is required']);
    assert.deepEqual(problem({ name: 'x', from: 'soon', until: 'later' }), [
      'changeWindows.deny[0] (x): from and until must both be RFC 3339 times',
    ]);
    assert.deepEqual(problem({ name: 'x', start: '9:00', end: '10:00' }), [
      'changeWindows.deny[0] (x): start and end are required, as HH:MM (00:00 to 24:00)',
    ]);
    assert.deepEqual(problem({ name: 'x', end: '10:00' }), [
      'changeWindows.deny[0] (x): start and end are required, as HH:MM (00:00 to 24:00)',
    ]);
    assert.deepEqual(problem({ name: 'x', start: '24:00', end: '10:00' }), [
      'changeWindows.deny[0] (x): start is at most 23:59; 24:00 only ends a day',
    ]);
    assert.deepEqual(problem({ name: 'x', days: [], start: '09:00', end: '10:00' }), [
      'changeWindows.deny[0] (x): days is empty, so the window never happens; leave it out for every day',
    ]);
    assert.deepEqual(problem({ name: 'x', days: ['Funday' as 'Mon'], start: '09:00', end: '10:00' }), [
      'changeWindows.deny[0] (x): days are Sun, Mon, Tue, Wed, Thu, Fri, Sat',
    ]);
    assert.deepEqual(problem({ name: 'x', days: ['Mon'], start: '00:00', end: '24:00' }), []);
    assert.deepEqual(windowProblems({ allow: [{ name: 'a', from: '2026-12-08T10:00:00Z', until: '2026-12-08T12:00:00Z' }] }), []);
  });

  it('holds a Canary only in the namespaces and for the workloads the policy selects; broken windows close', () => {
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { tier: 'prod' } } };
    const p = policy('freeze', {
      namespaceSelector: { matchLabels: { tier: 'prod' } },
      changeWindows: {
        deny: [{ name: 'always-today', from: '2026-12-07T00:00:00Z', until: '2026-12-08T00:00:00Z' }],
        workloadSelector: { matchLabels: { team: 'pay' } },
      },
    });
    const now = at('2026-12-07T12:00:00Z');
    const held = closedWindowFor([p], ns, { team: 'pay' }, now);
    assert.equal(held?.until, '2026-12-08T00:00:00.000Z');
    assert.match(
      held!.message,
      /^the change window is closed by deny window always-today of ClusterCanaryPolicy freeze until 2026-12-08T00:00:00\.000Z$/,
    );
    assert.equal(closedWindowFor([p], ns, { team: 'search' }, now), undefined);
    assert.equal(closedWindowFor([p], { ...ns, metadata: { name: 'dev', labels: { tier: 'dev' } } }, { team: 'pay' }, now), undefined);
    const broken = policy('typo', { changeWindows: { timeZone: 'Europe/Berln', deny: [] } });
    const b = closedWindowFor([broken], ns, {}, now);
    assert.match(
      b!.message,
      /changeWindows of ClusterCanaryPolicy typo cannot be read \(timeZone "Europe\/Berln".*count as closed until fixed/,
    );
  });

  it('says a Canary is held outside allow windows, or for good, and which of several policies closes it', () => {
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { tier: 'prod' } } };
    const now = at('2026-12-07T12:00:00Z');
    const allowOnly = policy('b-hours', {
      changeWindows: {
        allow: [
          { name: 'morning', start: '08:00', end: '09:00' },
          { name: 'evening', start: '18:00', end: '19:00' },
        ],
      },
    });
    assert.equal(
      closedWindowFor([allowOnly], ns, {}, now)?.message,
      'the change window is closed by being outside the allow windows (morning, evening) of ClusterCanaryPolicy b-hours until 2026-12-07T18:00:00.000Z',
    );
    const gone = policy('a-past', {
      changeWindows: { allow: [{ name: 'once', from: '2026-11-01T00:00:00Z', until: '2026-11-02T00:00:00Z' }] },
    });
    const both = closedWindowFor([allowOnly, gone], ns, {}, now);
    assert.equal(both?.policy, 'a-past', 'the first policy by name that closes it');
    assert.equal(both?.until, undefined);
    assert.match(both!.message, / and never opens again as written$/);
  });

  it('answers from one evaluation a second, but never past the end of a window it found closed', () => {
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } };
    const p = policy('short', {
      changeWindows: { deny: [{ name: 'blip', from: '2026-12-07T12:00:00.000Z', until: '2026-12-07T12:00:00.500Z' }] },
    });
    assert.equal(closedWindowFor([p], ns, {}, at('2026-12-07T12:00:00.100Z'))?.until, '2026-12-07T12:00:00.500Z');
    assert.equal(closedWindowFor([p], ns, {}, at('2026-12-07T12:00:00.600Z')), undefined, 'open again within the same second');
    const q = policy('next', {
      changeWindows: { deny: [{ name: 'later', from: '2026-12-07T12:00:01.000Z', until: '2026-12-07T12:00:02.000Z' }] },
    });
    assert.equal(closedWindowFor([q], ns, {}, at('2026-12-07T12:00:00.900Z')), undefined);
    assert.equal(closedWindowFor([q], ns, {}, at('2026-12-07T12:00:01.000Z'))?.window, 'later', 'the next second is evaluated afresh');
  });

  it('agrees with a minute-by-minute walk: closed or not, and the first open minute', function () {
    this.timeout(60_000);
    const hhmm = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    const recurring = fc
      .record({ days: fc.subarray([...WEEKDAYS], { minLength: 1 }), start: hhmm, end: hhmm })
      .filter((w) => w.start !== w.end)
      .map((w): ChangeWindow => ({ name: 'w', ...w }));
    const named = (ws: ChangeWindow[], prefix: string) => ws.map((w, i) => ({ ...w, name: `${prefix}${i}` }));
    fc.assert(
      fc.property(
        fc.array(recurring, { maxLength: 2 }),
        fc.array(recurring, { maxLength: 2 }),
        fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kolkata', 'America/New_York'),
        fc.integer({ min: 0, max: 7 * 24 * 4 - 1 }),
        (deny, allow, timeZone, quarter) => {
          const windows: ChangeWindows = { timeZone, deny: named(deny, 'd'), allow: named(allow, 'a') };
          const now = new Date(Date.UTC(2026, 5, 1) + quarter * 15 * 60_000);
          const s = windowState(pw(windows), now);
          const openAt = (t: number) => windowState(pw(windows), new Date(t)).open;
          if (s.open) return;
          let t = now.getTime();
          const end = t + 9 * 24 * 60 * 60_000;
          while (t < end && !openAt(t)) t += 15 * 60_000;
          assert.equal(s.until?.getTime(), t < end ? t : undefined);
        },
      ),
      { numRuns: 60 },
    );
  });
});

const validateCtx = { controllerUsers: [], policiesFor: () => [], canaryExists: () => true };

function policy(name: string, spec: ClusterCanaryPolicy['spec']): ClusterCanaryPolicy {
  return { apiVersion: 'sluice.dev/v1alpha1', kind: 'ClusterCanaryPolicy', metadata: { name }, spec };
}

function policyReview(spec: ClusterCanaryPolicy['spec']) {
  return {
    uid: 'u1',
    kind: { group: 'sluice.dev', version: 'v1alpha1', kind: 'ClusterCanaryPolicy' },
    resource: { group: 'sluice.dev', version: 'v1alpha1', resource: 'clustercanarypolicies' },
    operation: 'CREATE' as const,
    name: 'windows',
    userInfo: { username: 'admin' },
    object: policy('windows', spec),
  };
}
