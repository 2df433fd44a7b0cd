import assert from 'node:assert/strict';
import jsonPatch from 'fast-json-patch';
import request from 'supertest';
import winston from 'winston';
import { annotations as A } from '../../api/contract.js';
import { templateRevision } from '../../api/revision.js';
import { createApp } from '../../webhook/app.js';
import { daemonSetFacts } from '../../webhook/daemon-pod-decision.js';
import { WebhookMetrics } from '../../webhook/metrics.js';
import { fixtureNames, reviewFixture } from '../fixtures/admission-fixtures.js';
import { controllerUser } from '../world/layout.js';
import { runs } from './runs.js';

const silent = winston.createLogger({ silent: true });

/**
 * The app with every source configured, as webhook/main.ts wires it, so that no endpoint is a
 * pass-through: pins for every Deployment, a frozen managed DaemonSet, Canaries for every target.
 */
function wiredApp() {
  const stable = { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image: 'agent:1' }] } };
  const candidate = { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image: 'agent:2' }] } };
  const facts = daemonSetFacts({
    metadata: { uid: 'ds-uid', annotations: { [A.stableRevision]: templateRevision(stable), [A.canaryNodes]: 'n-0' } },
    spec: { template: candidate, selector: { matchLabels: { app: 'agent' } } },
  });
  return createApp({
    flags: { controllerUsers: [controllerUser] },
    validation: { policiesFor: () => [], canaryExists: () => true },
    freeze: { canaryFor: (_ns, name) => ({ name, stableRevision: templateRevision(stable) }), servingPods: () => 1 },
    pins: (_ns, deployment) => ({ 'ConfigMap/settings': `settings-${deployment}-sluice-1`, 'Secret/creds': 'creds-sluice-2' }),
    daemonPods: {
      managed: () => facts,
      fresh: async () => facts,
      revisions: async () => [
        { name: 'agent-h1', hash: 'h1', template: stable as never, generation: '1' },
        { name: 'agent-h2', hash: 'h2', template: candidate as never, generation: '2' },
      ],
    },
    copies: { canariesTargeting: () => ['uid-1'], target: async () => ({ spec: { template: candidate as never } }) },
    metrics: new WebhookMetrics(false),
    logger: silent,
    ready: () => true,
  });
}

/** Reviews of the kinds the fixtures (all Deployment UPDATEs) lack: pods of each owner, a CREATE, a StatefulSet. */
function podAndWorkloadReviews(): Record<string, { request: Record<string, unknown> }[]> {
  const review = (kind: string, group: string, operation: string, object: unknown, oldObject?: unknown) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'f1',
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource: `${kind.toLowerCase()}s` },
      namespace: 'shop',
      name: 'web',
      operation,
      userInfo: { username: 'alice' },
      object,
      ...(oldObject ? { oldObject } : {}),
    },
  });
  const primaryPod = {
    metadata: { labels: { 'pod-template-hash': 'abc' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc', controller: true }] },
    spec: {
      volumes: [{ name: 's', configMap: { name: 'settings' } }],
      containers: [
        {
          name: 'c',
          envFrom: [{ secretRef: { name: 'creds' } }],
          env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } }],
        },
      ],
    },
  };
  const daemonPod = {
    metadata: {
      labels: { app: 'agent', 'controller-revision-hash': 'h2', 'pod-template-generation': '2' },
      ownerReferences: [{ kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }],
    },
    spec: { nodeName: 'n-1', containers: [{ name: 'agent', image: 'agent:2' }], tolerations: [{ operator: 'Exists' }] },
  };
  const workload = (kind: string, image: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: 'web', namespace: 'shop', annotations: { 'sluice.dev/canary': 'web' }, labels: { 'sluice.dev/managed': 'true' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } },
      ...extra,
    },
  });
  const sts = (image: string) =>
    workload('StatefulSet', image, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } } });
  const action = {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'CanaryAction',
    metadata: { generateName: 'web-abort-' },
    spec: { canary: 'web', action: 'abort', username: 'forged' },
  };
  return {
    '/mutate': [
      review('Deployment', 'apps', 'CREATE', workload('Deployment', 'web:2')),
      review('StatefulSet', 'apps', 'UPDATE', sts('web:2'), sts('web:1')),
      review('DaemonSet', 'apps', 'UPDATE', workload('DaemonSet', 'web:2'), workload('DaemonSet', 'web:1')),
    ],
    '/mutate-pod': [review('Pod', '', 'CREATE', primaryPod)],
    '/mutate-daemon-pod': [review('Pod', '', 'CREATE', daemonPod)],
    '/mutate-action': [review('CanaryAction', 'sluice.dev', 'CREATE', action)],
  };
}

