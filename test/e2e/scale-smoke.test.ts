// The scale benchmark (bench/scale-bench.ts, `make bench-scale`) at 20 Canaries, so its code does
// not rot between runs: every figure comes out a number, every Canary is Initialized and every
// rollout of the wave Succeeds. Nothing is recorded and no figure is judged here: benchmarks judge.
import assert from 'node:assert/strict';
import { scaleBench } from '../../bench/scale-bench.js';
import { runningPid } from '../world/processes.js';
import { sluiceAndNamespace } from '../world/seed.js';
import { CONTROLLER, startController, stopController } from '../world/sluice.js';
import { deleteNamespace } from '../world/test-clients.js';

describe('scale benchmark, smoke run at 20 Canaries', function () {
  this.timeout(480_000);
  it('measures init, idle cost and a wave of 4 rollouts', async () => {
    const ns = await sluiceAndNamespace('scale-smoke');
    await deleteNamespace(ns);
    const r = await scaleBench({
      namespaces: 2,
      perNamespace: 10,
      wave: 4,
      intervalSeconds: 2,
      // Short windows: here the figures only have to come out as numbers.
      idleSeconds: 5,
      settleSeconds: 3,
      ratePerRoute: 20,
      prefix: 'smoke_',
      // The suite's world is rarely as quiet as the benchmark's: the wait is exercised, not its threshold.
      quiet: { perSecond: 50, timeoutMs: 120_000 },
      // The floor beside the run: the controller stopped for it, started again after it.
      floor: { concurrency: 8, stopController: () => stopController() },
      betweenRuns: () => startController(),
    });
    for (const f of r.figures) console.log(`      ${f.name}: ${f.value} ${f.unit}`);
    assert.deepEqual(r.initialized, [20]);
    assert.deepEqual(r.succeeded, [4]);
    for (const f of r.figures) assert.ok(Number.isFinite(f.value), `${f.name} is a number (${f.value})`);
    const names = r.figures.map((f) => f.name);
    for (const n of [
      'apply_to_all_initialized',
      'controller_rss_idle',
      'wave_step_lateness_p99',
      'wave_set_image_to_canary_p99',
      'init_floor_any_controller',
      'init_beyond_floor',
    ])
      assert.ok(names.includes(`smoke_scale_${n}`), n);
    // The floor waits until it has left nothing behind (removeFloor); the controller the rest of
    // the suite uses must run again after it.
    assert.ok(runningPid(CONTROLLER) !== undefined, 'the controller runs again');
  });
});
