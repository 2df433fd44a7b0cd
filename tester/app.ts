// sluice's tester: the endpoints Flagger's guides point their webhooks at, without a shell.
//   /gate/open|close|check       manual gating per Canary (check answers 200 when open, 403 when closed)
//   /gate/approve, /gate/halt    always 200, always 403
//   /rollback/open|close|check   a rollback switch per Canary (check answers 200 when open)
//   POST /                       start a bounded load task from metadata (hey command or plain), once per Canary and command
//   GET /status                  gates, switches and running tasks
// Limits: Canary names as Kubernetes spells them; at most `maxSwitches` gates and switches open and
// `maxTasks` load tasks running (past them: 429, saying which). With a token, opening and closing
// gates and switches needs `Authorization: Bearer <token>`; checks and load tasks stay open to the
// hooks, which send no credentials (Flagger's webhooks cannot).
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../lib/logger.js';
import { parseHey, parsePlain, type RunningTask, runTask } from './load-task.js';

interface HookBody {
  name?: string;
  namespace?: string;
  metadata?: Record<string, string>;
}

export interface Tester {
  app: express.Express;
  tasks: Map<string, RunningTask>;
  stopAll: () => Promise<void>;
}

export interface TesterOptions {
  /** Gates and rollback switches open at once, in all. */
  maxSwitches?: number;
  /** Load tasks running at once. */
  maxTasks?: number;
  /** When set, /gate and /rollback open and close need this bearer token. */
  token?: string;
}

export const TESTER_DEFAULTS = { maxSwitches: 10_000, maxTasks: 50 };

// A DNS-1123 subdomain (a Canary's name) and label (a namespace), as the apiserver checks them.
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function sameToken(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Canary a hook names, as `name.namespace`; answers 400 and gives undefined when it names none. */
function canaryOf(req: Request, res: Response): string | undefined {
  const b = (req.body ?? {}) as HookBody;
  if (typeof b.name !== 'string' || typeof b.namespace !== 'string' || !b.name || !b.namespace) {
    res
      .status(400)
      .json({ error: 'expected a JSON body with the Canary\'s name and namespace, e.g. {"name":"podinfo","namespace":"test"}' });
    return undefined;
  }
  if (!NAME.test(b.name) || !NAMESPACE.test(b.namespace)) {
    res.status(400).json({
      error:
        'name and namespace must be a Canary\'s name and namespace as Kubernetes spells them (lowercase letters, digits, "-", at most 253 and 63 characters)',
    });
    return undefined;
  }
  return `${b.name}.${b.namespace}`;
}

// A body that is not JSON, too large, or anything else that fails: a JSON answer naming it,
// never express's HTML page (hook callers log the body they get).
function jsonErrors(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 500;
    if (status === 500) logger.error(`tester: ${e.message ?? String(err)}`);
    res.status(status).json({
      error:
        e.type === 'entity.too.large' ? 'body larger than 64kb' : status === 500 ? 'internal error' : `bad request: ${e.message ?? ''}`,
    });
  };
}

/** The load task a hook's metadata describes; throws saying what the metadata must be. */
function loadTaskOf(meta: Record<string, string>) {
  if (meta.type === 'load') return parsePlain(meta);
  if ((meta.type === undefined || meta.type === 'cmd') && meta.cmd) return parseHey(meta.cmd);
  throw new Error(`metadata must be {type: cmd, cmd: "hey …"} or {type: load, url, rate, duration}; got type ${meta.type ?? '(none)'}`);
}

/** What GET /status shows: gates and switches open, and each running task's progress. */
function statusOf(gates: Set<string>, rollbacks: Set<string>, tasks: Map<string, RunningTask>) {
  return {
    gates: [...gates].sort(),
    rollbacks: [...rollbacks].sort(),
    tasks: [...tasks.values()].map((t) => ({
      task: t.key,
      sent: t.sent,
      failed: t.failed,
      secondsLeft: Math.max(0, Math.round((t.task.durationMs - (Date.now() - t.started)) / 1000)),
    })),
  };
}

