// The real-gateway profile (docs/real-gateway.md): the same product, with Traefik's Kubernetes
// Gateway provider in place of the simulator. Requests are real HTTP from a load generator through
// Traefik to listeners at the pods' own addresses, inside an unprivileged network namespace; the
// share of requests each revision answered is counted where they arrive, and the analysis reads
// Traefik's own Prometheus series through a MetricTemplate written as Traefik's users would.
import assert from 'node:assert/strict';
import { CR } from '../../api/flagger-types.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import type { PodCount } from '../world/real-gateway/pod-listeners.js';
import { ensureRealGateway, GATEWAY, realGateway, traefikWeight } from '../world/real-gateway/start.js';
import { canaryEvents, deploymentWithCanary, getCanary, setImage as setImageOf, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { admin, type Deployment, deleteNamespace } from '../world/test-clients.js';

type Route = KubeObject & { spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] } };

const RATE = 300;
/** Requests counted per measurement: at ±3 points, a weighted round robin needs few. */
const SAMPLE = 600;
const TOLERANCE = 3;

describe('a real Gateway API implementation in the loop (Traefik)', function () {
  this.timeout(300_000);
  let ns: string;
  let host: string;

  before(async function () {
    this.timeout(180_000);
    await ensureRealGateway();
    ns = await sluiceAndNamespace('realgw');
    host = `podinfo.${ns}.test`;
    const client = await admin();
    // The success rate of the canary's backend as Traefik counts it: what its users write.
    await client.create(at(CR.metrictemplates, ns), {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'traefik-success-rate', namespace: ns },
      spec: {
        provider: { type: 'prometheus', address: 'http://127.0.0.1:29090' },
        query:
          'sum(rate(traefik_service_requests_total{service=~"{{ namespace }}-{{ target }}-canary-http-.*",code!~"5.."}[{{ interval }}]))' +
          ' / sum(rate(traefik_service_requests_total{service=~"{{ namespace }}-{{ target }}-canary-http-.*"}[{{ interval }}])) * 100',
      },
    });
    await deploymentWithCanary(
      ns,
      'podinfo',
      {
        interval: '12s',
        threshold: 2,
        stepWeight: 20,
        maxWeight: 60,
        metrics: [{ name: 'traefik-success', templateRef: { name: 'traefik-success-rate' }, interval: '10s', thresholdRange: { min: 95 } }],
      },
      { service: { port: 9898, hosts: [host], gatewayRefs: [{ name: GATEWAY.name, namespace: GATEWAY.namespace }] } },
    );
    await waitPhase(ns, 'Initialized', 60_000);
    await realGateway('PUT', `/traffic/${ns}/podinfo`, { host, ratePerSecond: RATE });
  });
  after(async () => {
    await realGateway('DELETE', `/traffic/${ns}/podinfo`).catch(() => undefined);
    await realGateway('DELETE', `/faults/${ns}/podinfo-canary`).catch(() => undefined);
    if (ns) await deleteNamespace(ns);
  });

  const setImage = (tag: string) => setImageOf(ns, 'podinfo', tag);
  /** The canary's weight in the route sluice wrote (its last rule: the one without header matches). */
  const writtenWeight = async () => {
    const route = await (await admin()).get<Route>(at(R.httproutes, ns, 'podinfo'));
    return route.spec.rules.at(-1)!.backendRefs.find((b) => b.name === 'podinfo-canary')?.weight ?? 0;
  };
  /** The canary's weight Traefik serves, from its own API. */
  const servedWeight = () => traefikWeight(ns, 'podinfo-canary');
  /** Counts at the listeners over the next SAMPLE requests: the share each version answered, in percent. */
  const measure = async () => {
    await realGateway('DELETE', `/counts/${ns}`);
    const rows = await waitFor(
      async () => {
        const r = await realGateway<PodCount[]>('GET', `/counts/${ns}`);
        return r.reduce((n, c) => n + c.answered, 0) >= SAMPLE ? r : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: `${SAMPLE} requests to reach podinfo's pods through Traefik` },
    );
    const total = rows.reduce((n, c) => n + c.answered, 0);
    const byVersion: Record<string, number> = {};
    for (const c of rows) byVersion[c.version] = (byVersion[c.version] ?? 0) + (100 * c.answered) / total;
    return byVersion;
  };

  const codes = async () => (await realGateway<{ byCode: Record<string, number> }>('GET', `/traffic/${ns}/podinfo`)).byCode;
  const diff = (now: Record<string, number>, then: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(now)
        .filter(([k, v]) => v - (then[k] ?? 0) > 0)
        .map(([k, v]) => [k, v - (then[k] ?? 0)]),
    );

  it('serves every request from the stable revision at rest, with the canary at weight 0 and scaled to zero', async () => {
    assert.equal(await writtenWeight(), 0);
    assert.equal((await (await admin()).get<Deployment>(at(R.deployments, ns, 'podinfo-canary'))).spec.replicas, 0);
    await waitFor(async () => ((await servedWeight()) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'Traefik to serve the route' });
    const before = await codes();
    const shares = await measure();
    assert.deepEqual(Object.keys(shares), ['6.0.0'], JSON.stringify(shares));
    const answered = diff(await codes(), before);
    // A weight of 0 on a backend without endpoints is never chosen: no 5xx from the gateway itself.
    assert.deepEqual(Object.keys(answered), ['200'], JSON.stringify(answered));
  });

  it('gives the candidate the share sluice wrote at each step, within 3 points, and promotes it on Traefik’s own series', async () => {
    const codesBefore = await codes();
    const revision = await setImage('6.0.1');
    for (const step of [20, 40, 60]) {
      await waitFor(async () => ((await writtenWeight()) === step ? true : undefined), {
        timeoutMs: 90_000,
        what: `sluice to write canary weight ${step}`,
      });
      // Applied: Traefik's configuration carries the weight (propagation is measured in bench/).
      await waitFor(async () => ((await servedWeight()) === step ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: `Traefik to serve canary weight ${step}`,
      });
      const shares = await measure();
      // The step must not have moved on while counting, or the sample mixes two weights.
      assert.equal(await writtenWeight(), step, 'the weight held while counting');
      const share = shares['6.0.1'] ?? 0;
      // Printed, so a run's log says how close the real split came, not only that it was within bounds.
      process.stdout.write(`      (step ${step}: the candidate answered ${share.toFixed(2)} % of ${SAMPLE}+ requests)\n`);
      assert.ok(
        Math.abs(share - step) <= TOLERANCE,
        `step ${step}: the candidate answered ${share.toFixed(1)} % (${JSON.stringify(shares)})`,
      );
    }
    const done = await waitPhase(ns, ['Succeeded', 'Failed'], 120_000, revision);
    assert.equal(done.status?.phase, 'Succeeded', JSON.stringify(done.status?.conditions));
    await waitFor(async () => ((await servedWeight()) === 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'Traefik to serve weight 0 again',
    });
    const after = await measure();
    assert.ok((after['6.0.1'] ?? 0) >= 99.9, `after the release the primary answers with 6.0.1: ${JSON.stringify(after)}`);
    // No request lost on the way: the canary's pods went only once Traefik no longer sent them any.
    const answered = diff(await codes(), codesBefore);
    assert.deepEqual(Object.keys(answered), ['200'], `every request answered 200 through the rollout: ${JSON.stringify(answered)}`);
  });

  it('rolls back a candidate that fails half its requests, on the errors Traefik counted', async () => {
    await realGateway('PUT', `/faults/${ns}/podinfo-canary`, { errorRatio: 0.5 });
    const codesBefore = await codes();
    const revision = await setImage('6.0.2');
    const failed = await waitPhase(ns, ['Succeeded', 'Failed'], 120_000, revision);
    assert.equal(failed.status?.phase, 'Failed', JSON.stringify(failed.status?.conditions));
    const events = (await canaryEvents(ns)).map((e) => e.message);
    assert.ok(
      events.some((m) => /traefik-success/.test(m) && /Halt/.test(m)),
      `an event names the failing Traefik metric:\n${events.join('\n')}`,
    );
    assert.equal((await getCanary(ns)).status?.canaryWeight, 0);
    await waitFor(async () => ((await servedWeight()) === 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'Traefik to serve weight 0 again',
    });
    const after = await measure();
    assert.deepEqual(Object.keys(after), ['6.0.1'], `after the rollback only the stable revision answers: ${JSON.stringify(after)}`);
    // The injected 500s and nothing else: no 502 from requests sent to canary pods already gone.
    const answered = diff(await codes(), codesBefore);
    assert.deepEqual(Object.keys(answered).sort(), ['200', '500'], `only the pods' own answers: ${JSON.stringify(answered)}`);
  });
});
