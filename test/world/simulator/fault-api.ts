// The fault API both of the world's gateways serve (the simulator and the real gateway's pod
// listeners): GET /faults, PUT and DELETE /faults/<namespace>/<service>, each body checked.
import type express from 'express';
import { type Fault, validateFault } from './outcome.js';

export function mountFaultApi(app: express.Express, faults: Map<string, Fault>): void {
  app.get('/faults', (_req, res) => void res.json(Object.fromEntries(faults)));
  app.put('/faults/:namespace/:service', (req, res) => {
    try {
      const fault = validateFault(req.body);
      faults.set(`${req.params.namespace}/${req.params.service}`, fault);
      res.json(fault);
    } catch (err) {
      res.status(400).json({ error: (err as Error).message });
    }
  });
  app.delete('/faults/:namespace/:service', (req, res) => {
    faults.delete(`${req.params.namespace}/${req.params.service}`);
    res.status(204).end();
  });
}
