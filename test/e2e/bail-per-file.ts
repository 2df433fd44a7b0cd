// Mocha root hooks for the e2e suite: after a test fails, the rest of its file is skipped, and the
// other files still run. A file's numbered steps share one world state, so a step after a failed
// one would only fail because of it; a whole-run bail, though, would hide every other file's result.
import type { Context } from 'mocha';

const failedFiles = new Set<string>();

export const mochaHooks = {
  beforeEach(this: Context) {
    const file = this.currentTest?.file;
    if (file && failedFiles.has(file)) this.skip();
  },
  afterEach(this: Context) {
    const t = this.currentTest;
    if (t?.state === 'failed' && t.file) failedFiles.add(t.file);
  },
};
