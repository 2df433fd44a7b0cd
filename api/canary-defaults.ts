// Flagger's defaults for what a Canary's analysis leaves out: read by the controller's state
// machine and by cluster policy's constraints, so both mean the same by an omitted field.
export const DEFAULTS = {
  intervalMs: 60_000,
  threshold: 5,
  maxWeight: 100,
  stepWeight: 10,
  progressDeadlineSeconds: 600,
  readyThreshold: 100,
};