export function createTester(logger: Logger, opts: TesterOptions = {}): Tester {
  const maxSwitches = opts.maxSwitches ?? TESTER_DEFAULTS.maxSwitches;
  const maxTasks = opts.maxTasks ?? TESTER_DEFAULTS.maxTasks;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb', type: () => true }));
  const gates = new Set<string>();
  const rollbacks = new Set<string>();
  const tasks = new Map<string, RunningTask>();

  /** Whether the caller may open or close (always, without a token); answers 401 when not. */
  const authorised = (req: Request, res: Response): boolean => {
    if (opts.token === undefined) return true;
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (given !== undefined && sameToken(given, opts.token)) return true;
    res.status(401).json({ error: 'opening and closing needs "Authorization: Bearer <token>" (the tester runs with --token-file)' });
    return false;
  };
  const switchRoutes = (path: string, set: Set<string>, what: string) => {
    for (const [action, open] of [
      ['open', true],
      ['close', false],
    ] as const) {
      app.post(`/${path}/${action}`, (req, res) => {
        if (!authorised(req, res)) return;
        const key = canaryOf(req, res);
        if (!key) return;
        if (open && !set.has(key) && gates.size + rollbacks.size >= maxSwitches) {
          res.status(429).json({ error: `${maxSwitches} gates and switches are open already; close some first` });
          return;
        }
        if (open) set.add(key);
        else set.delete(key);
        logger.info(`${what} ${open ? 'opened' : 'closed'} for ${key}`);
        res.json({ [key]: open ? 'open' : 'closed' });
      });
    }
    app.post(`/${path}/check`, (req, res) => {
      const key = canaryOf(req, res);
      if (!key) return;
      if (set.has(key)) res.json({ [key]: 'open' });
      else res.status(403).json({ [key]: 'closed' });
    });
  };
  switchRoutes('gate', gates, 'gate');
  switchRoutes('rollback', rollbacks, 'rollback switch');
  app.post('/gate/approve', (_req, res) => void res.json({ gate: 'approved' }));
  app.post('/gate/halt', (_req, res) => void res.status(403).json({ gate: 'halted' }));

  app.post('/', (req, res) => {
    const key = canaryOf(req, res);
    if (!key) return;
    const meta = ((req.body as HookBody).metadata ?? {}) as Record<string, string>;
    // A load task makes the tester send traffic: with a token set, only a caller that has it may
    // start one. A Canary's hook cannot send headers (Flagger's webhooks have none), so the token
    // may come in its metadata: readable by whoever reads the Canary, i.e. its team.
    if (opts.token !== undefined) {
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? (typeof meta.token === 'string' ? meta.token : undefined);
      if (given === undefined || !sameToken(given, opts.token)) {
        res.status(401).json({ error: `${key}: load tasks need the tester's token, as "Authorization: Bearer <token>" or metadata.token` });
        return;
      }
    }
    let task;
    try {
      task = loadTaskOf(meta);
    } catch (err) {
      res.status(400).json({ error: `${key}: ${(err as Error).message}` });
      return;
    }
    // As Flagger's tester: a command already running for this Canary is not started twice.
    const { token: _token, ...described } = meta;
    const taskKey = `${key} ${meta.cmd ?? JSON.stringify(described)}`;
    const running = tasks.get(taskKey);
    if (running) {
      res.json({ task: taskKey, state: 'already running', sent: running.sent });
      return;
    }
    if (tasks.size >= maxTasks) {
      res.status(429).json({ error: `${key}: ${maxTasks} load tasks are running already; try again when one ends` });
      return;
    }
    const r = runTask(taskKey, task);
    tasks.set(taskKey, r);
    void r.done.finally(() => tasks.delete(taskKey));
    logger.info(`load task started for ${key}: ${task.method} ${task.url} at ${task.ratePerSecond}/s for ${task.durationMs / 1000}s`);
    res.json({ task: taskKey, state: 'started' });
  });

  app.get('/status', (_req, res) => void res.json(statusOf(gates, rollbacks, tasks)));
  app.get('/healthz', (_req, res) => void res.type('text').send('ok'));
  app.use(jsonErrors(logger));

  return {
    app,
    tasks,
    stopAll: async () => {
      for (const t of tasks.values()) t.stop();
      await Promise.all([...tasks.values()].map((t) => t.done));
    },
  };
}
