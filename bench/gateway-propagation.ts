// How long a real gateway takes to serve a weight after it is written: HTTPRoute PATCHes to the
// world's Traefik (test/world/real-gateway), each timed from the PATCH's answer to the first poll
// of Traefik's own API that shows the new weights, under load. sluice counts an analysis step
// from its own write, so this delay is the part of each step during which the old split still
// serves (docs/real-gateway.md says what that means for intervals).
import fs from 'node:fs';
import path from 'node:path';
import { gatewaysReport } from '../controller/router/http-route.js';
import { at, type KubeObject, R } from '../lib/kube/client.js';
import { delay, waitFor } from '../lib/wait.js';
import { root } from '../test/world/layout.js';
import { ensureRealGateway, GATEWAY, realGateway, traefikWeight } from '../test/world/real-gateway/start.js';
import { admin, deleteNamespace, deploymentManifest, serviceManifest, testNamespace, waitAvailable } from '../test/world/test-clients.js';
import { type Figure, percentile, round } from './results.js';

const SAMPLES = 40;

const traefikVersion = () =>
  /^TRAEFIK_VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(root, 'test/world/versions.env'), 'utf8'))?.[1] ?? 'unknown';

export async function gatewayPropagation(): Promise<Figure[]> {
  await ensureRealGateway();
  const client = await admin();
  const ns = await testNamespace('gw-bench');
  const host = `bench.${ns}.test`;
  try {
    for (const name of ['stable', 'candidate']) {
      await client.create(at(R.deployments, ns), deploymentManifest(ns, name, { replicas: 2 }));
      await client.create(at(R.services, ns), serviceManifest(ns, name, { app: name }));
    }
    await Promise.all(['stable', 'candidate'].map((name) => waitAvailable(ns, name, 2)));
    const route = (w: number) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'bench', namespace: ns },
      spec: {
        parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY.namespace }],
        hostnames: [host],
        rules: [
          {
            backendRefs: [
              { name: 'stable', port: 9898, weight: 100 - w },
              { name: 'candidate', port: 9898, weight: w },
            ],
          },
        ],
      },
    });
    await client.create<KubeObject>(at(R.httproutes, ns), route(0));
    const served = () => traefikWeight(ns, 'candidate');
    await waitFor(async () => ((await served()) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'Traefik to serve the bench route' });
    await realGateway('PUT', `/traffic/${ns}/bench`, { host, ratePerSecond: 300 });
    // Reported as sluice's controller reads it (Router.served): Accepted at the route's generation.
    const reportedAt = async (generation: number) => {
      const r = await client.get<KubeObject>(at(R.httproutes, ns, 'bench'));
      return (r.metadata.generation ?? 0) >= generation && gatewaysReport(r) === true;
    };
    const delays: number[] = [];
    const reports: number[] = [];
    const paced: number[] = [];
    for (let i = 1; i <= SAMPLES; i++) {
      // Weights 5..95 in a fixed walk, never the one served now; one change at a time, as sluice
      // steps. Every other change comes 3 s after the last was served (an analysis step), the
      // rest at once (a release's two writes, 0.3 s apart): Traefik applies at most every 2 s.
      const w = 5 + ((i * 37) % 91);
      const afterQuiet = i % 2 === 0;
      if (afterQuiet) await delay(3000);
      const written = await client.patch<KubeObject>(at(R.httproutes, ns, 'bench'), { spec: route(w).spec }, 'merge');
      const generation = written.body.metadata.generation ?? 0;
      const t0 = performance.now();
      let reported: number | undefined;
      let servedAfter: number | undefined;
      await waitFor(
        async () => {
          if (reported === undefined && (await reportedAt(generation))) reported = performance.now() - t0;
          if (servedAfter === undefined && (await served()) === w) servedAfter = performance.now() - t0;
          return reported !== undefined && servedAfter !== undefined ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 5, what: `Traefik to report and serve weight ${w}` },
      );
      delays.push(servedAfter!);
      reports.push(reported!);
      if (afterQuiet) paced.push(servedAfter!);
    }
    paced.sort((a, b) => a - b);
    await realGateway('DELETE', `/traffic/${ns}/bench`);
    const gaps = delays.map((d, i) => d - reports[i]!).sort((a, b) => a - b);
    delays.sort((a, b) => a - b);
    reports.sort((a, b) => a - b);
    const how = `${SAMPLES} HTTPRoute weight changes, one at a time, under 300 requests/s, each timed from the PATCH's answer to the first 5 ms poll of Traefik's API (GET /api/http/services) that showed the new weight; Traefik ${traefikVersion()} with its defaults, in the world's real-gateway profile`;
    const reportHow = `the same changes, timed to the first poll of the route whose status said Accepted at the written generation`;
    const gapHow = `per change, served minus reported: how long after a gateway reports a route it still serves the old one (controller --drain-delay covers this)`;
    return [
      {
        name: 'gateway_weight_served_after_quiet_p50',
        value: round(percentile(paced, 50), 0),
        unit: 'ms',
        note: `of those, the ${paced.length} changes written 3 s after the last was served`,
      },
      { name: 'gateway_weight_served_p50', value: round(percentile(delays, 50), 0), unit: 'ms', note: how },
      { name: 'gateway_weight_served_p95', value: round(percentile(delays, 95), 0), unit: 'ms', note: how },
      { name: 'gateway_weight_served_max', value: round(delays.at(-1)!, 0), unit: 'ms', note: how },
      { name: 'gateway_route_reported_p50', value: round(percentile(reports, 50), 0), unit: 'ms', note: reportHow },
      { name: 'gateway_route_reported_max', value: round(reports.at(-1)!, 0), unit: 'ms', note: reportHow },
      {
        name: 'gateway_served_after_report_max',
        value: round(gaps.at(-1)!, 0),
        unit: 'ms',
        note: gapHow,
        target: '< controller --drain-delay (5 s; 3 s in the world)',
      },
    ];
  } finally {
    await realGateway('DELETE', `/traffic/${ns}/bench`).catch(() => undefined);
    await deleteNamespace(ns);
  }
}
