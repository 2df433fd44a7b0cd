// Who may hold a connection to a port, when the port is full. The webhook is fail-closed: if
// anyone reachable on the pod network could fill its connection table, every admission the
// apiserver sends would be refused. A plain cap refuses the newest connection, which is exactly
// the apiserver's after an attacker has taken the rest. So a full port does not refuse: it
// closes the connection least likely to be doing useful work (docs/security.md, "Connections"):
//
//   1. a connection dragging a request: no complete request within `slowAfterMs` of opening, or
//      a body still arriving `slowAfterMs` after its headers (the apiserver sends a review whole,
//      in milliseconds);
//   2. a connection that has never had a request answered successfully (it only opened, or got
//      errors), oldest first;
//   3. an idle keep-alive connection, longest idle first;
// and among equals, the one from the source holding the most connections. A connection with a
// well-formed request in flight is never closed. One source may hold at most `maxPerSource`
// connections, so a single pod never owns more than its share even when nobody else is waiting.
//
// Consequence: a caller that works like the apiserver (connect, send a whole review, get an
// answer) always gets a connection, unless `maxConnections` well-formed requests are being
// answered at that instant, which is load, not a held connection.
import type http from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import type net from 'node:net';

export interface GovernorLimits {
  /** Connections open at once, from every source. */
  maxConnections: number;
  /** Connections open at once from one remote address. */
  maxPerSource: number;
  /** A request that has not arrived whole this long after it began (or after the connection opened) is slow. */
  slowAfterMs: number;
}

/** What the governor knows of one open connection: pure data, so the choice can be tested as a table. */
export interface ConnectionState {
  id: number;
  source: string;
  openedAt: number;
  /** Requests being answered now. */
  inFlight: number;
  /** When the request being read began (its headers arrived); undefined when none is being read. */
  readingSince?: number;
  /** Answers with a status below 400 this connection has had. */
  served: number;
  /** When its last answer finished; undefined before the first. */
  lastAnsweredAt?: number;
}

/** 0: slow, 1: never served, 2: idle keep-alive; undefined: busy with a well-formed request (never evicted). */
export function evictionClass(c: ConnectionState, now: number, slowAfterMs: number): 0 | 1 | 2 | undefined {
  if (c.readingSince !== undefined && now - c.readingSince >= slowAfterMs) return 0;
  if (c.inFlight > 0) return undefined;
  if (c.served === 0) return now - c.openedAt >= slowAfterMs ? 0 : 1;
  return 2;
}

/**
 * The connection to close so that a new one from `newSource` can be accepted, or undefined when
 * every connection in scope is busy answering. `scope`: only that source's connections (its own
 * ceiling was reached) or everyone's.
 */
