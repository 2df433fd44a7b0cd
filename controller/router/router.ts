// How the controller shifts traffic, whatever carries it: one small interface, one module per
// route kind (http-route.ts for the Gateway API HTTPRoute), each the only writer of its objects.
// A second kind (a StatefulSet's revision-selecting Services, another mesh) is another module
// behind the same interface, chosen where the reconciler builds its router.
import type { Canary, CanaryStatus } from '../../api/flagger-types.js';

export interface Router {
  /**
   * Makes the Canary's route send `canaryWeight` percent (or the strategy's share) to the canary
   * for this status, writing only what differs. Throws NameClashError when an object at the
   * route's name is not sluice's.
   */
  ensure(canary: Canary, status: CanaryStatus, canaryWeight: number): Promise<void>;
}
