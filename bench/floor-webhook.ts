// The least a mutating webhook can be, for bench/apiserver-overhead.ts to set the honest floor of
// what any webhook adds to an UPDATE here: a Node HTTPS server in its own process, as sluice's
// webhook is, with the same server settings (timeouts, no Nagle delay). It parses the
// AdmissionReview and gives the answer sluice gives the benchmark's Deployments (a changed
// template: paused, with a warning; anything else: allowed as it is), with no checks, no logging
// and no metrics.
//   node dist/bench/floor-webhook.js CERT_FILE KEY_FILE
// Listens on an ephemeral loopback port and sends it to the parent over IPC.
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** About as long as sluice's freeze warning, so both answers cost the apiserver about the same to read. */
export const FLOOR_WARNING = 'floor: Deployment frozen at revision 0123456789ab; revision ba9876543210 will roll out through canary floor';
const PAUSE = Buffer.from(JSON.stringify([{ op: 'add', path: '/spec/paused', value: true }])).toString('base64');

interface Review {
  request?: { uid?: string; object?: { spec?: { template?: unknown } }; oldObject?: { spec?: { template?: unknown } } };
}

function answer(review: Review): unknown {
  const rq = review.request ?? {};
  const changed = JSON.stringify(rq.object?.spec?.template) !== JSON.stringify(rq.oldObject?.spec?.template);
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: rq.uid, allowed: true, ...(changed ? { patchType: 'JSONPatch', patch: PAUSE, warnings: [FLOOR_WARNING] } : {}) },
  };
}

function main(): void {
  const [certFile, keyFile] = process.argv.slice(2);
  if (!certFile || !keyFile) throw new Error('usage: floor-webhook.js CERT_FILE KEY_FILE');
  const server = https.createServer(
    {
      cert: fs.readFileSync(certFile),
      key: fs.readFileSync(keyFile),
      requestTimeout: 10_000,
      headersTimeout: 10_000,
      keepAliveTimeout: 30_000,
      handshakeTimeout: 5_000,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: string;
        try {
          body = JSON.stringify(answer(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Review));
        } catch {
          res.statusCode = 400;
          res.end();
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(body);
      });
    },
  );
  server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1]?.endsWith('floor-webhook.js')) main();
