// The door of `sluice dashboard` in the cluster: a person brings a bearer token the apiserver
// accepts (a ServiceAccount token, or an OIDC id_token, typically put in the Authorization header
// by oauth2-proxy), checked by a TokenReview; the dashboard then reads and acts with that very
// token, so the apiserver decides everything the person does. Without a proxy, the page asks for
// a token once and keeps it in an HttpOnly, SameSite=Strict cookie.

import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { KubeClient, KubeObject } from '../lib/kube/client.js';
import type { Person } from './person.js';

export const TOKEN_COOKIE = 'sluice_dashboard_token';
const TOKEN_REVIEW = { group: 'authentication.k8s.io', version: 'v1', plural: 'tokenreviews' } as const;
/** A JWT is a few KB at most; anything longer is not a token and is not sent on to the apiserver. */
const MAX_TOKEN = 16 * 1024;

export interface Identity {
  username: string;
  uid?: string;
  groups: string[];
}

export interface ClusterPerson extends Person {
  identity: Identity;
}

type TokenReview = KubeObject & { status?: { authenticated?: boolean; user?: Identity; error?: string } };

/** TokenReviews, kept briefly per token (by its hash): every request of a page would ask otherwise. */
export class TokenReviewer {
  private readonly kept = new Map<string, { who: Promise<Identity | undefined>; until: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly ttlMs = 30_000,
    private readonly max = 10_000,
  ) {}

  review(token: string): Promise<Identity | undefined> {
    const key = crypto.createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const hit = this.kept.get(key);
    if (hit && now < hit.until) return hit.who;
    const who = this.client
      .create<TokenReview>(TOKEN_REVIEW, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } })
      .then((r) =>
        r.status?.authenticated === true && r.status.user?.username ? { ...r.status.user, groups: r.status.user.groups ?? [] } : undefined,
      );
    if (this.kept.size >= this.max) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(key, { who, until: now + this.ttlMs });
    who.catch(() => this.kept.delete(key));
    return who;
  }
}

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function tokenOf(req: Request): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  // oauth2-proxy's --pass-access-token header, for a proxy set up to send it instead.
  const forwarded = req.headers['x-forwarded-access-token'];
  if (typeof forwarded === 'string' && forwarded) return forwarded.trim();
  return cookieOf(req, TOKEN_COOKIE);
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** The host the browser addressed: behind an ingress, the one it forwarded. */
function publicHost(req: Request): string | undefined {
  const forwarded = req.headers['x-forwarded-host'];
  return (typeof forwarded === 'string' ? forwarded.split(',')[0]!.trim() : undefined) ?? req.headers.host;
}

export interface ClusterGuardOptions {
  reviewer: TokenReviewer;
  /** The dashboard's own client: each person's client shares its apiserver and CA, never its identity. */
  client: KubeClient;
  basePath: string;
}

export class ClusterGuard {
  constructor(private readonly opts: ClusterGuardOptions) {}

  private refuse(res: Response, status: number, message: string): void {
    res.status(status).json({ error: message, login: status === 401 });
  }

  readonly middleware = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!SAFE_METHODS.has(req.method)) {
      const origin = req.headers.origin;
      let originHost: string | undefined;
      try {
        originHost = origin ? new URL(origin).host : undefined;
      } catch {
        originHost = undefined;
      }
      if (!originHost || originHost !== publicHost(req)) {
        this.refuse(res, 403, `refused: a ${req.method} from origin "${origin ?? 'none'}"; only the dashboard's own page may act`);
        return;
      }
    }
    // The page and its script carry nothing of anyone's; the page asks for a token when the API says 401.
    if (
      req.method === 'GET' &&
      (req.path === '/' || req.path === '/app.js' || req.path === '/app.css' || req.path.startsWith('/canary/'))
    ) {
      next();
      return;
    }
    if (req.method === 'POST' && req.path === '/api/login') {
      await this.login(req, res);
      return;
    }
    if (req.method === 'POST' && req.path === '/api/logout') {
      res.setHeader('set-cookie', `${TOKEN_COOKIE}=; Path=${this.opts.basePath || '/'}; HttpOnly; SameSite=Strict; Max-Age=0`);
      res.status(204).end();
      return;
    }
    const token = tokenOf(req);
    if (!token || token.length > MAX_TOKEN) {
      this.refuse(res, 401, 'sign in: send a bearer token the apiserver accepts (Authorization header), or paste one in the page');
      return;
    }
    let who: Identity | undefined;
    try {
      who = await this.opts.reviewer.review(token);
    } catch (err) {
      this.refuse(res, 503, `could not ask the apiserver who this is: ${(err as Error).message}`);
      return;
    }
    if (!who) {
      this.refuse(res, 401, 'the apiserver did not accept this token: sign in again with a valid one');
      return;
    }
    const person: ClusterPerson = {
      identity: who,
      client: this.opts.client.withCredentials(async () => ({ authorization: `Bearer ${token}` }), 'sluice-dashboard'),
    };
    (req as Request & { person?: ClusterPerson }).person = person;
    next();
  };

  private async login(req: Request, res: Response): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_TOKEN + 64) {
        this.refuse(res, 413, 'a token is not that long');
        return;
      }
      chunks.push(c as Buffer);
    }
    let token: unknown;
    try {
      token = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { token?: unknown }).token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || !token.trim()) {
      this.refuse(res, 400, 'send {"token": "..."}');
      return;
    }
    const who = await this.opts.reviewer.review(token.trim()).catch(() => undefined);
    if (!who) {
      this.refuse(res, 401, 'the apiserver did not accept this token');
      return;
    }
    const secure = req.secure || req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
    res.setHeader(
      'set-cookie',
      `${TOKEN_COOKIE}=${encodeURIComponent(token.trim())}; Path=${this.opts.basePath || '/'}; HttpOnly; SameSite=Strict${secure}`,
    );
    res.json({ user: who.username });
  }
}

export const personOf = (req: Request): ClusterPerson => {
  const p = (req as Request & { person?: ClusterPerson }).person;
  if (!p) throw new Error('no person on this request: the guard did not run');
  return p;
};
