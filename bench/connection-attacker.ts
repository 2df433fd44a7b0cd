// A pod that wants to stop admissions (bench/connection-attack.ts runs it as its own process, from
// its own loopback address, as a pod reaches the webhook's pod IP): it keeps as many connections
// as it is allowed open to the webhook's admission and metrics ports, in the shapes that cost the
// least to hold, and opens a new one whenever one is closed:
//   - idle: TCP connected, nothing sent (not even a TLS handshake);
//   - handshaken: TLS done, then silent;
//   - slow headers: a request line and one header byte every 2 s;
//   - keep-alive: a well-formed GET /healthz every 25 s, under the old 30 s idle timeout.
// It reports how many it holds once a second (IPC), so the benchmark can say what was held.
import net from 'node:net';
import tls from 'node:tls';

interface Plan {
  host: string;
  from: string;
  admissionPort: number;
  metricsPort: number;
  /** Connections of each shape to the admission port; the metrics port gets `metricsEach` of its shapes. */
  each: number;
  metricsEach: number;
  /** How soon a closed connection is opened again. */
  reconnectMs: number;
}

const plan = JSON.parse(process.argv[2] ?? '{}') as Plan;
const open = { admission: 0, metrics: 0 };
let stopped = false;

type Shape = 'idle' | 'handshaken' | 'slow-headers' | 'keep-alive';

function hold(port: 'admission' | 'metrics', shape: Shape): void {
  if (stopped) return;
  const p = port === 'admission' ? plan.admissionPort : plan.metricsPort;
  const raw = net.connect({ host: plan.host, port: p, localAddress: plan.from });
  let timer: NodeJS.Timeout | undefined;
  let counted = false;
  const closed = () => {
    if (timer) clearInterval(timer);
    if (counted) open[port]--;
    counted = false;
    // Back soon: the point is to keep the table full.
    setTimeout(() => hold(port, shape), plan.reconnectMs).unref();
  };
  raw.once('connect', () => {
    counted = true;
    open[port]++;
  });
  raw.on('error', () => undefined);
  if (shape === 'idle') {
    raw.once('close', closed);
    return;
  }
  const sock: net.Socket =
    port === 'admission' ? tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'sluice-webhook' }) : raw;
  sock.on('error', () => undefined);
  sock.once('close', closed);
  const ready = port === 'admission' ? 'secureConnect' : 'connect';
  sock.once(ready, () => {
    if (shape === 'slow-headers') {
      sock.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: `);
      timer = setInterval(() => sock.write('a'), 2_000);
    } else if (shape === 'keep-alive') {
      const ask = () => sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      ask();
      timer = setInterval(ask, 25_000);
      sock.on('data', () => undefined);
    }
  });
}

const shapes: Shape[] = ['idle', 'handshaken', 'slow-headers', 'keep-alive'];
for (const shape of shapes) for (let i = 0; i < plan.each; i++) hold('admission', shape);
for (const shape of ['idle', 'slow-headers', 'keep-alive'] as Shape[]) for (let i = 0; i < plan.metricsEach; i++) hold('metrics', shape);

const report = setInterval(() => process.send?.({ ...open }), 1_000);
process.on('message', (m) => {
  if (m === 'stop') {
    stopped = true;
    clearInterval(report);
    process.exit(0);
  }
});
