// Where the controller may send requests that tenants address: analysis hooks, alert providers
// and MetricTemplate Prometheus addresses are URLs anyone who can write a Canary, MetricTemplate
// or AlertProvider chooses, and the controller calls them from inside the cluster (server-side
// request forgery). Addresses in denied ranges are refused before any connection; by default the
// link-local ranges, where clouds serve instance metadata and credentials (169.254.169.254).
//
// The check resolves the host name and refuses when any of its addresses is denied. The request
// then resolves again: a name that answers differently the second time (DNS rebinding) can slip
// through; a NetworkPolicy egress rule is the hard guarantee (docs/security.md).
import dns from 'node:dns/promises';
import net from 'node:net';

// Link-local (AWS, GCP, Azure, OpenStack: 169.254.169.254; IPv6 link-local), AWS's IPv6 metadata
// address fd00:ec2::254, and Alibaba Cloud's 100.100.100.200.
export const DEFAULT_DENIED_CIDRS = ['169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254/128', '100.100.100.200/32'];

/** How many redirects a guarded request follows, each checked like the first address. */
export const MAX_REDIRECTS = 3;

export class EgressDenied extends Error {}

export class EgressGuard {
  private list = new net.BlockList();
  private cidrs: string[] = [];

  constructor(cidrs: string[] = DEFAULT_DENIED_CIDRS) {
    this.configure(cidrs);
  }

  /** Replaces the denied ranges; throws naming a range that is not a CIDR. */
  configure(cidrs: string[]): void {
    const list = new net.BlockList();
    for (const cidr of cidrs) {
      const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
      const family = m ? net.isIP(m[1]!) : 0;
      const prefix = m ? Number(m[2]) : NaN;
      if (!m || family === 0 || prefix > (family === 4 ? 32 : 128))
        throw new Error(`"${cidr}" is not a CIDR range (e.g. 169.254.0.0/16 or fe80::/10)`);
      list.addSubnet(m[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
    this.list = list;
    this.cidrs = [...cidrs];
  }

  get denied(): readonly string[] {
    return this.cidrs;
  }

  /** Resolves `url`'s host; throws EgressDenied when an address it resolves to is denied. */
  async check(url: string | URL): Promise<void> {
    if (this.cidrs.length === 0) return;
    let host: string;
    try {
      host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return; // not a URL: the request itself fails and says so
    }
    const addresses = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await dns.lookup(host, { all: true }).catch(() => []);
    for (const { address, family } of addresses) {
      // An IPv4 address written as IPv6 (::ffff:169.254.169.254) is the IPv4 address.
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
      const [a, type] = mapped ? [mapped, 'ipv4' as const] : [address, family === 6 ? ('ipv6' as const) : ('ipv4' as const)];
      if (this.list.check(a, type))
        throw new EgressDenied(`${host} is ${a}, in a range the controller may not call (--deny-egress-cidr ${this.cidrs.join(',')})`);
    }
  }
}

/** The controller's guard, configured from its flags at start. */
export const egress = new EgressGuard();

/**
 * fetch that checks every address it is sent to, the first and each redirect's, before any
 * connection: a hook or Prometheus that answers "302 Location: http://169.254.169.254/..." must
 * not walk the controller into a denied range. A redirect past MAX_REDIRECTS, or to a denied
 * address, fails with EgressDenied, and the denied host's answer is never read.
 */
export function guardedFetch(fetchImpl: typeof fetch, guard: EgressGuard): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    let url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    let method = (init.method ?? 'GET').toUpperCase();
    let body = init.body;
    for (let hop = 0; ; hop++) {
      await guard.check(url);
      const res = await fetchImpl(url, { ...init, method, body, redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || res.status === 304 || !location) return res;
      await res.body?.cancel().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw new EgressDenied(`${url.host} redirected more than ${MAX_REDIRECTS} times`);
      url = new URL(location, url);
      // As browsers and fetch do: 303 (and 301/302 of a POST) become a GET without a body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
    }
  }) as typeof fetch;
}
