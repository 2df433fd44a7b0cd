// What wakes a Canary: a noisy gateway writing route status, or an HPA controller writing its
// metrics, costs no reconcile; anything else about the objects a Canary uses does.
import assert from 'node:assert/strict';
import type { CanaryAction } from '../../api/canary-action.js';
import { labels as L } from '../../api/contract.js';
import type { MetricTemplate } from '../../api/flagger-types.js';
import { actionFor, canariesConcerned, canariesIn, readersOf, usersOf } from '../../controller/wake-ups.js';
import { CANARY_WAKES, wireWatches } from '../../controller/watches.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { changedBeyondStatus } from '../../lib/kube/informer.js';
import { seedCanary } from './controller-fixtures.js';

const canary = seedCanary(); // test/podinfo, target podinfo, autoscaler podinfo
const route = (
  over: { status?: unknown; weight?: number; rv?: string; annotations?: Record<string, string> } = {},
): KubeObject & Record<string, unknown> => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: {
    name: 'podinfo',
    namespace: 'test',
    resourceVersion: over.rv ?? '1',
    labels: { [L.canaryName]: 'podinfo' },
    annotations: over.annotations,
  },
  spec: { rules: [{ backendRefs: [{ name: 'podinfo-canary', weight: over.weight ?? 10 }] }] },
  status: over.status ?? { parents: [{ controllerName: 'gw', conditions: [{ type: 'Accepted', status: 'True' }] }] },
});

describe('what wakes a Canary', () => {
  it('a route status written by the gateway wakes nobody, in whatever key order it comes back', () => {
    const reordered = { parents: [{ conditions: [{ status: 'True', type: 'Accepted' }], controllerName: 'gw' }] };
    assert.deepEqual(canariesConcerned('route', 'MODIFIED', route({ rv: '2', status: reordered }), route(), [canary]), []);
    assert.deepEqual(canariesConcerned('route', 'MODIFIED', route({ rv: '3', status: { parents: [] } }), route(), [canary]), []);
  });

  it('a route whose rules or annotations changed wakes its Canary, and so do its creation and deletion', () => {
    assert.deepEqual(canariesConcerned('route', 'MODIFIED', route({ rv: '2', weight: 50 }), route(), [canary]), ['test/podinfo']);
    assert.deepEqual(canariesConcerned('route', 'MODIFIED', route({ rv: '2', annotations: { a: 'b' } }), route(), [canary]), [
      'test/podinfo',
    ]);
    assert.deepEqual(canariesConcerned('route', 'ADDED', route(), undefined, [canary]), ['test/podinfo']);
    assert.deepEqual(canariesConcerned('route', 'DELETED', route(), undefined, [canary]), ['test/podinfo']);
  });

  it("an HPA's metrics wake nobody; its spec wakes the Canary that names it", () => {
    const hpa = (max: number, current: number): KubeObject & Record<string, unknown> => ({
      metadata: { name: 'podinfo', namespace: 'test', resourceVersion: String(current) },
      spec: { maxReplicas: max, scaleTargetRef: { kind: 'Deployment', name: 'podinfo' } },
      status: { currentReplicas: current },
    });
    assert.deepEqual(canariesConcerned('hpa', 'MODIFIED', hpa(4, 3), hpa(4, 2), [canary]), []);
    assert.deepEqual(canariesConcerned('hpa', 'MODIFIED', hpa(6, 3), hpa(4, 2), [canary]), ['test/podinfo']);
  });

  it("a target's status (its rollout) always wakes its Canary; another namespace's Deployment does not", () => {
    const d = (ns: string, ready: number): KubeObject & Record<string, unknown> => ({
      metadata: { name: 'podinfo', namespace: ns, resourceVersion: String(ready) },
      spec: {},
      status: { readyReplicas: ready },
    });
    assert.deepEqual(canariesConcerned('deployment', 'MODIFIED', d('test', 2), d('test', 1), [canary]), ['test/podinfo']);
    assert.deepEqual(canariesConcerned('deployment', 'MODIFIED', d('other', 2), d('other', 1), [canary]), []);
  });

  it('changedBeyondStatus ignores only status and the bookkeeping metadata', () => {
    const base = route();
    const withFields = { ...base, metadata: { ...base.metadata, resourceVersion: '9', managedFields: [{ manager: 'x' }] } };
    assert.equal(changedBeyondStatus(base, withFields), false);
    assert.equal(changedBeyondStatus(base, { ...base, metadata: { ...base.metadata, labels: {} } }), true);
    assert.equal(changedBeyondStatus(undefined, base), true);
  });
});

