// How many generated inputs a property or fuzz test tries. `make test` runs the full count;
// `make mutation` sets SLUICE_RUNS_SCALE (a tenth), because every mutant re-runs each test that
// reaches it, and a tenth of the inputs still tells a changed decision apart while keeping the
// run to minutes.
const scale = Number(process.env.SLUICE_RUNS_SCALE ?? 1);

export const runs = (n: number): number => Math.max(20, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
