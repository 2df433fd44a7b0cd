// A steady request rate through the real gateway, per route: what users would send. Requests
// go to the gateway's entrypoint with the route's host name; where they land is counted by the
// pod listeners, what came back is counted here.
import http from 'node:http';

export interface LoadProfile {
  /** The Host header (one of the route's hostnames). */
  host: string;
  path: string;
  ratePerSecond: number;
}

export interface LoadStats {
  sent: number;
  byCode: Record<string, number>;
  /** Requests that got no HTTP answer (refused, reset, timed out). */
  failed: number;
}

const MAX_IN_FLIGHT = 400;
const TIMEOUT_MS = 10_000;

export function validateProfile(input: unknown): LoadProfile {
  const b = (input ?? {}) as Record<string, unknown>;
  const host = b.host;
  const path = b.path ?? '/';
  const rate = b.ratePerSecond ?? 100;
  if (typeof host !== 'string' || !/^[a-z0-9.-]{1,253}$/.test(host)) throw new Error('host must be a DNS name');
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > 512)
    throw new Error('path must start with / (at most 512 characters)');
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1000)) throw new Error('ratePerSecond must be a number from 0 to 1000');
  return { host, path, ratePerSecond: rate };
}

export class LoadGenerator {
  private readonly profiles = new Map<string, { profile: LoadProfile; owed: number; stats: LoadStats }>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private inFlight = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly gatewayPort: number) {}

  set(key: string, profile: LoadProfile): void {
    const prev = this.profiles.get(key);
    this.profiles.set(key, { profile, owed: 0, stats: prev?.stats ?? { sent: 0, byCode: {}, failed: 0 } });
  }

  delete(key: string): void {
    this.profiles.delete(key);
  }

  stats(key: string): LoadStats | undefined {
    const s = this.profiles.get(key)?.stats;
    return s && { ...s, byCode: { ...s.byCode } };
  }

  start(): void {
    let last = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      // A stalled loop makes up at most one second, never a burst of a minute.
      const dt = Math.min(now - last, 1000) / 1000;
      last = now;
      for (const entry of this.profiles.values()) {
        entry.owed += entry.profile.ratePerSecond * dt;
        while (entry.owed >= 1 && this.inFlight < MAX_IN_FLIGHT) {
          entry.owed -= 1;
          this.send(entry.profile, entry.stats);
        }
        // Past the in-flight ceiling the rest is dropped, not queued: the gateway is slower than the load.
        entry.owed = Math.min(entry.owed, 1);
      }
    }, 20);
  }

  private send(profile: LoadProfile, stats: LoadStats): void {
    this.inFlight++;
    stats.sent++;
    let settled = false;
    const settle = (code?: number) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      if (code === undefined) stats.failed++;
      else stats.byCode[code] = (stats.byCode[code] ?? 0) + 1;
    };
    const req = http.request(
      {
        host: '127.0.0.1',
        port: this.gatewayPort,
        path: profile.path,
        headers: { host: profile.host },
        agent: this.agent,
        timeout: TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', () => settle(res.statusCode));
        res.on('error', () => settle());
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => settle());
    req.end();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.agent.destroy();
  }
}
