// The dashboard's HTTP surface, the same for both ways it runs: a guard in front (local: the
// one-time-token session; in the cluster: the person's bearer token), then the page, its script,
// one event stream per page, the person's rights, and actions. Every read and action goes
// through the person's own client, so the apiserver decides all of them.

import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ACTION_KIND, ACTION_REF, ACTION_VERSION, type ActionVerb, type CanaryAction, VERBS } from '../api/canary-action.js';
import { GROUP } from '../api/contract.js';
import { type Canary, CR } from '../api/flagger-types.js';
import { type RolloutView, rolloutView } from '../cli/rollout-view.js';
import { ApiError, at } from '../lib/kube/client.js';
import type { Log } from '../lib/stderr-logger.js';
import type { Batch, CanaryFeed } from './canary-feed.js';
import { EventStream } from './event-stream.js';
import type { History, MetricHistory } from './metric-history.js';
import { type Person, type RightsCache, whoAmI } from './person.js';
import { type TemplateChange, templateDiff } from './revision-diff.js';
import { whyText } from './why-text.js';

export interface DashboardOptions {
  guard: RequestHandler;
  /** The person a request comes from (after the guard let it in). */
  personOf: (req: Request) => Person;
  /** The Canaries the person may read (local mode: one feed; it is theirs). */
  feedOf: (req: Request) => CanaryFeed;
  rights: (req: Request) => RightsCache;
  /**
   * In the cluster the feed is the dashboard's own (one watch for everyone): each person's stream
   * carries only the namespaces this says they may read Canaries in. Locally the feed is already
   * the person's own reads, and nothing is filtered.
   */
  visibleTo?: (req: Request) => (namespace: string) => Promise<boolean>;
  /** Where index.html and app.js were built (dist/dashboard/ui). */
  uiDir: string;
  /** Path prefix the dashboard is served under behind an ingress ('' at the root). */
  basePath?: string;
  logger: Log;
  /** Each metric's recent values for the charts; none without a Prometheus to ask. */
  history?: MetricHistory;
  /**
   * Whose streams count together against `streamsPerPerson` (in the cluster, the username;
   * locally, everyone is the one person).
   */
  personKey?: (req: Request) => string;
  /** Event streams one person may hold open at once (each page holds one); past it, 429. */
  streamsPerPerson?: number;
  /** Event streams the process holds open at once, for everyone together. */
  streamsInAll?: number;
  /** For /readyz: true once the Canaries are listed. */
  ready?: () => boolean;
  /** The page offers to sign out (in the cluster: the pasted token's cookie is cleared). */
  signOut?: boolean;
  /** How often an open Canary page's objects (pods, route, Events) are read again. */
  detailRefreshMs?: number;
  heartbeatMs?: number;
}

/** A DNS-1123 name: what the path may carry into an apiserver URL. */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const MAX_REASON = 1024;

export interface ActionRecord {
  name: string;
  action: string;
  by: string;
  reason: string;
  result: string;
  message: string;
  at: string;
}

export interface Detail {
  view: RolloutView;
  actions: ActionRecord[];
  history?: History;
  /** The candidate's pod template against the stable one; empty when nothing is under test. */
  diff: TemplateChange[];
  /** The analysis webhooks (gates, hooks) the Canary declares: name and type, never their URLs. */
  hooks: { name: string; type: string }[];
  /** What `kubectl sluice why` says of its target. */
  why?: string;
}

function actionRecord(a: CanaryAction): ActionRecord {
  return {
    name: a.metadata.name,
    action: a.spec.action,
    by: a.spec.username ?? '',
    reason: a.spec.reason ?? '',
    result: a.status?.result ?? 'Pending',
    message: a.status?.message ?? '',
    at: a.metadata.creationTimestamp ?? '',
  };
}

