// The layer check that `make lint` runs: it must fail on a back-edge and on a second spelling of
// the contract, and pass the tree as it is.
import assert from 'node:assert/strict';
import { checkFile, checkTree } from '../tools/check-layers.js';
import { root } from '../world/layout.js';

describe('layer check', () => {
  it('refuses imports that point up or sideways between peers', () => {
    const bad: [string, string][] = [
      ['policy/selection.ts', "import { decide } from '../controller/state-machine.js';"],
      ['api/revision.ts', "import type { Canary } from '../policy/generated-canary.js';"],
      ['webhook/app.ts', "import { Reconciler } from '../controller/reconciler.js';"],
      ['controller/main.ts', "import { answerMutate } from '../webhook/admission-review.js';"],
      ['lib/kube/client.ts', "import { names } from '../../api/contract.js';"],
      ['test/world/demo.ts', "import { applySeed } from '../e2e/seed.js';"],
      ['test/e2e/x.test.ts', "import { helper } from '../integration/helpers.js';"],
      ['controller/x.ts', "const m = await import('../webhook/main.js');"],
    ];
    for (const [file, line] of bad) assert.equal(checkFile(file, line).length, 1, `${file}: ${line}`);
  });

  it('allows imports that point down, and within a folder', () => {
    const good: [string, string][] = [
      ['controller/reconciler.ts', "import { enforce } from '../policy/constraints.js';"],
      ['controller/router/http-route.ts', "import { NameClashError } from '../generated-objects.js';"],
      ['webhook/app.ts', "import { policiesForNamespace } from '../policy/selection.js';"],
      ['bin/sluice.ts', "await import('../controller/main.js');"],
      ['test/e2e/x.test.ts', "import { admin } from '../world/test-clients.js';"],
    ];
    for (const [file, line] of good) assert.deepEqual(checkFile(file, line), [], `${file}: ${line}`);
  });

  it("refuses the contract's strings outside api/, except in comments", () => {
    assert.equal(checkFile('controller/x.ts', "const l = 'sluice.dev/canary-name';").length, 1);
    // A prefix test spells the contract too (controller/canary-endpoints.ts once did).
    assert.equal(checkFile('controller/x.ts', "k.startsWith('sluice.dev/')").length, 1);
    assert.equal(checkFile('webhook/x.ts', 'const l = { "app.kubernetes.io/managed-by": "sluice" };').length, 1);
    assert.deepEqual(checkFile('controller/x.ts', '// the sluice.dev/canary-name label'), []);
    assert.deepEqual(checkFile('api/contract.ts', "canaryName: 'sluice.dev/canary-name',"), []);
    assert.deepEqual(
      checkFile('test/unit/x.test.ts', "assert.equal(l['sluice.dev/managed'], 'true');"),
      [],
      'tests may spell what they expect',
    );
  });

  it('passes the tree as it is', () => assert.deepEqual(checkTree(root), []));
});
