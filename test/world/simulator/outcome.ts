// What one simulated request to a backend Service returns: its status code and latency, from
// the Service's readiness and the faults a test injected. Pure given a random source.
import { gaussian, type Random } from '../../../lib/stats/seeded-random.js';

export interface Fault {
  /** Share of requests answered 500, 0..1. */
  errorRatio: number;
  /** Median added latency in milliseconds (spread log-normally around it). */
  latencyMs: number;
}

export interface BackendState {
  exists: boolean;
  readyEndpoints: number;
}

export interface Outcome {
  code: number;
  latencyMs: number;
  /** False when the gateway answered by itself (no Service, no ready endpoint). */
  reachedWorkload: boolean;
}

export type { Random } from '../../../lib/stats/seeded-random.js';

/** Log-normal sample with the given median and shape: latencies have a long right tail. */
export function logNormal(random: Random, medianMs: number, sigma: number): number {
  return medianMs * Math.exp(sigma * gaussian(random));
}

export const BASE_LATENCY_MEDIAN_MS = 12;
const BASE_LATENCY_SIGMA = 0.45;
const FAULT_LATENCY_SIGMA = 0.2;

export function requestOutcome(backend: BackendState, fault: Fault | undefined, random: Random): Outcome {
  // Gateway API: a backendRef to a missing Service gets 500; Envoy answers 503 when a cluster
  // has no healthy hosts. Both fail fast.
  if (!backend.exists) return { code: 500, latencyMs: logNormal(random, 0.4, 0.3), reachedWorkload: false };
  if (backend.readyEndpoints === 0) return { code: 503, latencyMs: logNormal(random, 0.4, 0.3), reachedWorkload: false };
  let latencyMs = logNormal(random, BASE_LATENCY_MEDIAN_MS, BASE_LATENCY_SIGMA);
  if (fault && fault.latencyMs > 0) latencyMs += logNormal(random, fault.latencyMs, FAULT_LATENCY_SIGMA);
  const failed = fault !== undefined && fault.errorRatio > 0 && random() < fault.errorRatio;
  return { code: failed ? 500 : 200, latencyMs, reachedWorkload: true };
}

export function validateFault(input: unknown): Fault {
  const body = (input ?? {}) as Record<string, unknown>;
  const errorRatio = body.errorRatio ?? 0;
  const latencyMs = body.latencyMs ?? 0;
  if (typeof errorRatio !== 'number' || !(errorRatio >= 0 && errorRatio <= 1)) {
    throw new Error(`errorRatio must be a number from 0 to 1, got ${JSON.stringify(errorRatio)}`);
  }
  if (typeof latencyMs !== 'number' || !(latencyMs >= 0 && latencyMs <= 600_000)) {
    throw new Error(`latencyMs must be a number of milliseconds from 0 to 600000, got ${JSON.stringify(latencyMs)}`);
  }
  return { errorRatio, latencyMs };
}
