// The worker thread behind caseBatches (hostile-reviews.ts): samples one batch of hostile cases per
// request, so generating the next batch overlaps the webhook answering this one.
import { parentPort } from 'node:worker_threads';
import fc from 'fast-check';
import { hostileCase } from './hostile-reviews.js';

parentPort?.on('message', ({ seed, numRuns }: { seed: number; numRuns: number }) => {
  parentPort?.postMessage(fc.sample(hostileCase, { numRuns, seed }));
});
