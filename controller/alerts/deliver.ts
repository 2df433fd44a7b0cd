// POSTing one alert, directly or through an HTTP proxy (absolute-URI requests for http://,
// a CONNECT tunnel for https://), with a timeout. Errors name the provider, never its address
// (a webhook URL is a credential).
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

export interface Delivery {
  url: string;
  proxy?: string;
  body: unknown;
  timeoutMs: number;
}

export class DeliveryError extends Error {}

function describe(err: unknown): string {
  const e = err as Error & { code?: string };
  return e.code ?? e.message;
}

export function deliver(d: Delivery): Promise<number> {
  const target = new URL(d.url);
  const payload = Buffer.from(JSON.stringify(d.body));
  const headers = { 'content-type': 'application/json', 'content-length': String(payload.length) };
  return new Promise<number>((resolve_, reject_) => {
    // One deadline for the whole delivery: a socket timeout alone only catches silence, and an
    // endpoint dripping a byte a second would hold the provider's queue for ever.
    const open: http.ClientRequest[] = [];
    const deadline = setTimeout(() => {
      for (const r of open) r.destroy(new DeliveryError(`did not finish within ${d.timeoutMs / 1000}s`));
    }, d.timeoutMs);
    const resolve = (code: number) => {
      clearTimeout(deadline);
      resolve_(code);
    };
    const reject = (err: unknown) => {
      clearTimeout(deadline);
      reject_(err);
    };
    const finish = (res: http.IncomingMessage) => {
      res.on('error', (err) => fail(err));
      res.resume();
      res.on('end', () =>
        (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300
          ? resolve(res.statusCode!)
          : reject(new DeliveryError(`answered ${res.statusCode}`)),
      );
    };
    const fail = (err: unknown) => reject(err instanceof DeliveryError ? err : new DeliveryError(describe(err)));
    const send = (req: http.ClientRequest) => {
      open.push(req);
      req.setTimeout(d.timeoutMs, () => req.destroy(new DeliveryError(`timed out after ${d.timeoutMs / 1000}s`)));
      req.on('error', fail);
      req.end(payload);
    };
    if (!d.proxy) {
      const mod = target.protocol === 'https:' ? https : http;
      send(mod.request(target, { method: 'POST', headers }, finish));
      return;
    }
    const proxy = new URL(d.proxy);
    if (target.protocol === 'http:') {
      send(
        http.request(
          { host: proxy.hostname, port: proxy.port || 80, method: 'POST', path: target.href, headers: { ...headers, host: target.host } },
          finish,
        ),
      );
      return;
    }
    const connect = http.request({
      host: proxy.hostname,
      port: proxy.port || 80,
      method: 'CONNECT',
      path: `${target.hostname}:${target.port || 443}`,
    });
    open.push(connect);
    connect.setTimeout(d.timeoutMs, () => connect.destroy(new DeliveryError(`proxy timed out after ${d.timeoutMs / 1000}s`)));
    connect.on('error', fail);
    connect.on('connect', (res, socket) => {
      if (res.statusCode !== 200) return fail(new DeliveryError(`proxy refused the tunnel: ${res.statusCode}`));
      const secure = tls.connect({ socket, servername: target.hostname });
      send(https.request(target, { method: 'POST', headers, createConnection: () => secure }, finish));
    });
    connect.end();
  });
}
