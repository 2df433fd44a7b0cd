import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import winston from 'winston';
import { waitFor } from '../../lib/wait.js';
import { createTester } from '../../tester/app.js';
import { parseHey } from '../../tester/load-task.js';

const silent = winston.createLogger({ silent: true });
const podinfo = { name: 'podinfo', namespace: 'test' };

describe('tester', () => {
  it('gates per Canary: closed by default, open after /gate/open, closed again after /gate/close', async () => {
    const { app } = createTester(silent);
    await request(app).post('/gate/check').send(podinfo).expect(403);
    await request(app).post('/gate/open').send(podinfo).expect(200);
    await request(app).post('/gate/check').send(podinfo).expect(200);
    await request(app).post('/gate/check').send({ name: 'other', namespace: 'test' }).expect(403);
    await request(app).post('/gate/close').send(podinfo).expect(200);
    await request(app).post('/gate/check').send(podinfo).expect(403);
    await request(app).post('/gate/approve').send(podinfo).expect(200);
    await request(app).post('/gate/halt').send(podinfo).expect(403);
  });

  it('keeps a rollback switch per Canary that /rollback/check reports as 2xx when open', async () => {
    const { app } = createTester(silent);
    await request(app).post('/rollback/check').send(podinfo).expect(403);
    await request(app).post('/rollback/open').send(podinfo).expect(200);
    await request(app).post('/rollback/check').send(podinfo).expect(200);
    const status = await request(app).get('/status').expect(200);
    assert.deepEqual(status.body.rollbacks, ['podinfo.test']);
  });

  it('refuses a body without the Canary, naming what it expects', async () => {
    const { app } = createTester(silent);
    const res = await request(app).post('/gate/open').send({ name: 'x' }).expect(400);
    assert.match(res.body.error, /name and namespace/);
  });

  it('understands hey command lines and never runs anything else', () => {
    assert.deepEqual(
      parseHey(
        'hey -z 1m -q 10 -c 2 -m POST -d \'{"a": 1}\' -H "X-Canary: insider" -host app.example.com http://podinfo-canary.test:9898/echo',
      ),
      {
        url: 'http://podinfo-canary.test:9898/echo',
        method: 'POST',
        headers: { 'X-Canary': 'insider', host: 'app.example.com' },
        body: '{"a": 1}',
        ratePerSecond: 20,
        durationMs: 60_000,
      },
    );
    assert.throws(
      () => parseHey('curl http://x/'),
      /only "hey" load commands are understood, not "curl"; the sluice tester runs no commands/,
    );
    assert.throws(() => parseHey('hey -z 1m -q 10 -c 2 http://x/; rm -rf /'), /not understood|must be http/);
    assert.throws(() => parseHey('hey -q 5000 -c 1 http://x/'), /above the tester's limit/);
    assert.throws(() => parseHey('hey -z 2h http://x/'), /duration above/);
  });

  it('runs a bounded load task once per Canary and command, at its rate', async () => {
    let hits = 0;
    const target = http.createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
    const tester = createTester(silent);
    try {
      const body = { ...podinfo, metadata: { type: 'cmd', cmd: `hey -z 1s -q 20 -c 1 ${url}` } };
      assert.equal((await request(tester.app).post('/').send(body).expect(200)).body.state, 'started');
      assert.equal((await request(tester.app).post('/').send(body).expect(200)).body.state, 'already running');
      await waitFor(() => tester.tasks.size === 0, { timeoutMs: 5000, what: 'the task to end' });
      // 20/s for 1 s: about 20 requests (timer granularity allows a little either way).
      assert.ok(hits >= 15 && hits <= 22, `${hits} requests`);
      const bad = await request(tester.app)
        .post('/')
        .send({ ...podinfo, metadata: { type: 'bash', cmd: 'ls' } })
        .expect(400);
      assert.match(bad.body.error, /^podinfo\.test: metadata must be/);
    } finally {
      await tester.stopAll();
      target.close();
    }
  });

  it('with a token: opening and closing need it, checks do not', async () => {
    const { app } = createTester(silent, { token: 's3cret' });
    const refused = await request(app).post('/rollback/open').send(podinfo).expect(401);
    assert.match(refused.body.error, /Authorization: Bearer/);
    await request(app).post('/rollback/open').set('authorization', 'Bearer wrong').send(podinfo).expect(401);
    await request(app).post('/rollback/check').send(podinfo).expect(403);
    await request(app).post('/rollback/open').set('authorization', 'Bearer s3cret').send(podinfo).expect(200);
    await request(app).post('/rollback/check').send(podinfo).expect(200);
    await request(app).post('/gate/close').send(podinfo).expect(401);
  });

  it('with a token: a load task needs it too, in the Authorization header or the hook metadata', async () => {
    const tester = createTester(silent, { token: 's3cret' });
    try {
      const load = { type: 'load', url: 'http://127.0.0.1:9/', rate: '1', duration: '1s' };
      const refused = await request(tester.app)
        .post('/')
        .send({ ...podinfo, metadata: load })
        .expect(401);
      assert.match(refused.body.error, /load tasks need the tester's token/);
      await request(tester.app)
        .post('/')
        .send({ ...podinfo, metadata: { ...load, token: 'wrong' } })
        .expect(401);
      assert.equal(tester.tasks.size, 0, 'nothing started');
      const started = await request(tester.app)
        .post('/')
        .send({ ...podinfo, metadata: { ...load, token: 's3cret' } })
        .expect(200);
      assert.equal(started.body.state, 'started');
      assert.doesNotMatch(started.body.task, /s3cret/, 'the token is not echoed');
    } finally {
      await tester.stopAll();
    }
  });

  it('holds gates and switches to a ceiling, and Canary names to what Kubernetes allows', async () => {
    const { app } = createTester(silent, { maxSwitches: 2 });
    await request(app).post('/gate/open').send({ name: 'a', namespace: 'test' }).expect(200);
    await request(app).post('/rollback/open').send({ name: 'b', namespace: 'test' }).expect(200);
    const full = await request(app).post('/gate/open').send({ name: 'c', namespace: 'test' }).expect(429);
    assert.match(full.body.error, /2 gates and switches are open already/);
    await request(app).post('/gate/open').send({ name: 'a', namespace: 'test' }).expect(200);
    await request(app).post('/gate/close').send({ name: 'a', namespace: 'test' }).expect(200);
    await request(app).post('/gate/open').send({ name: 'c', namespace: 'test' }).expect(200);
    for (const bad of [
      { name: 'A', namespace: 'test' },
      { name: 'x'.repeat(254), namespace: 'test' },
      { name: 'ok', namespace: 'has.dot' },
    ]) {
      const r = await request(app).post('/gate/check').send(bad).expect(400);
      assert.match(r.body.error, /as Kubernetes spells them/);
    }
  });
});