/** One Canary as its page shows it: the view (with more Events than the terminal's), and the actions taken on it. */
export async function detailOf(person: Person, canary: Canary, history?: MetricHistory): Promise<Detail> {
  const ns = canary.metadata.namespace!;
  const templates: { stable?: unknown; candidate?: unknown } = {};
  const [view, actions, charts] = await Promise.all([
    rolloutView(person.client, canary, new Date(), { events: 30, templates }),
    person.client
      .list<CanaryAction>(at(ACTION_REF, ns))
      .then((l) => l.items.filter((a) => a.spec.canary === canary.metadata.name))
      .catch((err) => {
        // A person who may read Canaries but not CanaryActions still sees the rest.
        if (err instanceof ApiError && err.status === 403) return [];
        throw err;
      }),
    history?.of(canary),
  ]);
  return {
    ...(charts ? { history: charts } : {}),
    diff: templateDiff(templates.stable, templates.candidate),
    hooks: (canary.spec.analysis?.webhooks ?? []).map((w) => ({ name: w.name, type: w.type ?? 'rollout' })),
    view,
    actions: actions
      .map(actionRecord)
      .sort((a, b) => b.at.localeCompare(a.at))
      .slice(0, 50),
  };
}

function index(uiDir: string, basePath: string): string {
  const html = fs.readFileSync(path.join(uiDir, 'index.html'), 'utf8');
  // The page's links and requests are relative to <base>: it works under any prefix.
  return html.replace('<base href="/">', `<base href="${basePath.replace(/[^A-Za-z0-9/_.~-]/g, '')}/">`);
}

function fail(res: Response, logger: Log, err: unknown, what: string): void {
  if (res.headersSent) return;
  if (err instanceof ApiError) {
    // The apiserver's own refusal, passed on as it said it (403 stays 403).
    res.status(err.status >= 400 && err.status < 600 ? err.status : 502).json({ error: err.message });
    return;
  }
  logger.warn('dashboard request failed', { what, err: String(err) });
  res.status(502).json({ error: `${what}: ${(err as Error).message ?? String(err)}` });
}

/**
 * Open event streams, per person and in all: each costs the process a subscription (and on a
 * Canary's page, reads every few seconds), so neither one person's tabs nor everyone's together
 * may grow without bound.
 */
class StreamCount {
  private readonly byPerson = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly perPerson: number,
    private readonly inAll: number,
  ) {}

  /** A release function, or a refusal (429) already sent. */
  take(key: string, res: Response): (() => void) | undefined {
    const mine = this.byPerson.get(key) ?? 0;
    if (mine >= this.perPerson || this.total >= this.inAll) {
      res
        .status(429)
        .setHeader('retry-after', '5')
        .json({
          error:
            mine >= this.perPerson
              ? `you have ${mine} dashboard pages streaming already (at most ${this.perPerson}); close some`
              : `the dashboard serves ${this.total} streams already (at most ${this.inAll}); try again shortly`,
        });
      return undefined;
    }
    this.byPerson.set(key, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.byPerson.get(key) ?? 1) - 1;
      if (left > 0) this.byPerson.set(key, left);
      else this.byPerson.delete(key);
    };
  }
}

/** The path's namespace and name, refused unless both are names the apiserver could hold. */
function named(req: Request, res: Response, next: NextFunction): void {
  const { namespace, name } = req.params as { namespace: string; name: string };
  if (!NAME.test(namespace) || !NAME.test(name)) {
    res.status(400).json({ error: `"${namespace}/${name}" is not a namespace and a Canary name` });
    return;
  }
  next();
}

