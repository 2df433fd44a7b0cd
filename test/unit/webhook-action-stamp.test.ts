// /mutate-action: who asked for a CanaryAction comes from the admission request, never the client.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import request from 'supertest';
import winston from 'winston';
import { decideStamp } from '../../webhook/action-stamp.js';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { createApp } from '../../webhook/app.js';
import { WebhookMetrics } from '../../webhook/metrics.js';
import { runs } from './runs.js';

const app = createApp({
  flags: { controllerUsers: [] },
  validation: { policiesFor: () => [], canaryExists: () => true },
  metrics: new WebhookMetrics(false),
  logger: winston.createLogger({ silent: true }),
  ready: () => true,
});

const review = (spec: Record<string, unknown>, userInfo: Record<string, unknown>, operation = 'CREATE') => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u-1',
    kind: { group: 'sluice.dev', version: 'v1alpha1', kind: 'CanaryAction' },
    resource: { group: 'sluice.dev', version: 'v1alpha1', resource: 'canaryactions' },
    namespace: 'test',
    operation,
    userInfo,
    object: { apiVersion: 'sluice.dev/v1alpha1', kind: 'CanaryAction', metadata: { generateName: 'podinfo-promote-' }, spec },
  },
});

const applyPatch = (obj: Record<string, unknown>, ops: jsonPatch.Operation[]) =>
  jsonPatch.applyPatch(structuredClone(obj), ops).newDocument as Record<string, unknown>;

describe('webhook: who asked for a CanaryAction', () => {
  it('overwrites a username the client sent with the authenticated user, and records uid and groups', async () => {
    const r = review(
      { canary: 'podinfo', action: 'promote', username: 'the-boss', groups: ['system:masters'] },
      { username: 'alice', uid: 'a-1', groups: ['dev', 'system:authenticated'] },
    );
    const res = await request(app).post('/mutate-action').send(r).expect(200);
    assert.equal(res.body.response.allowed, true);
    const ops = JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString('utf8'));
    const out = applyPatch(r.request.object as Record<string, unknown>, ops);
    assert.deepEqual(out.spec, {
      canary: 'podinfo',
      action: 'promote',
      username: 'alice',
      uid: 'a-1',
      groups: ['dev', 'system:authenticated'],
    });
  });

  it('refuses (500, naming the object) a request that names no user, and passes anything but a creation untouched', async () => {
    const res = await request(app)
      .post('/mutate-action')
      .send(review({ canary: 'p', action: 'abort' }, {}))
      .expect(200);
    assert.equal(res.body.response.allowed, false);
    assert.match(res.body.response.status.message, /could not record who asked .* names no user/);
    const upd = await request(app)
      .post('/mutate-action')
      .send(review({ canary: 'p', action: 'abort' }, { username: 'x' }, 'UPDATE'))
      .expect(200);
    assert.equal(upd.body.response.allowed, true);
    assert.equal(upd.body.response.patch, undefined);
  });

  it('whatever the client sends, the stamped user is the requester (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string({ minLength: 1 }), (spec, username) => {
        const req = review(spec as Record<string, unknown>, { username }).request as unknown as AdmissionRequest;
        const d = decideStamp(req);
        assert.ok(d.stamped);
        const out = (d.action as { spec: Record<string, unknown> }).spec;
        assert.equal(out.username, username);
        assert.equal(out.uid, undefined);
        assert.equal(out.groups, undefined);
      }),
      { numRuns: runs(500) },
    );
  });
});
