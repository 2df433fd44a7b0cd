// The traffic simulator: plays the Gateway API implementation for GatewayClass `cilium` and the
// workloads behind it. It watches the cluster, writes Gateway and HTTPRoute status, sends a steady
// request rate through every attached HTTPRoute, and exports the metrics Prometheus scrapes.
// Tests steer it through a small HTTP API: faults per Service, traffic profile per route.
import express from 'express';
import { canonicalJson } from '../../../lib/canonical-json.js';
import { at, KubeClient, type KubeObject, R } from '../../../lib/kube/client.js';
import { Informer } from '../../../lib/kube/informer.js';
import { mountFaultApi } from './fault-api.js';
import {
  CONTROLLER_NAME,
  type Condition,
  conditionsEqual,
  gatewayConditions,
  type ParentRef,
  type RouteParentStatus,
  routeParentConditions,
  sameParent,
  withTransitionTimes,
} from './gateway-status.js';
import { ChangedRoutes, readyEndpointsOf } from './indexes.js';
import { SimulatorMetrics } from './metrics.js';
import type { Fault } from './outcome.js';
import type { RouteRule } from './routing.js';
import { type ActiveRoute, TrafficEngine, type TrafficProfile } from './traffic.js';

interface Args {
  kubeconfig: string;
  port: number;
  rate: number;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const kubeconfig = get('--kubeconfig');
  if (!kubeconfig) throw new Error('simulator: --kubeconfig FILE is required');
  return { kubeconfig, port: Number(get('--port') ?? 28080), rate: Number(get('--rate') ?? 20) };
}