/** Every Canary the person may read: a snapshot (or what a reconnecting page missed), then each batch. */
function listStream(opts: DashboardOptions, count: StreamCount): RequestHandler {
  return (req, res) => {
    const release = count.take(opts.personKey?.(req) ?? '', res);
    if (!release) return;
    const feed = opts.feedOf(req);
    const stream = new EventStream(res, { heartbeatMs: opts.heartbeatMs });
    stream.onClose(release);
    // The browser sends Last-Event-ID when it reconnects a stream; a page opening a new one puts it in the query.
    const lastId = req.header('last-event-id') ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
    const visible = opts.visibleTo?.(req);
    const only = async <T>(items: T[], ns: (t: T) => string): Promise<T[]> => {
      if (!visible) return items;
      const keep = await Promise.all(items.map((i) => visible(ns(i))));
      return items.filter((_, n) => keep[n]);
    };
    const filtered = async (b: Batch): Promise<Batch> => ({
      id: b.id,
      upserts: await only(b.upserts, (v) => v.namespace),
      removed: await only(b.removed, (k) => k.slice(0, k.indexOf('/'))),
    });
    // Batches go out in order even when deciding what a person may see takes a moment.
    let queue: Promise<void> = Promise.resolve();
    const enqueue = (work: () => Promise<void>) => {
      queue = queue.then(work).catch((err) => {
        stream.send('problem', { error: `the dashboard could not tell what you may read: ${(err as Error).message}` });
        stream.close();
      });
    };
    const missed = feed.since(lastId);
    enqueue(async () => {
      if (missed) for (const b of missed) stream.send('changes', await filtered(b), b.id);
      else {
        const snap = feed.snapshot();
        stream.send('snapshot', { id: snap.id, items: await only(snap.items, (v) => v.namespace) }, snap.id);
      }
    });
    stream.onClose(feed.subscribe((b) => enqueue(async () => stream.send('changes', await filtered(b), b.id))));
  };
}

/**
 * One Canary's page: its detail read with the person's own client whenever the feed says it
 * changed, and every few seconds for what the feed does not carry (pods, the route, Events).
 */
function detailStream(opts: DashboardOptions, count: StreamCount): RequestHandler {
  return (req, res) => {
    const release = count.take(opts.personKey?.(req) ?? '', res);
    if (!release) return;
    const { namespace, name } = req.params as { namespace: string; name: string };
    const person = opts.personOf(req);
    const feed = opts.feedOf(req);
    const stream = new EventStream(res, { heartbeatMs: opts.heartbeatMs });
    stream.onClose(release);
    let last = '';
    let reading = false;
    let again = false;
    // `why` reads the target and the Canary again: asked only when the Canary changed.
    let whyOf = { version: '', text: undefined as string | undefined };
    const refresh = async (): Promise<void> => {
      // One read at a time per page; a change during a read asks for one more.
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          const canary = await person.client.find<Canary>(at(CR.canaries, namespace, name));
          if (canary && canary.metadata.resourceVersion !== whyOf.version)
            whyOf = { version: canary.metadata.resourceVersion ?? '', text: await whyText(person.client, canary).catch(() => undefined) };
          const data = canary
            ? { ...(await detailOf(person, canary, opts.history)), ...(whyOf.text ? { why: whyOf.text } : {}) }
            : { gone: `no Canary ${name} in namespace ${namespace}` };
          const text = JSON.stringify(data);
          if (text !== last && !stream.isClosed) {
            last = text;
            stream.send(canary ? 'detail' : 'gone', data);
          }
        } while (again && !stream.isClosed);
      } catch (err) {
        const status = err instanceof ApiError ? err.status : 0;
        stream.send('problem', { status, error: (err as Error).message ?? String(err) });
      } finally {
        reading = false;
      }
    };
    void refresh();
    const key = `${namespace}/${name}`;
    stream.onClose(
      feed.subscribe((b) => {
        if (b.upserts.some((v) => v.namespace === namespace && v.name === name) || b.removed.includes(key)) void refresh();
      }),
    );
    const timer = setInterval(() => void refresh(), opts.detailRefreshMs ?? 2000);
    stream.onClose(() => clearInterval(timer));
  };
}

