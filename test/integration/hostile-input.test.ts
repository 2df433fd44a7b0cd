// Hostile input against the real processes: generated AdmissionReviews (fast-check) — real reviews
// captured from the apiserver with any field removed or given any JSON type, huge strings, deep
// nesting, prototype keys, bare junk — sent over HTTPS to a running `sluice webhook`, and junk to a
// running `sluice tester`. Neither process may exit, every answer must be well formed, and no UPDATE
// of a Deployment by anyone but the controller may be allowed to leave an untested template
// unpaused. The seed is printed, so a failure reproduces (SLUICE_HOSTILE_SEED); the count can be
// raised or lowered with SLUICE_HOSTILE_REVIEWS.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { CR } from '../../api/flagger-types.js';
import { templateRevision } from '../../api/revision.js';
import { FROZEN_PARTITION } from '../../api/statefulset.js';
import { createAuthority, issueCertificate } from '../../certs/authority.js';
import { at, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { reviewFixture } from '../fixtures/admission-fixtures.js';
import { controllerUser, paths, root } from '../world/layout.js';
import { readyNamespace } from '../world/namespaces.js';
import { freePort, probe } from '../world/probe.js';
import { installManifests, startWebhook } from '../world/sluice.js';
import { admin } from '../world/test-clients.js';
import { buildBinaries } from '../world/world.js';
import { type Case, caseBatches, FIXTURE_NAME, FIXTURE_NAMESPACE, hostileValue } from './hostile-reviews.js';

const REVIEWS = Number(process.env.SLUICE_HOSTILE_REVIEWS ?? 30_000);
const TESTER_REQUESTS = Math.ceil(REVIEWS / 5);
const SEED = Number(process.env.SLUICE_HOSTILE_SEED ?? Date.now() % 2 ** 31);
const BATCH = 500;
const CONCURRENCY = 8;

interface Reply {
  status: number;
  body: string;
}

function post(agent: http.Agent, base: string, endpoint: string, body: string): Promise<Reply> {
  const url = new URL(endpoint, base);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error(`${endpoint}: no answer within 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const isDeployment = (
  o: unknown,
): o is { metadata: { annotations?: Record<string, string> }; spec: { paused?: unknown; template?: unknown } } =>
  typeof o === 'object' &&
  o !== null &&
  typeof (o as { metadata?: unknown }).metadata === 'object' &&
  (o as { metadata?: unknown }).metadata !== null &&
  typeof (o as { spec?: unknown }).spec === 'object' &&
  (o as { spec?: unknown }).spec !== null;

/** What must hold for one answer; a string says what did not. */
function checkAnswer(c: Case, reply: Reply): string | undefined {
  if (![200, 400, 413].includes(reply.status)) return `status ${reply.status}`;
  let answer: {
    apiVersion?: string;
    kind?: string;
    response?: { uid?: unknown; allowed?: unknown; patch?: string; patchType?: string };
    error?: unknown;
  };
  try {
    answer = JSON.parse(reply.body);
  } catch {
    return `answer is not JSON: ${reply.body.slice(0, 200)}`;
  }
  if (reply.status !== 200)
    return typeof answer.error === 'string' && answer.error.length > 0 ? undefined : 'an error answer without a message';
  const review = JSON.parse(c.body) as {
    request: {
      uid: string;
      operation: string;
      kind: { group: string; kind: string };
      subResource?: string;
      userInfo?: { username?: string };
      object: unknown;
      oldObject: unknown;
    };
  };
  const r = answer.response;
  if (answer.apiVersion !== 'admission.k8s.io/v1' || answer.kind !== 'AdmissionReview' || !r) return 'not an AdmissionReview response';
  if (r.uid !== review.request.uid) return `uid ${String(r.uid)} answers request ${review.request.uid}`;
  if (typeof r.allowed !== 'boolean') return 'allowed is not a boolean';
  let result = review.request.object;
  if (r.patch !== undefined) {
    if (r.patchType !== 'JSONPatch') return 'a patch without patchType JSONPatch';
    try {
      // Applied in place (`review` is this check's own parse) without fast-json-patch's validation:
      // cloning or validating recurses through the whole document, nested thousands deep here.
      // A key "__proto__" is an ordinary key to the apiserver (Go), and the webhook's patches may
      // name one the review carried (freezing a DaemonSet replaces a hostile updateStrategy):
      // fast-json-patch's ban on such paths is lifted for this document, a parse of its own.
      result = jsonPatch.applyPatch(result, JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')), false, true, false).newDocument;
    } catch (err) {
      return `the patch does not apply: ${(err as Error).message}`;
    }
  }
  const q = review.request;
  if (c.endpoint === '/mutate' && r.allowed && !q.subResource && q.userInfo?.username !== controllerUser && q.kind.group === 'apps') {
    const problem = holdProblem(q, result, (r as { warnings?: unknown }).warnings);
    if (problem) return problem;
  }
  return undefined;
}

type Held = { metadata: { name?: unknown; namespace?: unknown; annotations?: Record<string, string> }; spec: Record<string, unknown> };

const partitionOf = (o: Held) => {
  const p = (o.spec.updateStrategy as { rollingUpdate?: { partition?: unknown } } | undefined)?.rollingUpdate?.partition;
  return typeof p === 'number' ? p : 0;
};
const strategyType = (o: Held) => (o.spec.updateStrategy as { type?: unknown } | undefined)?.type;

/**
 * Whether `o`, of `kind`, keeps a template off its pods, at least as firmly as `stored` did:
 * paused, OnDelete, or a partition above every ordinal; a StatefulSet whose template did not
 * change may also keep the stored partition (the controller lowers it for the canary ordinals).
 * `templateChanged` is asked only when that last case needs it (hashing is the slow part).
 */
function held(kind: string, o: Held, stored: Held | undefined, templateChanged: () => boolean): boolean {
  if (kind === 'Deployment') return o.spec.paused === true;
  if (kind === 'DaemonSet') return strategyType(o) === 'OnDelete';
  if (strategyType(o) === 'OnDelete') return false;
  if (partitionOf(o) >= FROZEN_PARTITION) return true;
  return stored !== undefined && !templateChanged() && partitionOf(o) >= Math.min(partitionOf(stored), FROZEN_PARTITION);
}

/**
 * The freeze's promise, for every kind and operation: an allowed write by anyone but the
 * controller never leaves a Deployment, StatefulSet or DaemonSet running an untested template
 * more widely than the stored object allowed. An UPDATE's tested template is the stored stable
 * revision (or, before sluice recorded one, the template it already had). A CREATE of the
 * fixtures' workload is judged against the Canaries this suite created for it; a Deployment
 * recreated with no pod left serving starts unheld, with a warning saying so (docs/webhook.md).
 */
function holdProblem(
  q: { operation: string; kind: { kind: string }; namespace?: unknown; name?: unknown; object: unknown; oldObject: unknown },
  result: unknown,
  warnings: unknown,
): string | undefined {
  const kind = q.kind.kind;
  if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(kind) || !isDeployment(result)) return undefined;
  const o = result as Held;
  if (q.operation === 'UPDATE') {
    if (!isDeployment(q.oldObject)) return undefined;
    const stored = q.oldObject as Held;
    const rev = () => templateRevision(o.spec.template);
    const storedRev = () => templateRevision(stored.spec.template);
    if (held(kind, o, stored, () => rev() !== storedRev())) return undefined;
    const stable = stored.metadata.annotations?.['sluice.dev/stable-revision'];
    const r = rev();
    if (r === stable || (stable === undefined && r === storedRev())) return undefined;
    return `${kind} UPDATE allowed unheld with untested revision ${r} (stable ${String(stable)})`;
  }
  if (q.operation !== 'CREATE') return undefined;
  const ns = o.metadata.namespace ?? q.namespace;
  const name = o.metadata.name ?? q.name;
  if (ns !== FIXTURE_NAMESPACE || name !== FIXTURE_NAME || held(kind, o, undefined, () => true)) return undefined;
  const rev = templateRevision(o.spec.template);
  if (rev === fixtureStable) return undefined;
  const said = Array.isArray(warnings) && warnings.some((w) => typeof w === 'string' && w.includes('starts unanalysed'));
  if (kind === 'Deployment' && said) return undefined;
  return `${kind} CREATE allowed unheld with untested revision ${rev} (the Canary's stable is ${fixtureStable})`;
}

/** The stable template of the fixtures (set-image's stored object): what the suite's Canaries released. */
const fixtureStable = templateRevision((reviewFixture('set-image').request.oldObject as { spec: { template: unknown } }).spec.template);

async function hammer(base: string, agent: http.Agent, cases: Case[], isAlive: () => boolean, seen: Map<number, number>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const reply = await post(agent, base, c.endpoint, c.body).catch((err: Error) => {
        throw new Error(`${err.message}; process alive: ${isAlive()}; seed ${SEED}; body: ${c.body.slice(0, 1000)}`);
      });
      seen.set(reply.status, (seen.get(reply.status) ?? 0) + 1);
      const problem = checkAnswer(c, reply);
      if (problem)
        throw new Error(`${c.endpoint}: ${problem}; seed ${SEED}; body: ${c.body.slice(0, 2000)}; answer: ${reply.body.slice(0, 500)}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

describe(`hostile input to the running processes (seed ${SEED})`, function () {
  this.timeout(900_000);
  const children: ChildProcess[] = [];
  let scratch: string;
  const start = (args: string[]) => {
    const child = spawn(process.execPath, [path.join(root, 'dist/bin/sluice.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    children.push(child);
    return { child, stderr: () => stderr };
  };
  before(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-hostile-'));
    // The webhook is ready once its caches of sluice's kinds are filled: their CRDs must exist.
    installManifests(buildBinaries().binDir);
    // A Canary per kind for the fixtures' workload, each having released the fixtures' stable
    // template: what a CREATE of that workload is judged against (the cluster's own webhook admits them).
    await startWebhook();
    const client = await admin();
    await readyNamespace(client, FIXTURE_NAMESPACE);
    for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet']) {
      const name = `podinfo-${kind.toLowerCase()}`;
      await client.create(at(CR.canaries, FIXTURE_NAMESPACE), {
        apiVersion: 'flagger.app/v1beta1',
        kind: 'Canary',
        metadata: { name, namespace: FIXTURE_NAMESPACE },
        spec: { targetRef: { apiVersion: 'apps/v1', kind, name: FIXTURE_NAME }, service: { port: 9898 } },
      });
      await client.patch(at(CR.canaries, FIXTURE_NAMESPACE, name, 'status'), {
        status: { phase: 'Initialized', lastPromotedSpec: fixtureStable },
      });
    }
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(scratch, { recursive: true, force: true });
    await (await admin()).delete(at(R.namespaces, undefined, FIXTURE_NAMESPACE)).catch(() => undefined);
  });

  it(`sluice webhook answers ${REVIEWS} generated reviews on /mutate, /validate, /mutate-pod and /mutate-daemon-pod, well formed, never exiting, never letting an untested template through unpaused`, async () => {
    const ca = createAuthority('hostile-ca', 3600);
    const leaf = issueCertificate(ca, { commonName: 'hostile', usage: 'server', lifetimeSeconds: 3600, ipAddresses: ['127.0.0.1'] });
    fs.writeFileSync(path.join(scratch, 'tls.crt'), leaf.certPem);
    fs.writeFileSync(path.join(scratch, 'tls.key'), leaf.keyPem);
    const [port, metricsPort] = [await freePort(), await freePort()];
    const w = start([
      'webhook',
      `--kubeconfig=${paths.kubeconfig}`,
      `--port=${port}`,
      `--metrics-port=${metricsPort}`,
      '--bind-address=127.0.0.1',
      `--tls-cert-file=${path.join(scratch, 'tls.crt')}`,
      `--tls-key-file=${path.join(scratch, 'tls.key')}`,
      `--controller-user=${controllerUser}`,
    ]);
    const base = `https://127.0.0.1:${port}`;
    await waitFor(async () => (await probe(`${base}/readyz`, { ca: ca.certPem })).status === 200, {
      timeoutMs: 30_000,
      what: `the webhook to be ready: ${w.stderr()}`,
    });
    const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: ca.certPem });
    const seen = new Map<number, number>();
    for await (const cases of caseBatches(SEED, REVIEWS, BATCH)) await hammer(base, agent, cases, () => w.child.exitCode === null, seen);
    agent.destroy();
    assert.equal(w.child.exitCode, null, `the webhook exited: ${w.stderr()}`);
    assert.equal((await probe(`${base}/healthz`, { ca: ca.certPem })).status, 200);
    // The generator really reaches both sides of the parser.
    assert.ok((seen.get(200) ?? 0) > REVIEWS / 5, `answers by status: ${JSON.stringify([...seen])}`);
    assert.ok((seen.get(400) ?? 0) > REVIEWS / 10, `answers by status: ${JSON.stringify([...seen])}`);
  });

  it('sluice webhook drops a connection that never starts TLS within its handshake timeout, and holds no more than its cap', async () => {
    const ca = createAuthority('hostile-ca-2', 3600);
    const leaf = issueCertificate(ca, { commonName: 'hostile', usage: 'server', lifetimeSeconds: 3600, ipAddresses: ['127.0.0.1'] });
    fs.writeFileSync(path.join(scratch, 'tls2.crt'), leaf.certPem);
    fs.writeFileSync(path.join(scratch, 'tls2.key'), leaf.keyPem);
    const [port, metricsPort] = [await freePort(), await freePort()];
    const w = start([
      'webhook',
      `--kubeconfig=${paths.kubeconfig}`,
      `--port=${port}`,
      `--metrics-port=${metricsPort}`,
      '--bind-address=127.0.0.1',
      '--max-connections=20',
      `--tls-cert-file=${path.join(scratch, 'tls2.crt')}`,
      `--tls-key-file=${path.join(scratch, 'tls2.key')}`,
    ]);
    const base = `https://127.0.0.1:${port}`;
    await waitFor(async () => (await probe(`${base}/readyz`, { ca: ca.certPem })).status === 200, {
      timeoutMs: 30_000,
      what: `the webhook to be ready: ${w.stderr()}`,
    });
    // 30 connections that say nothing: past the cap of 20 each new one takes the place of an older
    // silent one, and the rest are closed by the handshake timeout (5 s), not held for Node's default 120 s.
    const opened = Date.now();
    const silent = await Promise.all(
      Array.from(
        { length: 30 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => resolve(s));
            s.on('error', () => undefined);
          }),
      ),
    );
    const closedAt = await Promise.all(
      silent.map((s) => new Promise<number>((resolve) => (s.destroyed ? resolve(Date.now()) : s.once('close', () => resolve(Date.now()))))),
    );
    const slowest = Math.max(...closedAt) - opened;
    assert.ok(slowest < 15_000, `the last silent connection was held ${slowest} ms`);
    // Serving again once they are gone.
    assert.equal((await probe(`${base}/healthz`, { ca: ca.certPem })).status, 200);
    assert.equal(w.child.exitCode, null);
  });

  it(`sluice tester answers ${TESTER_REQUESTS} junk requests to its gates, switches and tasks without exiting`, async () => {
    const port = await freePort();
    const t = start(['tester', `--port=${port}`, '--bind-address=127.0.0.1']);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await probe(`${base}/healthz`)).status === 200, {
      timeoutMs: 20_000,
      what: `the tester to be ready: ${t.stderr()}`,
    });
    const endpoints = ['/gate/open', '/gate/close', '/gate/check', '/rollback/open', '/rollback/check', '/gate/approve', '/'];
    // Never a load task towards a real address: bodies naming any URL are left out.
    const body = fc
      .oneof(hostileValue, fc.record({ name: hostileValue, namespace: hostileValue, metadata: hostileValue }))
      .map((v) => JSON.stringify(v) ?? 'null')
      .filter((b) => !b.includes('://'));
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const cases = fc.sample(fc.record({ endpoint: fc.constantFrom(...endpoints), body }), { numRuns: TESTER_REQUESTS, seed: SEED });
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          const reply = await post(agent, base, c.endpoint, c.body);
          assert.ok(
            [200, 400, 403, 413].includes(reply.status),
            `${c.endpoint} answered ${reply.status} to ${c.body.slice(0, 300)} (seed ${SEED})`,
          );
          assert.doesNotThrow(() => JSON.parse(reply.body), `${c.endpoint}: the answer is JSON`);
        }
      }),
    );
    agent.destroy();
    assert.equal(t.child.exitCode, null, `the tester exited: ${t.stderr()}`);
  });
});
