// `sluice controller`'s flags (`sluice controller --help` lists them), and the settings read
// from them, each checked with a message naming the flag.
import os from 'node:os';
import { DEFAULT_DENIED_CIDRS } from '../lib/egress-guard.js';
import { type FlagValues, nonNegativeSeconds, positiveCount, positiveSeconds } from '../lib/flags.js';
import { DEFAULT_CHECK_LIMITS } from './checks-in-flight.js';

export const controllerProgram = {
  name: 'sluice controller',
  summary:
    'The rollout controller: tries each new revision of a managed Deployment on its canary copy, shifts HTTPRoute weights while the analysis passes, then releases it or rolls it back.',
  options: {
    kubeconfig: { type: 'string', help: 'kubeconfig file; without it, $KUBECONFIG, then the in-cluster service account' },
    'in-cluster-root': {
      type: 'string',
      help: 'use the in-cluster service account found below this directory (DIR/var/run/secrets/kubernetes.io/serviceaccount) and $KUBERNETES_SERVICE_HOST/PORT: a process outside a Pod running as if inside one',
    },
    'metrics-server': {
      type: 'string',
      default: 'http://prometheus.monitoring:9090',
      help: "Prometheus address for metrics without a template's own address",
    },
    'prometheus-timeout': { type: 'string', default: '5', help: 'seconds a Prometheus query may take' },
    'metrics-port': { type: 'string', default: '8082', help: 'plain HTTP port for /metrics, /healthz and /readyz' },
    'bind-address': { type: 'string', default: '0.0.0.0', help: 'address the metrics server listens on' },
    'min-interval': { type: 'string', default: '10', help: 'floor, in seconds, for analysis intervals' },
    'poll-interval': {
      type: 'string',
      default: '30',
      help: "seconds before looking again at a Deployment's rollout a Canary waits on, if no change of that Deployment woke it first (each change does)",
    },
    // A gateway reports a route as Accepted before its data plane serves it (Traefik applies its
    // configuration at most every 2 s by default): pods taken out of the route stay this long
    // after the write, and until every gateway reports it (docs/real-gateway.md has the figures).
    'drain-delay': {
      type: 'string',
      default: '5',
      help: 'seconds pods the route no longer sends traffic to keep running after the route changes (a canary scaled down, a primary rolled at the release); 0 waits only for the gateways to report the route',
    },
    // A pass mostly waits on the apiserver, so more at once cost little CPU; with 4, and still
    // with 16, a wave of 100 new revisions waited in the queue behind each other before their
    // canaries were scaled up (sluice_controller_queue_wait_seconds shows it; issue 31).
    concurrency: { type: 'string', default: '64', help: 'Canaries reconciled at once' },
    'max-checks': {
      type: 'string',
      default: String(DEFAULT_CHECK_LIMITS.maxInFlight),
      help: "analysis checks (one Canary's hooks of one type, or its metric queries) running at once, beside the reconcile workers",
    },
    'max-checks-per-namespace': {
      type: 'string',
      default: String(DEFAULT_CHECK_LIMITS.maxPerNamespace),
      help: 'of those, how many one namespace may hold, so no tenant takes every slot',
    },
    'leader-elect': { type: 'boolean', default: true, help: 'act only while holding the Lease (run two replicas with it on)' },
    'lease-namespace': { type: 'string', default: 'sluice-system', help: 'namespace of the leader Lease' },
    'lease-name': { type: 'string', default: 'sluice-controller', help: 'name of the leader Lease' },
    'lease-duration': { type: 'string', default: '15', help: 'seconds a Lease is held without renewal' },
    'renew-deadline': { type: 'string', default: '10', help: 'seconds the leader tries to renew before it stops acting' },
    'retry-period': { type: 'string', default: '2', help: 'seconds between Lease attempts' },
    identity: {
      type: 'string',
      default: `${os.hostname()}-${process.pid}`,
      help: 'holder identity in the Lease (the Pod name in a cluster)',
    },
    // As client-go's reflector: a list at start and whenever a watch cannot resume (410 Gone, an
    // ERROR event), never on a timer: a timed re-list of every kind is idle CPU and requests paid at
    // every Canary count (docs/controller.md has the measured cost).
    'relist-interval': {
      type: 'string',
      help: 'seconds between full re-lists of every watched kind, besides those a watch needs (default: none)',
    },
    'alert-timeout': { type: 'string', default: '10', help: 'seconds an alert delivery may take' },
    'alert-retries': { type: 'string', default: '3', help: 'attempts per alert' },
    'alert-backoff': { type: 'string', default: '1', help: 'seconds before the first retry (doubling)' },
    'deny-egress-cidr': {
      type: 'string',
      multiple: true,
      default: DEFAULT_DENIED_CIDRS,
      help: 'address ranges hooks, alert providers and MetricTemplate addresses may not resolve to (repeatable; default: link-local, where clouds serve instance metadata); --deny-egress-cidr= allows all',
    },
  },
} as const;

export type ControllerFlags = FlagValues<typeof controllerProgram.options>;

/** The controller's settings, each read and checked once (a FlagError names the flag that is wrong). */
export function controllerSettings(flags: ControllerFlags) {
  const ms = (name: keyof ControllerFlags) => positiveSeconds(name, flags[name] as string | undefined) * 1000;
  const count = (name: 'max-checks' | 'max-checks-per-namespace' | 'concurrency') => positiveCount(name, flags[name]);
  return {
    deniedCidrs: (flags['deny-egress-cidr'] ?? []).filter((c) => c.trim() !== ''),
    relistIntervalMs: flags['relist-interval'] === undefined ? undefined : ms('relist-interval'),
    alerts: { timeoutMs: ms('alert-timeout'), retries: Number(flags['alert-retries']), backoffMs: ms('alert-backoff') },
    checks: { ...DEFAULT_CHECK_LIMITS, maxInFlight: count('max-checks'), maxPerNamespace: count('max-checks-per-namespace') },
    concurrency: count('concurrency'),
    reconcile: {
      minIntervalMs: ms('min-interval'),
      pollMs: ms('poll-interval'),
      prometheus: flags['metrics-server']!,
      prometheusTimeoutMs: ms('prometheus-timeout'),
      drainDelayMs: nonNegativeSeconds('drain-delay', flags['drain-delay']) * 1000,
    },
    metrics: { port: Number(flags['metrics-port']), address: flags['bind-address']! },
    lease: flags['leader-elect']
      ? {
          namespace: flags['lease-namespace']!,
          name: flags['lease-name']!,
          identity: flags.identity!,
          leaseDurationMs: ms('lease-duration'),
          renewDeadlineMs: ms('renew-deadline'),
          retryMs: ms('retry-period'),
        }
      : undefined,
  };
}
