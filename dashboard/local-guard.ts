// The door of `kubectl sluice dashboard`: the process acts with the person's own kubeconfig, so
// whoever reaches its port acts as that person. Only this browser may: a one-time token printed
// in the URL is exchanged for a session cookie (HttpOnly, SameSite=Strict), every request must
// carry that cookie, come from a loopback peer, name the listening address in Host (a page on
// another site that rebinds a name to 127.0.0.1 sends its own name), and a request that changes
// anything must come from this origin.

import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const SESSION_COOKIE = 'sluice_dashboard';
export const TOKEN_PARAM = 'token';

/** 127.0.0.0/8, ::1, and either as an IPv4-mapped IPv6 address. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export interface LocalGuardOptions {
  /** The port the dashboard listens on: Host and Origin must name it. */
  port: () => number;
  /**
   * Signs session cookies. Kept in a file of the person's (mode 0600) so a session outlives a
   * restart of the dashboard: the open page reconnects and catches up instead of asking again.
   */
  key: Buffer;
  /** Base path the dashboard is served under ('' at the root). */
  basePath?: string;
}

/** A session: a random id and its signature under the key; nothing else is in the cookie. */
function sign(key: Buffer, id: string): string {
  return `${id}.${crypto.createHmac('sha256', key).update(id).digest('base64url')}`;
}

function verify(key: Buffer, cookie: string | undefined): boolean {
  if (!cookie) return false;
  const dot = cookie.indexOf('.');
  if (dot <= 0) return false;
  const expected = Buffer.from(sign(key, cookie.slice(0, dot)));
  const given = Buffer.from(cookie);
  return expected.length === given.length && crypto.timingSafeEqual(expected, given);
}

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

export class LocalGuard {
  /** Tokens not yet exchanged; each works once. */
  private readonly tokens = new Set<string>();

  constructor(private readonly opts: LocalGuardOptions) {}

  /** A new one-time token (the URL the command prints carries it). */
  issueToken(): string {
    const token = crypto.randomBytes(24).toString('base64url');
    this.tokens.add(token);
    return token;
  }

  private hosts(): string[] {
    const port = this.opts.port();
    return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  }

  private refuse(res: Response, status: number, message: string): void {
    res.status(status).setHeader('connection', 'close').type('text').send(`${message}\n`);
  }

  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (!isLoopback(req.socket.remoteAddress)) {
      this.refuse(res, 403, `refused: the dashboard answers this machine only, not ${req.socket.remoteAddress ?? 'an unknown peer'}`);
      return;
    }
    if (!this.hosts().includes(req.headers.host ?? '')) {
      this.refuse(res, 403, `refused: Host "${req.headers.host ?? ''}" is not this dashboard's address (${this.hosts()[0]})`);
      return;
    }
    if (!SAFE_METHODS.has(req.method)) {
      const origin = req.headers.origin;
      if (!origin || !this.hosts().some((h) => origin === `http://${h}`)) {
        this.refuse(res, 403, `refused: a ${req.method} from origin "${origin ?? 'none'}"; only the dashboard's own page may act`);
        return;
      }
    }
    const token = typeof req.query[TOKEN_PARAM] === 'string' ? (req.query[TOKEN_PARAM] as string) : undefined;
    if (token !== undefined && req.method === 'GET') {
      if (!this.tokens.delete(token)) {
        this.refuse(res, 401, 'this link was used already or is not this dashboard\'s: run "kubectl sluice dashboard" again for a new one');
        return;
      }
      const id = crypto.randomBytes(18).toString('base64url');
      const base = this.opts.basePath || '/';
      res.setHeader('set-cookie', `${SESSION_COOKIE}=${sign(this.opts.key, id)}; Path=${base}; HttpOnly; SameSite=Strict`);
      // The token leaves the address bar (and the history) at once.
      res.redirect(303, base);
      return;
    }
    if (!verify(this.opts.key, cookieOf(req, SESSION_COOKIE))) {
      this.refuse(res, 401, 'not signed in: open the link "kubectl sluice dashboard" printed');
      return;
    }
    next();
  };
}
