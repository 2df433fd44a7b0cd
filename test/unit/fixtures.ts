// Loads the AdmissionReviews captured from the real apiserver (test/fixtures/capture-admission.ts).
import fs from 'node:fs';
import path from 'node:path';
import { root } from '../world/layout.js';
import type { AdmissionRequest, AdmissionReview, Deployment } from '../../webhook/admission-types.js';

const dir = path.join(root, 'test/fixtures/admission');

export function reviewFixture(name: string): AdmissionReview & { request: AdmissionRequest & { object: Deployment; oldObject: Deployment } } {
  return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'));
}

export function fixtureNames(): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}
