// What the hostile-input suite sends (test/integration/hostile-input.test.ts): real reviews captured
// from the apiserver with fields removed or given any JSON type, huge strings, deep nesting,
// prototype keys, and bare junk. Kept apart from the test so a worker thread can generate the next
// batch while the webhook answers the current one (hostile-review-worker.ts).
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { fixtureNames, reviewFixture } from '../fixtures/admission-fixtures.js';
import { controllerUser } from '../world/layout.js';

const nest = (depth: number): unknown => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

/** Any JSON value, and the shapes that break naive code. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 3000 }).map(nest) },
  { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 300_000 }).map((n) => 'x'.repeat(n)) },
  // Made afresh for every use: the generator writes into what it picked.
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '{"toString":1}',
        '{"valueOf":{}}',
        '{"__proto__":{"polluted":1}}',
        '{"constructor":{"prototype":1}}',
        '-0',
        '1e308',
        '""',
        '"\\u0000\\ud800"',
        '[]',
      )
      .map((t) => JSON.parse(t) as unknown),
  },
);

/** Where a real review is damaged: every field the webhook reads, and their parents. */
const FIELDS = [
  'apiVersion',
  'kind',
  'request',
  'request.uid',
  'request.kind',
  'request.kind.group',
  'request.kind.kind',
  'request.resource',
  'request.subResource',
  'request.name',
  'request.namespace',
  'request.operation',
  'request.userInfo',
  'request.userInfo.username',
  'request.userInfo.groups',
  'request.dryRun',
  ...['object', 'oldObject'].flatMap((o) => [
    `request.${o}`,
    `request.${o}.metadata`,
    `request.${o}.metadata.name`,
    `request.${o}.metadata.namespace`,
    `request.${o}.metadata.labels`,
    `request.${o}.metadata.annotations`,
    `request.${o}.metadata.annotations.sluice.dev/stable-revision`,
    `request.${o}.metadata.annotations.sluice.dev/promoting`,
    `request.${o}.metadata.ownerReferences`,
    `request.${o}.spec`,
    `request.${o}.spec.paused`,
    `request.${o}.spec.template`,
    `request.${o}.spec.template.spec.containers`,
    `request.${o}.spec.template.metadata.annotations`,
    // What holds a StatefulSet or DaemonSet back.
    `request.${o}.spec.updateStrategy`,
    `request.${o}.spec.updateStrategy.type`,
    `request.${o}.spec.updateStrategy.rollingUpdate`,
    `request.${o}.spec.updateStrategy.rollingUpdate.partition`,
    `request.${o}.metadata.annotations.sluice.dev/held-update-strategy`,
  ]),
];

/** Where the fixtures' Deployment is recreated, and the Canaries the hostile suite creates for it there. */
export const FIXTURE_NAMESPACE = 'fixtures';
export const FIXTURE_NAME = 'podinfo';

/**
 * The kinds and operations a captured Deployment review is turned into: as captured, the same
 * review of a StatefulSet (held by its partition) or a DaemonSet (held by OnDelete), and a CREATE
 * of each (a workload recreated after an orphaning delete).
 */
export const SHAPES = ['as-captured', 'statefulset', 'daemonset', 'create-deployment', 'create-statefulset', 'create-daemonset'] as const;
export type Shape = (typeof SHAPES)[number];

type Obj = { kind?: string; metadata?: { annotations?: Record<string, string> }; spec?: Record<string, unknown> };

/** `review` reshaped; `partition` is the stored StatefulSet's (0: released, the largest int32: frozen). */
function reshape(review: Record<string, unknown>, shape: Shape, partition: number): void {
  const req = review.request as Record<string, unknown> | undefined;
  if (!req || shape === 'as-captured') return;
  const kind = shape.endsWith('statefulset') ? 'StatefulSet' : shape.endsWith('daemonset') ? 'DaemonSet' : 'Deployment';
  for (const side of ['object', 'oldObject']) {
    const o = req[side] as Obj | undefined;
    if (!o?.spec || kind === 'Deployment') continue;
    o.kind = kind;
    delete o.spec.paused;
    delete o.spec.strategy;
    if (kind === 'StatefulSet') {
      o.spec.serviceName = 'podinfo';
      o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition } };
    } else {
      delete o.spec.replicas;
      // Stored frozen, as sluice holds a DaemonSet with a revision under test.
      o.spec.updateStrategy = { type: 'OnDelete' };
      o.metadata = {
        ...o.metadata,
        annotations: { ...o.metadata?.annotations, 'sluice.dev/held-update-strategy': '{"type":"RollingUpdate"}' },
      };
    }
  }
  req.kind = { group: 'apps', version: 'v1', kind };
  req.resource = { group: 'apps', version: 'v1', resource: `${kind.toLowerCase()}s` };
  if (shape.startsWith('create-')) {
    req.operation = 'CREATE';
    delete req.oldObject;
    req.namespace = FIXTURE_NAMESPACE;
    req.name = FIXTURE_NAME;
  }
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  // Annotation keys contain dots; they are the last segment after "annotations.".
  const m = /^(.*\.annotations)\.(.+)$/.exec(dotted);
  const parts = m ? [...m[1]!.split('.'), m[2]!] : dotted.split('.');
  let o: Record<string, unknown> = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof o[p] !== 'object' || o[p] === null) o[p] = {};
    o = o[p] as Record<string, unknown>;
  }
  const last = parts.at(-1)!;
  if (value === undefined) delete o[last];
  else o[last] = value;
}