describe('the watch table: which Canaries each other change wakes', () => {
  const other = seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } } });
  other.metadata = { ...other.metadata, name: 'web', namespace: 'shop' };
  const cs = [canary, other];

  it('a namespace wakes the Canaries in it; a policy wakes every Canary', () => {
    assert.deepEqual(canariesIn(cs, 'test'), ['test/podinfo']);
    assert.deepEqual(canariesIn(cs, undefined), ['test/podinfo', 'shop/web']);
    const ns: KubeObject = { metadata: { name: 'shop' } };
    assert.deepEqual(CANARY_WAKES.namespaces!('MODIFIED', ns, undefined, cs), ['shop/web']);
    assert.deepEqual(CANARY_WAKES.policies!('ADDED', { metadata: { name: 'p' } }, undefined, cs), ['test/podinfo', 'shop/web']);
  });

  it('a pending action wakes the Canary it names; a completed one, or one naming nothing, wakes nobody', () => {
    const action = (result?: string, canaryName: unknown = 'podinfo') =>
      ({
        metadata: { name: 'a1', namespace: 'test' },
        spec: { canary: canaryName, verb: 'promote' },
        ...(result ? { status: { result } } : {}),
      }) as unknown as CanaryAction;
    assert.deepEqual(actionFor(action()), ['test/podinfo']);
    assert.deepEqual(actionFor(action('Done')), []);
    assert.deepEqual(actionFor(action(undefined, { constructor: 1 })), []);
  });

  it('a tracked ConfigMap wakes the Canaries of its namespace; a snapshot or an untracked one wakes nobody', () => {
    const config = (tracked: string | undefined): KubeObject => ({
      metadata: { name: 'settings', namespace: 'test', labels: tracked ? { [L.tracked]: tracked } : {} },
    });
    assert.deepEqual(readersOf(config('true'), cs), ['test/podinfo']);
    assert.deepEqual(readersOf(config('snapshot'), cs), []);
    assert.deepEqual(readersOf(config(undefined), cs), []);
    assert.deepEqual(CANARY_WAKES.secrets!('MODIFIED', config('true'), undefined, cs), ['test/podinfo']);
  });

  it('a MetricTemplate wakes the Canaries whose metrics use it, in its namespace or named across', () => {
    const user = seedCanary({ analysis: { metrics: [{ name: 'errors', templateRef: { name: 'errors' } }] } });
    const across = seedCanary({ analysis: { metrics: [{ name: 'errors', templateRef: { name: 'errors', namespace: 'test' } }] } });
    across.metadata = { ...across.metadata, name: 'web', namespace: 'shop' };
    const template = { metadata: { name: 'errors', namespace: 'test' }, spec: {} } as unknown as MetricTemplate;
    assert.deepEqual(usersOf(template, [user, across, other]), ['test/podinfo', 'shop/web']);
    assert.deepEqual(usersOf({ ...template, metadata: { name: 'errors', namespace: 'shop' } }, [user, across]), []);
  });

  it('every watched kind that can change a decision is in the table, and its changes reach the queue', () => {
    const subscribed = new Map<string, ((t: string, o: KubeObject, old?: KubeObject) => void)[]>();
    const fake = (name: string, items: () => KubeObject[] = () => []) => ({
      onChange: (h: (t: string, o: KubeObject, old?: KubeObject) => void) => {
        subscribed.set(name, [...(subscribed.get(name) ?? []), h]);
      },
      items,
    });
    const names = Object.keys(CANARY_WAKES);
    const watched = Object.fromEntries(names.map((n) => [n, fake(n, n === 'canaries' ? () => cs : undefined)]));
    const woken: string[] = [];
    const policyPasses: string[] = [];
    wireWatches(watched as never, {
      canary: (k) => woken.push(k),
      namespace: (n) => policyPasses.push(n),
      everyNamespace: () => policyPasses.push('*'),
      canariesChanged: () => undefined,
    });
    for (const kind of [
      'deployments',
      'statefulsets',
      'daemonsets',
      'services',
      'endpointSlices',
      'routes',
      'hpas',
      'configmaps',
      'secrets',
      'templates',
      'actions',
      'canaries',
      'namespaces',
      'policies',
    ])
      assert.ok(subscribed.has(kind), `${kind} changes are watched`);
    const target: KubeObject = { metadata: { name: 'podinfo', namespace: 'test', resourceVersion: '2' } };
    for (const h of subscribed.get('deployments')!) h('MODIFIED', target, { metadata: { ...target.metadata, resourceVersion: '1' } });
    assert.deepEqual(woken, ['test/podinfo'], 'its Canary is queued');
    assert.deepEqual(policyPasses, ['test'], "and its namespace's policy pass");
    for (const h of subscribed.get('policies')!) h('MODIFIED', { metadata: { name: 'p' } });
    assert.ok(policyPasses.includes('*'), 'a policy change runs every namespace pass');
  });
});