function makeApp(ready = true) {
  const metrics = new WebhookMetrics(false);
  const app = createApp({
    flags: { controllerUsers: [controllerUser] },
    validation: { policiesFor: () => [], canaryExists: () => true },
    metrics,
    logger: silent,
    ready: () => ready,
  });
  return { app, metrics };
}

const decode = (patch: string) => JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));

describe('webhook over HTTP', () => {
  it('freezes a kubectl set image with a JSON patch that sets spec.paused, and a warning', async () => {
    const { app } = makeApp();
    const review = reviewFixture('set-image');
    const res = await request(app).post('/mutate').send(review).expect(200);
    assert.equal(res.body.apiVersion, 'admission.k8s.io/v1');
    assert.equal(res.body.response.uid, review.request.uid);
    assert.equal(res.body.response.allowed, true);
    assert.equal(res.body.response.patchType, 'JSONPatch');
    assert.deepEqual(decode(res.body.response.patch), [{ op: 'add', path: '/spec/paused', value: true }]);
    assert.match(
      res.body.response.warnings[0],
      /^sluice: podinfo\.fixtures frozen at revision [0-9a-f]{10}…; revision [0-9a-f]{10}… will roll out through canary podinfo$/,
    );
  });

  it('passes a controller write with no patch', async () => {
    const { app } = makeApp();
    const res = await request(app).post('/mutate').send(reviewFixture('controller-unpause')).expect(200);
    assert.equal(res.body.response.allowed, true);
    assert.equal(res.body.response.patch, undefined);
  });

  it('answers 400 with a message for a body that is not JSON', async () => {
    const { app, metrics } = makeApp();
    const res = await request(app).post('/mutate').set('content-type', 'application/json').send('{"apiVersion":').expect(400);
    assert.match(res.body.error, /not valid JSON/);
    assert.equal((await metrics.requests.get()).values.find((v) => v.labels.decision === 'bad-request')?.value, 1);
  });

  it('answers 400 for JSON that is not an AdmissionReview', async () => {
    const { app } = makeApp();
    const res = await request(app).post('/mutate').send({ hello: 'world' }).expect(400);
    assert.match(res.body.error, /admission\.k8s\.io\/v1/);
    const noRequest = await request(app).post('/mutate').send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }).expect(400);
    assert.match(noRequest.body.error, /request is required/);
  });

  it('while draining, answers every request and closes each connection after it, so the apiserver reconnects elsewhere', async () => {
    let draining = false;
    const app = createApp({
      flags: { controllerUsers: [controllerUser] },
      validation: { policiesFor: () => [], canaryExists: () => true },
      metrics: new WebhookMetrics(false),
      logger: silent,
      ready: () => true,
      draining: () => draining,
    });
    const review = reviewFixture('set-image');
    const before = await request(app).post('/mutate').set('connection', 'keep-alive').send(review).expect(200);
    assert.notEqual(before.headers.connection, 'close');
    draining = true;
    const during = await request(app).post('/mutate').set('connection', 'keep-alive').send(review).expect(200);
    assert.equal(during.headers.connection, 'close');
    assert.equal(during.body.response.allowed, true, 'still answered, the same way');
    assert.deepEqual(decode(during.body.response.patch), decode(before.body.response.patch));
  });

  it('labels metrics with known endpoints only, whatever path a caller invents', async () => {
    const { app, metrics } = makeApp();
    // Express routes ignore case and a trailing slash: each of these reaches /mutate.
    for (const p of ['/MUTATE', '/Mutate/', '/mUtAtE', '/mutate/'])
      await request(app).post(p).set('content-type', 'application/json').send('{').expect(400);
    const endpoints = new Set((await metrics.requests.get()).values.map((v) => v.labels.endpoint));
    assert.deepEqual([...endpoints], ['mutate']);
  });

  it('answers 413 for an oversized body', async () => {
    const { app } = makeApp();
    const huge = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', pad: 'x'.repeat(5 * 1024 * 1024) });
    const res = await request(app).post('/mutate').set('content-type', 'application/json').send(huge).expect(413);
    assert.match(res.body.error, /larger than/);
  });

  it('passes an object of another kind', async () => {
    const { app } = makeApp();
    const review = reviewFixture('set-image');
    review.request.kind = { group: 'apps', version: 'v1', kind: 'ReplicaSet' };
    const res = await request(app).post('/mutate').send(review).expect(200);
    assert.equal(res.body.response.allowed, true);
    assert.equal(res.body.response.patch, undefined);
  });

  it('freezes a StatefulSet by its partition, not by pausing it', async () => {
    const { app } = makeApp();
    const review = reviewFixture('set-image');
    review.request.kind = { group: 'apps', version: 'v1', kind: 'StatefulSet' };
    const res = await request(app).post('/mutate').send(review).expect(200);
    assert.equal(res.body.response.allowed, true);
    const ops = JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString());
    assert.deepEqual(ops, [
      { op: 'add', path: '/spec/updateStrategy', value: { type: 'RollingUpdate', rollingUpdate: { partition: 2147483647 } } },
    ]);
    assert.match(res.body.response.warnings[0], /frozen at revision/);
  });

  it('denies with a message naming the object when it cannot examine it', async () => {
    const { app, metrics } = makeApp();
    const review = reviewFixture('set-image');
    (review.request as { object: unknown }).object = { metadata: { name: 'podinfo' } };
    const res = await request(app).post('/mutate').send(review).expect(200);
    assert.equal(res.body.response.allowed, false);
    assert.match(res.body.response.status.message, /podinfo\.fixtures/);
    assert.equal((await metrics.requests.get()).values.find((v) => v.labels.decision === 'error')?.value, 1);
  });

  it('refuses a template change while a release is in progress, with 409', async () => {
    const { app } = makeApp();
    const review = reviewFixture('set-image');
    review.request.oldObject.metadata.annotations = {
      ...review.request.oldObject.metadata.annotations,
      'sluice.dev/promoting': 'abcdef0123456789',
    };
    const res = await request(app).post('/mutate').send(review).expect(200);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 409);
    assert.match(res.body.response.status.message, /retry/);
  });

  it('serves health and readiness', async () => {
    await request(makeApp(true).app).get('/healthz').expect(200);
    await request(makeApp(true).app).get('/readyz').expect(200);
    await request(makeApp(false).app).get('/readyz').expect(503);
  });

  it('counts requests by decision and records latency', async () => {
    const { app, metrics } = makeApp();
    await request(app).post('/mutate').send(reviewFixture('set-image')).expect(200);
    await request(app).post('/mutate').send(reviewFixture('label')).expect(200);
    await request(app).post('/mutate').send(reviewFixture('revert-to-stable')).expect(200);
    const byDecision = Object.fromEntries((await metrics.requests.get()).values.map((v) => [v.labels.decision, v.value]));
    assert.deepEqual(byDecision, { frozen: 1, 're-paused': 1, passed: 1 });
    const count = (await metrics.duration.get()).values
      .filter((v) => v.metricName === 'sluice_webhook_request_duration_seconds_count')
      .reduce((a, v) => a + v.value, 0);
    assert.equal(count, 3);
  });

  it('serves /validate: refuses a hand edit of the contract with the reason in the review status', async () => {
    const { app, metrics } = makeApp();
    const review = reviewFixture('label');
    delete review.request.object.metadata.labels!['sluice.dev/managed'];
    const res = await request(app).post('/validate').send(review).expect(200);
    assert.equal(res.body.response.uid, review.request.uid);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 403);
    assert.match(
      res.body.response.status.message,
      /^Deployment podinfo\.fixtures: label sluice\.dev\/managed is sluice's record of the rollout owned by Canary podinfo\.fixtures/,
    );
    await request(app)
      .post('/validate')
      .send(reviewFixture('set-image'))
      .expect(200)
      .expect((r) => assert.equal(r.body.response.allowed, true));
    const byDecision = Object.fromEntries(
      (await metrics.requests.get()).values.map((v) => [`${v.labels.endpoint}/${v.labels.decision}`, v.value]),
    );
    assert.deepEqual(byDecision, { 'validate/denied': 1, 'validate/allowed': 1 });
  });

  it('serves /mutate-pod: a primary pod of a Deployment with tracked configs gets a JSON patch to the snapshots', async () => {
    const metrics = new WebhookMetrics(false);
    const app = createApp({
      flags: { controllerUsers: [controllerUser] },
      validation: { policiesFor: () => [], canaryExists: () => true },
      pins: () => ({ 'ConfigMap/settings': 'settings-sluice-1' }),
      metrics,
      logger: silent,
      ready: () => true,
    });
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'p1',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace: 'shop',
        operation: 'CREATE',
        userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
        object: {
          metadata: {
            labels: { 'pod-template-hash': 'abc' },
            ownerReferences: [{ kind: 'ReplicaSet', name: 'cfg-abc', controller: true }],
          },
          spec: { volumes: [{ name: 's', configMap: { name: 'settings' } }], containers: [{ name: 'c' }] },
        },
      },
    };
    const res = await request(app).post('/mutate-pod').send(review).expect(200);
    assert.equal(res.body.response.allowed, true);
    assert.deepEqual(decode(res.body.response.patch), [
      { op: 'replace', path: '/spec/volumes/0/configMap/name', value: 'settings-sluice-1' },
    ]);
  });

  describe('fuzz: random and mutated reviews', function () {
    this.timeout(120_000);
    // Deterministic PRNG so a failure reproduces.
    let seed = 0x5eed;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const junk = (): unknown =>
      pick<() => unknown>([
        () => null,
        () => 42,
        () => 'x',
        () => [],
        () => ({}),
        () => true,
        () => ({ a: [1, { b: null }] }),
        () => Number.NEGATIVE_INFINITY,
        () => 'é\u0000\uffff',
      ])();

    function mutate(value: unknown, depth = 0): unknown {
      if (value === null || typeof value !== 'object') return rnd() < 0.1 ? junk() : value;
      if (rnd() < 0.05 && depth > 0) return junk();
      const out: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
      const keys = Object.keys(out);
      for (let i = 0; i < 2 && keys.length > 0; i++) {
        const key = pick(keys);
        const r = rnd();
        if (r < 0.3) delete (out as Record<string, unknown>)[key];
        else if (r < 0.6) (out as Record<string, unknown>)[key] = junk();
        else (out as Record<string, unknown>)[key] = mutate((out as Record<string, unknown>)[key], depth + 1);
      }
      return out;
    }

    it('answers every one of 3000 requests (fewer under mutation testing) to every endpoint with 200, 400 or 413, every patch applying to what was sent, and stays up', async () => {
      const app = wiredApp();
      const agent = request(app);
      const names = fixtureNames();
      const extra = podAndWorkloadReviews();
      const endpoints = ['/mutate', '/validate', '/validate-copy', '/mutate-pod', '/mutate-daemon-pod', '/mutate-action'];
      const statuses = new Map<number, number>();
      const patched = new Map<string, number>();
      const total = runs(3000);
      for (let i = 0; i < total; i++) {
        // Mostly the kind each endpoint is for (pods, CanaryActions, CREATEs, StatefulSets), else the fixtures' Deployment UPDATEs.
        const endpoint = endpoints[i % endpoints.length]!;
        const own = extra[endpoint] ?? [];
        const base = (own.length > 0 && rnd() < 0.6 ? structuredClone(pick(own)) : reviewFixture(pick(names))) as ReturnType<
          typeof reviewFixture
        >;
        // A mix: junk, reviews damaged anywhere, and reviews damaged only inside the objects.
        const r = rnd();
        let body: string;
        if (r < 0.15) body = JSON.stringify(junk());
        else if (r < 0.4) body = JSON.stringify(mutate(base));
        // Some as sent: each endpoint's own answer (a pin, a stable template, a stamp) is checked too.
        else if (r < 0.55) body = JSON.stringify(base);
        else {
          base.request.object = mutate(base.request.object) as typeof base.request.object;
          if (rnd() < 0.5) base.request.oldObject = mutate(base.request.oldObject) as typeof base.request.oldObject;
          body = JSON.stringify(base);
        }
        const res = await agent.post(endpoint).set('content-type', 'application/json').send(body).timeout(5000);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok([200, 400, 413].includes(res.status), `request ${i} got ${res.status}: ${JSON.stringify(res.body)}`);
        if (res.status !== 200) {
          assert.equal(typeof res.body.error, 'string');
          continue;
        }
        assert.equal(typeof res.body.response?.allowed, 'boolean');
        // A patch the apiserver cannot apply to the object it sent fails the request: every patch
        // given must apply, with its `test` operations holding.
        if (res.body.response.patch) {
          const sent = (JSON.parse(body) as { request: { object: unknown } }).request.object;
          assert.doesNotThrow(
            () => jsonPatch.applyPatch(structuredClone(sent), decode(res.body.response.patch), true, false),
            `request ${i} to ${endpoint}: its patch does not apply`,
          );
          patched.set(endpoint, (patched.get(endpoint) ?? 0) + 1);
        }
      }
      for (const e of ['/mutate', '/mutate-pod', '/mutate-daemon-pod', '/mutate-action'])
        assert.ok((patched.get(e) ?? 0) > total / 300, `${e} patched too few reviews to be fuzzed: ${JSON.stringify([...patched])}`);
      assert.ok((statuses.get(200) ?? 0) > total / 6, `too few valid reviews exercised: ${JSON.stringify([...statuses])}`);
      assert.ok((statuses.get(400) ?? 0) > total / 30, `too few invalid reviews exercised: ${JSON.stringify([...statuses])}`);
      await agent.get('/healthz').expect(200);
    });
  });
});
