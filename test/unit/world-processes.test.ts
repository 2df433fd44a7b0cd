// The world's process handling, on throwaway processes: a component that fails to start is named
// with its log, and nothing it started is left running.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ComponentError, ensureStarted, isAlive, logFile, runningPid, stopComponent } from '../world/processes.js';

const node = process.execPath;

describe('world processes', function () {
  this.timeout(20_000);

  it('names a component that exits during start-up, with its log and last lines', async () => {
    const name = 'unit-crasher';
    fs.rmSync(logFile(name), { force: true });
    await assert.rejects(
      ensureStarted({
        name,
        command: node,
        args: ['-e', 'console.error("bad flag --frobnicate"); process.exit(3)'],
        ready: async () => false,
        readyTimeoutMs: 5000,
      }),
      (err: unknown) =>
        err instanceof ComponentError &&
        err.component === name &&
        err.message.includes('exited during start-up') &&
        err.message.includes(logFile(name)) &&
        err.message.includes('bad flag --frobnicate'),
    );
    assert.equal(runningPid(name), undefined);
  });

  it('stops a component that never becomes ready, and its children with it', async () => {
    const name = 'unit-hanger';
    // A parent that starts a child and never serves: both must be gone afterwards.
    const script =
      'const c = require("child_process").spawn(process.execPath, ["-e", "setInterval(()=>{},1000)"], {stdio: "inherit"}); console.log("child " + c.pid); setInterval(() => {}, 1000);';
    await assert.rejects(
      ensureStarted({ name, command: node, args: ['-e', script], ready: async () => false, readyTimeoutMs: 1500 }),
      /was not ready within 1\.5 s/,
    );
    const childPid = Number(/child (\d+)/.exec(fs.readFileSync(logFile(name), 'utf8'))?.[1]);
    assert.ok(childPid > 0, 'the child reported its pid');
    assert.equal(isAlive(childPid), false, 'no process left behind');
  });

  it('leaves a ready component running and finds it again; stop ends it', async () => {
    const name = 'unit-server';
    const first = await ensureStarted({ name, command: node, args: ['-e', 'setInterval(() => {}, 1000)'], ready: async () => true });
    const pid = runningPid(name);
    assert.equal(first, 'started');
    assert.equal(await ensureStarted({ name, command: node, args: [], ready: async () => true }), 'already running');
    assert.equal(runningPid(name), pid);
    await stopComponent(name);
    assert.equal(isAlive(pid!), false);
  });
});