describe('wiring of the watches', () => {
  const subscribe = (canaries: KubeObject[]) => {
    const subscribed = new Map<string, ((t: string, o: KubeObject, old?: KubeObject) => void)[]>();
    const asked: (string | undefined)[] = [];
    const fake = (name: string) => ({
      onChange: (h: (t: string, o: KubeObject, old?: KubeObject) => void) => {
        subscribed.set(name, [...(subscribed.get(name) ?? []), h]);
      },
      items: () => {
        asked.push(undefined);
        return name === 'canaries' ? canaries : [];
      },
      // An indexed cache: the mappers are handed one namespace's Canaries.
      inNamespace: (ns: string) => {
        asked.push(ns);
        return name === 'canaries' ? canaries.filter((c) => c.metadata.namespace === ns) : [];
      },
    });
    const watched = Object.fromEntries([...Object.keys(CANARY_WAKES), 'namespaces', 'policies'].map((n) => [n, fake(n)]));
    const woken: string[] = [];
    let counted = 0;
    wireWatches(watched as never, {
      canary: (k) => woken.push(k),
      namespace: () => undefined,
      everyNamespace: () => undefined,
      canariesChanged: () => counted++,
    });
    const fire = (kind: string, type: string, o: KubeObject, old?: KubeObject) => {
      for (const h of subscribed.get(kind) ?? []) h(type, o, old);
    };
    return { fire, woken, asked, counted: () => counted };
  };

  it("hands a namespaced change only its namespace's Canaries, and a MetricTemplate everyone's", () => {
    const here = seedCanary({ analysis: { metrics: [{ name: 'errors', templateRef: { name: 'errors', namespace: 'test' } }] } });
    const there = seedCanary({ analysis: { metrics: [{ name: 'errors', templateRef: { name: 'errors', namespace: 'test' } }] } });
    there.metadata = { ...there.metadata, namespace: 'shop' };
    const w = subscribe([here, there]);
    w.fire(
      'deployments',
      'MODIFIED',
      { metadata: { name: 'podinfo', namespace: 'shop', resourceVersion: '2' } },
      {
        metadata: { name: 'podinfo', namespace: 'shop', resourceVersion: '1' },
      },
    );
    assert.deepEqual(w.woken, ['shop/podinfo'], 'the same name in another namespace wakes only its own');
    assert.ok(w.asked.includes('shop') && !w.asked.includes(undefined), 'read from the index, not by a scan');
    w.woken.length = 0;
    w.fire('templates', 'MODIFIED', { metadata: { name: 'errors', namespace: 'test', resourceVersion: '2' } });
    assert.deepEqual(w.woken.sort(), ['shop/podinfo', 'test/podinfo'], 'a template used across namespaces wakes its users there');
  });

  it('recounts the Canaries only when one is added or deleted, not at every status write', () => {
    const w = subscribe([canary]);
    w.fire('canaries', 'MODIFIED', canary, canary);
    assert.equal(w.counted(), 0);
    w.fire('canaries', 'ADDED', canary);
    w.fire('canaries', 'DELETED', canary);
    assert.equal(w.counted(), 2);
  });
});