/** An action: a CanaryAction created with the person's own credentials (their RBAC decides, admission stamps their name). */
function actionHandler(opts: DashboardOptions): RequestHandler {
  return async (req, res) => {
    const { namespace, name } = req.params as { namespace: string; name: string };
    const body = (req.body ?? {}) as { action?: unknown; reason?: unknown };
    if (typeof body.action !== 'string' || !(VERBS as readonly string[]).includes(body.action)) {
      res.status(400).json({ error: `action must be one of ${VERBS.join(', ')}` });
      return;
    }
    if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > MAX_REASON)) {
      res.status(400).json({ error: `reason must be text of at most ${MAX_REASON} characters` });
      return;
    }
    const reason = (body.reason as string | undefined)?.trim();
    if (body.action === 'break-glass' && !reason) {
      res.status(400).json({ error: 'break-glass needs a reason: it is recorded with your name' });
      return;
    }
    const action = body.action as ActionVerb;
    try {
      // Created with the person's own credentials: their RBAC decides, and admission stamps their name.
      const created = await opts.personOf(req).client.create<CanaryAction>(at(ACTION_REF, namespace), {
        apiVersion: `${GROUP}/${ACTION_VERSION}`,
        kind: ACTION_KIND,
        metadata: { generateName: `${name}-${action}-`, namespace },
        spec: { canary: name, action, ...(reason ? { reason } : {}) },
      });
      res.status(201).json(actionRecord(created));
    } catch (err) {
      fail(res, opts.logger, err, `${action} of ${namespace}/${name}`);
    }
  };
}

export function createDashboard(opts: DashboardOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const base = (opts.basePath ?? '').replace(/\/+$/, '');
  // The kubelet's probes, at the root and before the door: they carry no one's token.
  app.get('/healthz', (_req, res) => void res.type('text').send('ok'));
  app.get(
    '/readyz',
    (_req, res) =>
      void ((opts.ready?.() ?? true) ? res.type('text').send('ok') : res.status(503).type('text').send('Canaries not listed yet')),
  );
  const r = express.Router();
  app.use(base || '/', r);
  r.use(opts.guard);
  r.use((_req, res, next) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader(
      'content-security-policy',
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'self'; form-action 'none'; frame-ancestors 'none'",
    );
    next();
  });

  const page = index(opts.uiDir, base);
  const sendPage: RequestHandler = (_req, res) => void res.type('html').setHeader('cache-control', 'no-store').send(page);
  r.get('/', sendPage);
  r.get('/canary/:namespace/:name', sendPage);
  r.get('/app.js', (_req, res) => void res.sendFile(path.join(path.resolve(opts.uiDir), 'app.js')));
  r.get('/app.css', (_req, res) => void res.sendFile(path.join(path.resolve(opts.uiDir), 'app.css')));

  r.get('/api/whoami', async (req, res) => {
    try {
      res.json({ user: await whoAmI(opts.personOf(req).client), ...(opts.signOut ? { signOut: true } : {}) });
    } catch (err) {
      fail(res, opts.logger, err, 'who am I');
    }
  });

  const streams = new StreamCount(opts.streamsPerPerson ?? 20, opts.streamsInAll ?? 2000);
  r.get('/api/stream', listStream(opts, streams));

  r.get('/api/canaries/:namespace/:name/stream', named, detailStream(opts, streams));

  r.get('/api/rights', async (req, res) => {
    const namespace = String(req.query.namespace ?? '');
    if (!NAME.test(namespace)) {
      res.status(400).json({ error: 'rights need ?namespace=NAME' });
      return;
    }
    try {
      res.json(await opts.rights(req).rights(opts.personOf(req).client, namespace));
    } catch (err) {
      fail(res, opts.logger, err, 'asking the apiserver what you may do');
    }
  });

  r.post('/api/canaries/:namespace/:name/actions', named, express.json({ limit: '16kb', strict: true }), actionHandler(opts));

  // Anything else under the prefix: JSON for the API, the page for the rest (the page routes itself).
  r.use('/api', (_req, res) => void res.status(404).json({ error: 'no such dashboard API' }));
  // A body that is not JSON, or too large: said in one line, never with a stack.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) opts.logger.error('dashboard request failed', { err: String(err) });
    res.status(status).json({
      error:
        err.type === 'entity.too.large'
          ? 'the request body is too large'
          : status === 500
            ? 'the dashboard failed; see its log'
            : 'the request body is not JSON',
    });
  });
  return app;
}