export interface Case {
  endpoint: '/mutate' | '/validate' | '/mutate-pod' | '/mutate-daemon-pod';
  body: string;
}

// Kept as text: parsing a fresh copy is several times cheaper than structuredClone of the object,
// and generation, not the webhook, bounded how fast this suite ran.
const fixtures = fixtureNames().map((n) => JSON.stringify(reviewFixture(n)));
const damagedReview: fc.Arbitrary<Case> = fc
  .record({
    endpoint: fc.constantFrom('/mutate' as const, '/validate' as const, '/mutate-pod' as const, '/mutate-daemon-pod' as const),
    base: fc.integer({ min: 0, max: fixtures.length - 1 }),
    damage: fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.option(hostileValue, { nil: undefined, freq: 4 })), {
      minLength: 0,
      maxLength: 4,
    }),
    // A template change and a writer that is, or is not, the controller: the freeze's own inputs.
    image: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    user: fc.constantFrom(controllerUser, 'kubernetes-admin', 'system:serviceaccount:argocd:argocd-application-controller', undefined),
    shape: fc.constantFrom(...SHAPES),
    partition: fc.constantFrom(0, 1, 2, 2_147_483_647),
  })
  .map(({ endpoint, base, damage, image, user, shape, partition }) => {
    const review = JSON.parse(fixtures[base]!) as Record<string, unknown>;
    reshape(review, shape, partition);
    if (image !== undefined) setPath(review, 'request.object.spec.template.spec.containers', [{ name: 'podinfod', image }]);
    setPath(review, 'request.userInfo.username', user);
    for (const [field, value] of damage) setPath(review, field, value);
    return { endpoint, body: JSON.stringify(review) };
  });

const junkBody: fc.Arbitrary<Case> = fc.record({
  endpoint: fc.constantFrom('/mutate' as const, '/validate' as const, '/mutate-pod' as const, '/mutate-daemon-pod' as const),
  body: fc.oneof(
    hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
    fc.string({ maxLength: 200 }),
  ),
});

export const hostileCase = fc.oneof({ weight: 9, arbitrary: damagedReview }, { weight: 1, arbitrary: junkBody });

/**
 * `total` cases in batches of `batchSize`, batch n sampled with seed + n (so a seed reproduces a run),
 * generated in a worker thread one batch ahead of the caller: making a case costs about as much as
 * the webhook's answer to it, and the two now overlap instead of taking turns.
 */
export async function* caseBatches(seed: number, total: number, batchSize: number): AsyncGenerator<Case[]> {
  const worker = new Worker(new URL('./hostile-review-worker.js', import.meta.url));
  const waiting: ((cases: Case[]) => void)[] = [];
  worker.on('message', (cases: Case[]) => waiting.shift()?.(cases));
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the case generator exited (${code})`)));
  });
  failed.catch(() => undefined); // raced below; never left unhandled after the last batch
  const ask = (batch: number): Promise<Case[]> => {
    const answer = new Promise<Case[]>((resolve) => waiting.push(resolve));
    worker.postMessage({ seed: seed + batch, numRuns: Math.min(batchSize, total - batch * batchSize) });
    return Promise.race([answer, failed]);
  };
  try {
    const batches = Math.ceil(total / batchSize);
    let next = ask(0);
    for (let b = 0; b < batches; b++) {
      const cases = await next;
      if (b + 1 < batches) next = ask(b + 1);
      yield cases;
    }
  } finally {
    await worker.terminate();
  }
}