type GatewayClass = KubeObject & { spec: { controllerName: string }; status?: { conditions?: Condition[] } };
type Gateway = KubeObject & { spec: { gatewayClassName: string }; status?: { conditions?: Condition[] } };
type HTTPRoute = KubeObject & { spec: { parentRefs?: ParentRef[]; rules?: RouteRule[] }; status?: { parents?: RouteParentStatus[] } };
type EndpointSlice = KubeObject & { endpoints?: { conditions?: { ready?: boolean } }[] };

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const client = await KubeClient.load(args.kubeconfig, 'sluice-traffic-simulator');
  const onError = (what: string) => (err: unknown) => console.error(`simulator: ${what}: ${(err as Error).message}`);
  const classes = new Informer<GatewayClass>(client, R.gatewayclasses, { onError: onError('gatewayclasses') });
  const gateways = new Informer<Gateway>(client, R.gateways, { onError: onError('gateways') });
  const routes = new Informer<HTTPRoute>(client, R.httproutes, { onError: onError('httproutes') });
  const services = new Informer<KubeObject>(client, R.services, { onError: onError('services') });
  const slices = new Informer<EndpointSlice>(client, R.endpointslices, { onError: onError('endpointslices') });
  await Promise.all([classes.start(), gateways.start(), routes.start(), services.start(), slices.start()]);

  const faults = new Map<string, Fault>();
  const profiles = new Map<string, TrafficProfile>();
  const defaultProfile: TrafficProfile = { ratePerSecond: args.rate, variants: [{ share: 1, path: '/' }] };

  const ourClass = (name: string) => classes.get(undefined, name)?.spec.controllerName === CONTROLLER_NAME;
  const ourGateway = (ns: string, name: string) => {
    const gw = gateways.get(ns, name);
    return gw !== undefined && ourClass(gw.spec.gatewayClassName);
  };
  const ourParents = (route: HTTPRoute) =>
    (route.spec.parentRefs ?? []).filter(
      (p) => (p.kind ?? 'Gateway') === 'Gateway' && ourGateway(p.namespace ?? route.metadata.namespace ?? '', p.name),
    );

  const metrics = new SimulatorMetrics();
  const engine = new TrafficEngine(
    {
      routes: (): ActiveRoute[] =>
        routes
          .items()
          .filter((r) => ourParents(r).length > 0)
          .map((r) => ({ namespace: r.metadata.namespace ?? '', name: r.metadata.name, rules: r.spec.rules ?? [] })),
      backend: (namespace, service) => ({
        exists: services.get(namespace, service) !== undefined,
        // Each request asks this: scanning every slice per request cost the simulator most of a
        // core at 1,000 Services (issue 31); only the namespace's are read.
        readyEndpoints: readyEndpointsOf(slices, namespace, service),
      }),
      fault: (namespace, service) => faults.get(`${namespace}/${service}`),
      profile: (namespace, route) => profiles.get(`${namespace}/${route}`) ?? defaultProfile,
    },
    metrics,
  );

  // Status: written only when it differs, so the simulator causes no write storm.
  const now = () => new Date().toISOString();
  /** Status PATCHes sent (GET /status-writes): what a quiet world must keep near zero at rest. */
  let statusWrites = 0;
  async function syncStatus(): Promise<void> {
    for (const gc of classes.items()) {
      if (gc.spec.controllerName !== CONTROLLER_NAME) continue;
      const desired = [
        {
          type: 'Accepted',
          status: 'True' as const,
          reason: 'Accepted',
          message: 'Handled by the sluice traffic simulator',
          observedGeneration: gc.metadata.generation,
        },
      ];
      if (!conditionsEqual(gc.status?.conditions, desired)) {
        statusWrites++;
        await client.patch(at(R.gatewayclasses, undefined, gc.metadata.name, 'status'), {
          status: { conditions: withTransitionTimes(desired, gc.status?.conditions, now()) },
        });
      }
    }
    for (const gw of gateways.items()) {
      if (!ourClass(gw.spec.gatewayClassName)) continue;
      const desired = gatewayConditions(gw.metadata.generation);
      if (!conditionsEqual(gw.status?.conditions, desired)) {
        statusWrites++;
        await client.patch(at(R.gateways, gw.metadata.namespace, gw.metadata.name, 'status'), {
          status: { conditions: withTransitionTimes(desired, gw.status?.conditions, now()) },
        });
      }
    }
    // Only the routes that changed, or whose namespace's Services did, since the last pass (all of
    // them after a GatewayClass or Gateway change): at 1,000 routes a full pass on every change
    // took the simulator tens of CPU seconds while Canaries initialised.
    const todo = changedRoutes.take(routes);
    for (const route of todo) {
      const ns = route.metadata.namespace ?? '';
      const mine = ourParents(route);
      const unresolved = [
        ...new Set(
          (route.spec.rules ?? [])
            .flatMap((r) => r.backendRefs ?? [])
            .filter((b) => !services.get(b.namespace ?? ns, b.name))
            .map((b) => b.name),
        ),
      ];
      const current = route.status?.parents ?? [];
      const others = current.filter((p) => p.controllerName !== CONTROLLER_NAME);
      const ours = mine.map((parentRef) => {
        const prev = current.find((p) => p.controllerName === CONTROLLER_NAME && sameParent(p.parentRef, parentRef, ns));
        const desired = routeParentConditions(route.metadata.generation, unresolved);
        return {
          parentRef,
          controllerName: CONTROLLER_NAME,
          conditions:
            conditionsEqual(prev?.conditions, desired) && prev ? prev.conditions : withTransitionTimes(desired, prev?.conditions, now()),
        };
      });
      const next = [...others, ...ours];
      // Compared as structures: the apiserver returns keys in its own order, so text never matches.
      if (canonicalJson(next) !== canonicalJson(current)) {
        statusWrites++;
        await client.patch(at(R.httproutes, ns, route.metadata.name, 'status'), { status: { parents: next } });
      }
    }
  }
  // One status pass at a time: a change seen during a pass (often the pass's own write) runs
  // one more pass after it, never a second one beside it.
  let statusQueued = false;
  let statusRunning = false;
  const queueStatus = () => {
    if (statusQueued) return;
    statusQueued = true;
    if (statusRunning) return;
    setTimeout(runStatus, 50);
  };
  const runStatus = () => {
    statusQueued = false;
    statusRunning = true;
    syncStatus()
      .catch((err) => {
        // The routes this pass took may not have been written: the next pass looks at them all.
        changedRoutes.all();
        onError('status')(err);
      })
      .finally(() => {
        statusRunning = false;
        if (statusQueued) setTimeout(runStatus, 50);
      });
  };
  const changedRoutes = new ChangedRoutes();
  classes.onChange(() => changedRoutes.all());
  gateways.onChange(() => changedRoutes.all());
  routes.onChange((_t, r) => changedRoutes.route(r.metadata.namespace ?? '', r.metadata.name));
  services.onChange((_t, svc) => changedRoutes.namespace(svc.metadata.namespace ?? ''));
  for (const inf of [classes, gateways, routes, services] as Informer<KubeObject>[]) inf.onChange(queueStatus);
  queueStatus();

  const TICK_MS = 100;
  let last = Date.now();
  setInterval(() => {
    const t = Date.now();
    // A stalled event loop must not turn into a burst: at most one second is made up.
    engine.tick(Math.min(t - last, 1000));
    last = t;
  }, TICK_MS);

  const app = express();
  app.use(express.json({ limit: '64kb' }));
  app.get('/healthz', (_req, res) => void res.send('ok'));
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.get('/stats', (_req, res) => void res.json(Object.fromEntries(engine.stats)));
  app.get('/status-writes', (_req, res) => void res.json({ statusWrites }));
  mountFaultApi(app, faults);
  app.put('/traffic/:namespace/:route', (req, res) => {
    const body = req.body as Partial<TrafficProfile>;
    const rate = body.ratePerSecond ?? args.rate;
    const variants = body.variants ?? defaultProfile.variants;
    if (typeof rate !== 'number' || rate < 0 || rate > 2000 || !Array.isArray(variants) || variants.length === 0) {
      res
        .status(400)
        .json({ error: 'ratePerSecond must be 0..2000 and variants a non-empty list of {share, path, method, headers, query, clients}' });
      return;
    }
    const profile = { ratePerSecond: rate, variants };
    profiles.set(`${req.params.namespace}/${req.params.route}`, profile);
    res.json(profile);
  });
  app.delete('/traffic/:namespace/:route', (req, res) => {
    profiles.delete(`${req.params.namespace}/${req.params.route}`);
    res.status(204).end();
  });
  const server = app.listen(args.port, '127.0.0.1', () =>
    console.log(`simulator: serving on 127.0.0.1:${args.port}, ${args.rate} requests/s per route`),
  );
  const shutdown = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  console.error(`simulator: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
