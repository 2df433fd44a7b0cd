// The webhook's HTTP routes, independent of TLS so supertest can drive them directly.

import { performance } from 'node:perf_hooks';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../lib/logger.js';
import {
  type Answer,
  answerCopy,
  answerDaemonPod,
  answerMutate,
  answerPin,
  answerStamp,
  answerValidate,
  BadReviewError,
  parseReview,
} from './admission-review.js';
import type { AdmissionRequest } from './admission-types.js';
import type { CopySources } from './copy-decision.js';
import type { DaemonPodSources } from './daemon-pod-decision.js';
import type { FreezeContext, FreezeFlags } from './freeze-decision.js';
import type { WebhookMetrics } from './metrics.js';
import type { ValidateContext } from './validate-decision.js';

export interface AppOptions {
  flags: FreezeFlags;
  /** What /validate needs besides the request: the policies and Canaries from the caches. */
  validation: Omit<ValidateContext, 'controllerUsers'>;
  /** For /mutate on CREATE: the Canary targeting a Deployment and its predecessor's serving pods. */
  freeze?: FreezeContext;
  /** For /mutate-pod: the config snapshots a managed Deployment's primary pods are pinned to. */
  pins?: (namespace: string, deployment: string) => Record<string, string> | undefined;
  /** For /mutate-daemon-pod: managed DaemonSets and their revisions. */
  daemonPods?: DaemonPodSources;
  /** For /validate-copy: the Canaries targeting a Deployment, and the Deployment as last written. */
  copies?: CopySources;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Readiness: true once a serving certificate is loaded and the policy caches are filled. */
  ready: () => boolean;
  /** True after SIGTERM: every answer closes its connection, so callers reconnect elsewhere. */
  draining?: () => boolean;
  /** Largest accepted body. The apiserver's objects are at most ~1.5 MiB each; a review holds two. */
  bodyLimit?: string;
}

const ADMISSION_PATHS = new Set(['/mutate', '/validate', '/validate-copy', '/mutate-pod', '/mutate-daemon-pod', '/mutate-action']);

export function createApp(opts: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // The apiserver never revalidates: an ETag would only cost a hash of every answer.
  app.set('etag', false);
  if (opts.draining) {
    const draining = opts.draining;
    app.use((_req, res, next) => {
      if (draining()) res.setHeader('connection', 'close');
      next();
    });
  }
  // Only the apiserver has a reason to keep a connection here, and only for admission reviews:
  // every other answer (health, a wrong path) closes its connection, so nobody holds one as a
  // proven client by asking for /healthz now and then (lib/connection-governor.ts).
  app.use((req, res, next) => {
    if (req.method !== 'POST' || !ADMISSION_PATHS.has(req.path)) res.setHeader('connection', 'close');
    next();
  });
  app.get('/healthz', (_req, res) => void res.type('text').send('ok'));
  app.get(
    '/readyz',
    (_req, res) =>
      void (opts.ready()
        ? res.type('text').send('ok')
        : res.status(503).type('text').send('not ready: no serving certificate yet, or cluster policies still loading')),
  );

  const json = express.json({ limit: opts.bodyLimit ?? '4mb', type: () => true, strict: false });
  const review = (path: ReviewPath, decide: Decide) => app.post(`/${path}`, reviewHandler(opts, json, path, decide));
  review('mutate', (r) => answerMutate(r, opts.flags, opts.freeze));
  review('validate', (r) => answerValidate(r, { ...opts.validation, controllerUsers: opts.flags.controllerUsers }));
  review('mutate-pod', (r) => answerPin(r, opts.pins ?? (() => undefined)));
  const noCopies: CopySources = { canariesTargeting: () => [], target: async () => undefined };
  review('validate-copy', (r) => answerCopy(r, opts.flags.controllerUsers, opts.copies ?? noCopies));
  review('mutate-action', answerStamp);
  const noDaemonSets: DaemonPodSources = {
    managed: () => undefined,
    fresh: async () => undefined,
    revisions: async () => [],
  };
  review('mutate-daemon-pod', (r) => answerDaemonPod(r, opts.daemonPods ?? noDaemonSets));

  app.use(badInputHandler(opts));
  // Anything else: 404, connection closed (set above).
  app.use((_req: Request, res: Response) => void res.status(404).json({ error: 'not found: this port answers admission reviews only' }));
  return app;
}

type ReviewPath = 'mutate' | 'validate' | 'validate-copy' | 'mutate-pod' | 'mutate-daemon-pod' | 'mutate-action';
type Decide = (r: AdmissionRequest) => Answer | Promise<Answer>;

/**
 * One admission endpoint: parse, decide (pure), log what matters, answer, measure. Every
 * decision but one answers from memory; a frozen DaemonSet's pod may need a read.
 */
function reviewHandler(opts: AppOptions, json: express.RequestHandler, path: ReviewPath, decide: Decide): express.RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.locals.started = started;
    res.locals.endpoint = path;
    json(req, res, (err?: unknown) => {
      if (err) return next(err);
      let request: AdmissionRequest;
      let decided;
      try {
        request = parseReview(req.body);
        // This callback runs outside express's own error handling: whatever throws here must
        // reach the error handler below, or it would end the process.
        decided = decide(request);
      } catch (e) {
        return next(e);
      }
      if (decided instanceof Promise) decided.then((a) => send(request, a), next);
      else send(request, decided);
    });
    const send = (request: AdmissionRequest, answer: Answer) => {
      const quiet = answer.decision === 'passed' || answer.decision === 'allowed';
      const level = answer.decision === 'error' ? 'error' : quiet && !answer.notable ? 'debug' : 'info';
      // Most reviews pass; building a log entry nobody keeps would be paid on every one of them.
      if (opts.logger.isLevelEnabled(level)) {
        opts.logger.log(level, answer.note, {
          key: answer.subject,
          endpoint: path,
          decision: answer.decision,
          user: request.userInfo.username,
          dryRun: request.dryRun === true,
        });
      }
      res.json(answer.review);
      opts.metrics.observe(path, answer.decision, (performance.now() - started) / 1000);
    };
  };
}

/** Bad input: a clear message and a 4xx status, never a crash or a hang. */
function badInputHandler(opts: AppOptions) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    let status = 500;
    let message = 'internal error';
    if (err instanceof BadReviewError) {
      status = 400;
      message = err.message;
    } else if (e.type === 'entity.too.large') {
      status = 413;
      message = `request body larger than ${opts.bodyLimit ?? '4mb'}; an AdmissionReview of one Deployment is far smaller`;
    } else if (e.type === 'entity.parse.failed') {
      status = 400;
      message = `body is not valid JSON: ${e.message}`;
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      status = e.status;
      message = e.message ?? message;
    } else {
      opts.logger.error(`unexpected error serving ${req.method} ${req.path}: ${e.message}`);
    }
    // The label is the route that took the request, never the path as sent (express matches
    // /MUTATE/ to /mutate): a path is the caller's to choose, a metric series is not.
    opts.metrics.observe(
      (res.locals.endpoint as string | undefined) ?? 'other',
      'bad-request',
      res.locals.started ? (performance.now() - (res.locals.started as number)) / 1000 : 0,
    );
    // The connection stays open: an error answer does not count as serving (lib/connection-governor.ts),
    // so a client sending only junk keeps no connection against the apiserver's.
    res.status(status).json({ error: message });
  };
}
