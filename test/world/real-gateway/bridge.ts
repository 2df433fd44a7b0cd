// Byte pipes between the host's network namespace and the real gateway's. A pathname Unix socket
// is reached through the filesystem, not the network, so it crosses network namespaces: each side
// turns a TCP port it owns into such a socket, or such a socket into a TCP port it owns.
import fs from 'node:fs';
import net from 'node:net';

export type Endpoint = { port: number; host?: string } | { path: string };

const describe = (e: Endpoint) => ('path' in e ? e.path : `${e.host ?? '127.0.0.1'}:${e.port}`);

/**
 * Listens at `from` and pipes each connection to `to`. A connection whose far side cannot be
 * reached is closed at once (the client sees a reset, as with a port nobody listens on); open
 * connections are capped so a runaway client cannot exhaust the process.
 */
export function forward(
  from: Endpoint,
  to: Endpoint,
  opts: { maxConnections?: number; onError?: (msg: string) => void } = {},
): Promise<net.Server> {
  const onError = opts.onError ?? ((msg: string) => console.error(`bridge: ${msg}`));
  // Half-open allowed on both legs: a client that sends its last bytes and then its FIN still
  // gets the answer, as it would talking to the far side directly.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream =
      'path' in to
        ? net.connect({ path: to.path, allowHalfOpen: true })
        : net.connect({ port: to.port, host: to.host ?? '127.0.0.1', allowHalfOpen: true });
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', (err) => {
      onError(`${describe(from)} -> ${describe(to)}: ${err.message}`);
      fail();
    });
    client.on('error', fail);
    // pipe() carries each side's FIN to the other; a side that is gone entirely takes the other along.
    client.on('close', (hadError) => (hadError ? upstream.destroy() : upstream.end()));
    upstream.on('close', (hadError) => (hadError ? client.destroy() : client.end()));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.maxConnections = opts.maxConnections ?? 512;
  if ('path' in from) fs.rmSync(from.path, { force: true });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      server.on('error', (err) => onError(`${describe(from)}: ${err.message}`));
      resolve(server);
    };
    if ('path' in from) server.listen(from.path, listening);
    else server.listen(from.port, from.host ?? '127.0.0.1', listening);
  });
}