export function chooseVictim(
  open: readonly ConnectionState[],
  now: number,
  slowAfterMs: number,
  scope?: string,
): ConnectionState | undefined {
  const perSource = new Map<string, number>();
  for (const c of open) perSource.set(c.source, (perSource.get(c.source) ?? 0) + 1);
  let best: ConnectionState | undefined;
  let bestKey: [number, number, number] | undefined;
  for (const c of open) {
    if (scope !== undefined && c.source !== scope) continue;
    const cls = evictionClass(c, now, slowAfterMs);
    if (cls === undefined) continue;
    const since = cls === 2 ? (c.lastAnsweredAt ?? c.openedAt) : (c.readingSince ?? c.openedAt);
    // Lower sorts first: class, then the larger holder, then the older.
    const key: [number, number, number] = [cls, -(perSource.get(c.source) ?? 0), since];
    if (
      !bestKey ||
      key[0] < bestKey[0] ||
      (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))
    ) {
      best = c;
      bestKey = key;
    }
  }
  return best;
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 source it maps. */
export function sourceOf(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export interface GovernorCounters {
  /** A connection refused at once: its source, or every source, was at its ceiling with nothing to close. */
  refused(reason: 'source' | 'total'): void;
  /** A connection closed to make room. */
  evicted(cls: 0 | 1 | 2): void;
}

interface Tracked extends ConnectionState {
  socket: net.Socket;
}

/** Applies the limits to a server's connections. Attach before `listen`. */
export class ConnectionGovernor {
  private readonly open = new Map<string, Tracked>();
  private nextId = 1;

  constructor(
    private readonly limits: GovernorLimits,
    private readonly counters: GovernorCounters,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** Connections per source now (tests and the attack benchmark read it). */
  bySource(): Map<string, number> {
    const m = new Map<string, number>();
    for (const c of this.open.values()) m.set(c.source, (m.get(c.source) ?? 0) + 1);
    return m;
  }

  attach(server: http.Server): void {
    // The raw TCP connection is seen before TLS: a connection that never finishes its handshake is
    // counted and can be evicted like any other. Requests find their connection by address:port,
    // the same on the TLS socket that carries them.
    server.on('connection', (socket: net.Socket) => this.admit(socket));
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.track(req, res));
  }

  private keyOf(socket: net.Socket): string {
    return `${socket.remoteAddress}|${socket.remotePort}`;
  }

  private admit(socket: net.Socket): void {
    const now = this.now();
    const source = sourceOf(socket.remoteAddress);
    const states = [...this.open.values()];
    if (states.filter((c) => c.source === source).length >= this.limits.maxPerSource) {
      if (!this.evict(chooseVictim(states, now, this.limits.slowAfterMs, source), now)) {
        this.refuse(socket, 'source');
        return;
      }
    } else if (this.open.size >= this.limits.maxConnections) {
      if (!this.evict(chooseVictim(states, now, this.limits.slowAfterMs), now)) {
        this.refuse(socket, 'total');
        return;
      }
    }
    const key = this.keyOf(socket);
    this.open.set(key, { id: this.nextId++, source, openedAt: now, inFlight: 0, served: 0, socket });
    socket.once('close', () => {
      if (this.open.get(key)?.socket === socket) this.open.delete(key);
    });
  }

  private refuse(socket: net.Socket, reason: 'source' | 'total'): void {
    this.counters.refused(reason);
    socket.destroy();
  }

  private evict(victim: ConnectionState | undefined, now: number): boolean {
    if (!victim) return false;
    const t = [...this.open.entries()].find(([, c]) => c.id === victim.id);
    if (!t) return false;
    const cls = evictionClass(victim, now, this.limits.slowAfterMs);
    this.open.delete(t[0]);
    t[1].socket.destroy();
    if (cls !== undefined) this.counters.evicted(cls);
    return true;
  }

  private track(req: http.IncomingMessage, res: http.ServerResponse): void {
    const c = this.open.get(this.keyOf(req.socket));
    if (!c) return;
    c.inFlight++;
    c.readingSince = this.now();
    const bodyDone = () => {
      c.readingSince = undefined;
    };
    if (req.complete) bodyDone();
    else req.once('end', bodyDone);
    res.once('close', () => {
      c.inFlight = Math.max(0, c.inFlight - 1);
      c.readingSince = undefined;
      c.lastAnsweredAt = this.now();
      if (res.statusCode < 400) c.served++;
    });
  }
}

/** Timeouts for a port whose callers send small requests at once (Node's defaults wait minutes). */
export const SERVER_TIMEOUTS = { headersTimeout: 5_000, requestTimeout: 10_000 } as const;

/**
 * A plain-HTTP port that serves only metrics and health: small answers, callers that connect,
 * ask and go (Prometheus keeps one connection; the kubelet opens one per probe). Its own budget,
 * apart from the admission port, and the same eviction, so a scraper or a probe always gets in.
 */
export function smallPlainServer(
  handler: http.RequestListener,
  counters: GovernorCounters,
  limits: GovernorLimits = { maxConnections: 64, maxPerSource: 16, slowAfterMs: 2_000 },
): { server: http.Server; governor: ConnectionGovernor } {
  // Every answer closes its connection: a scraper reconnects once per scrape (plain TCP, cheap),
  // and nobody can keep a connection by asking for /healthz now and then, which would rank it
  // above a probe that has just connected (lib/connection-governor.ts, chooseVictim).
  const server = createHttpServer({ ...SERVER_TIMEOUTS, keepAliveTimeout: 5_000 }, (req, res) => {
    res.setHeader('connection', 'close');
    return handler(req, res);
  });
  const governor = new ConnectionGovernor(limits, counters);
  governor.attach(server);
  return { server, governor };
}
