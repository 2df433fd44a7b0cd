// From an HTTP body to an AdmissionReview response: shape checks on the way in, the decision,
// and the JSON patch computed as a diff of the object on the way out.
import jsonPatch from 'fast-json-patch';
import { decideStamp } from './action-stamp.js';
import { reviewShapeProblem } from './admission-schema.js';
import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from './admission-types.js';
import { type CopySources, decideCopy } from './copy-decision.js';
import { type DaemonPodSources, decideDaemonPod } from './daemon-pod-decision.js';
import { type DecisionKind, decideFreeze, type FreezeContext, type FreezeFlags } from './freeze-decision.js';
import { decidePin } from './pin-decision.js';
import { decideValidate, type ValidateContext } from './validate-decision.js';

export class BadReviewError extends Error {}

/** Throws BadReviewError with a message saying what is wrong, for a 400 answer. */
export function parseReview(body: unknown): AdmissionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadReviewError('expected a JSON AdmissionReview object (admission.k8s.io/v1)');
  }
  // Every field the decisions and logs read is type-checked here, before any of them is read.
  const problem = reviewShapeProblem(body);
  if (problem) throw new BadReviewError(`not an AdmissionReview sluice can read (admission.k8s.io/v1): ${problem}`);
  const req = (body as AdmissionReview).request!;
  return { ...req, userInfo: req.userInfo ?? {} };
}

export interface Answer {
  review: AdmissionReview;
  decision: DecisionKind | 'allowed' | 'denied' | 'pinned' | 'stamped' | 'stable-template' | 'error';
  note: string;
  /** Worth logging at info even though it passed. */
  notable?: boolean;
  /** `name.namespace` or the request's uid: for logs. */
  subject: string;
}

function subjectOf(req: AdmissionRequest): string {
  const name = req.name ?? (req.object as { metadata?: { name?: string } } | undefined)?.metadata?.name;
  return name ? `${name}.${req.namespace ?? ''}` : `request ${req.uid}`;
}

const wrap = (response: AdmissionResponse): AdmissionReview => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });

/** A decision that threw: denied with a 500 naming the object (denying is the safe failure on every endpoint). */
const failed = (req: AdmissionRequest, subject: string, message: string): Answer => ({
  review: wrap({ uid: req.uid, allowed: false, status: { code: 500, message } }),
  decision: 'error',
  note: message,
  subject,
});

/** Allowed, with the JSON patch from the request's object to `mutated` (none when they are equal). */
function allowedAs(req: AdmissionRequest, mutated: object, warnings?: string[]): { response: AdmissionResponse; changed: boolean } {
  const ops = jsonPatch.compare(req.object as object, mutated);
  const response: AdmissionResponse = { uid: req.uid, allowed: true, ...(warnings ? { warnings } : {}) };
  if (ops.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(ops)).toString('base64');
  }
  return { response, changed: ops.length > 0 };
}

export function answerMutate(req: AdmissionRequest, flags: FreezeFlags, ctx?: FreezeContext): Answer {
  const subject = subjectOf(req);
  let decision;
  try {
    decision = decideFreeze(req, flags, ctx);
  } catch (err) {
    // An unexamined template change must not roll out.
    return failed(
      req,
      subject,
      `sluice could not examine ${req.kind.kind} ${subject}: ${(err as Error).message}. The change was not applied; retry, and if it persists check the sluice-webhook logs`,
    );
  }
  switch (decision.kind) {
    case 'passed':
      if (decision.warning)
        return {
          review: wrap({ uid: req.uid, allowed: true, warnings: [decision.warning] }),
          decision: 'passed',
          note: decision.warning,
          subject,
          notable: true,
        };
      return {
        review: wrap({ uid: req.uid, allowed: true }),
        decision: 'passed',
        note: decision.reason,
        subject,
        notable: decision.unexpected,
      };
    case 'marked':
      return {
        review: wrap(allowedAs(req, decision.mutated, decision.warning ? [decision.warning] : undefined).response),
        decision: 'passed',
        note: decision.warning ?? decision.reason,
        subject,
        notable: true,
      };
    case 'refused':
      return {
        review: wrap({ uid: req.uid, allowed: false, status: { code: decision.code, message: decision.message, reason: 'Conflict' } }),
        decision: 'refused',
        note: decision.message,
        subject,
      };
    case 'frozen':
    case 're-paused':
      return {
        review: wrap(allowedAs(req, decision.mutated, [decision.warning]).response),
        decision: decision.kind,
        note: decision.warning,
        subject,
      };
  }
}

export function answerValidate(req: AdmissionRequest, ctx: ValidateContext): Answer {
  const subject = subjectOf(req);
  let verdict;
  try {
    verdict = decideValidate(req, ctx);
  } catch (err) {
    return failed(
      req,
      subject,
      `sluice could not examine ${req.kind.kind} ${subject}: ${(err as Error).message}. The change was not applied; retry, and if it persists check the sluice-webhook logs`,
    );
  }
  if (verdict.allowed) return { review: wrap({ uid: req.uid, allowed: true }), decision: 'allowed', note: verdict.reason, subject };
  return {
    review: wrap({ uid: req.uid, allowed: false, status: { code: verdict.code, reason: verdict.reason, message: verdict.message } }),
    decision: 'denied',
    note: verdict.message,
    subject,
  };
}

/** POST /validate-copy: a canary copy the controller writes (copy-decision.ts). */
export async function answerCopy(req: AdmissionRequest, controllerUsers: string[], sources: CopySources): Promise<Answer> {
  const subject = subjectOf(req);
  let verdict;
  try {
    verdict = await decideCopy(req, controllerUsers, sources);
  } catch (err) {
    // Refused: the controller retries, and a copy that could not be checked must not start.
    return failed(req, subject, `sluice could not check canary copy ${subject}: ${(err as Error).message}`);
  }
  if (verdict.allowed) return { review: wrap({ uid: req.uid, allowed: true }), decision: 'allowed', note: verdict.reason, subject };
  return {
    review: wrap({ uid: req.uid, allowed: false, status: { code: verdict.code, reason: verdict.reason, message: verdict.message } }),
    decision: 'denied',
    note: verdict.message,
    subject,
    notable: true,
  };
}

export function answerPin(
  req: AdmissionRequest,
  pins: (namespace: string, deployment: string) => Record<string, string> | undefined,
): Answer {
  const subject = subjectOf(req);
  let d;
  try {
    d = decidePin(req, pins);
  } catch (err) {
    // Admitting unpinned would let a pod read unanalysed config; the ReplicaSet retries the create.
    return failed(req, subject, `sluice could not pin Pod ${subject} to its config snapshots: ${(err as Error).message}`);
  }
  if (!d.pinned) return { review: wrap({ uid: req.uid, allowed: true }), decision: 'passed', note: d.reason, subject };
  const { response, changed } = allowedAs(req, d.pod);
  return {
    review: wrap(response),
    decision: changed ? 'pinned' : 'passed',
    note: `pinned to the config snapshots of Deployment ${d.deployment}`,
    subject,
    notable: changed,
  };
}

export async function answerDaemonPod(req: AdmissionRequest, sources: DaemonPodSources): Promise<Answer> {
  const subject = subjectOf(req);
  let d;
  try {
    d = await decideDaemonPod(req, sources);
  } catch (err) {
    // Admitting it as it is could start an untested template on a node outside the canary; the
    // DaemonSet controller retries the create.
    return failed(req, subject, `sluice could not check the revision of DaemonSet pod ${subject}: ${(err as Error).message}`);
  }
  if ('refused' in d)
    return {
      review: wrap({ uid: req.uid, allowed: false, status: { code: d.code, message: d.message } }),
      decision: 'denied',
      note: d.message,
      subject,
    };
  if (!d.swapped) return { review: wrap({ uid: req.uid, allowed: true }), decision: 'passed', note: d.reason, subject };
  return { review: wrap(allowedAs(req, d.pod).response), decision: 'stable-template', note: d.note, subject, notable: true };
}

export function answerStamp(req: AdmissionRequest): Answer {
  const subject = subjectOf(req);
  let d;
  try {
    d = decideStamp(req);
  } catch (err) {
    // Admitting it unstamped would leave an action nobody can be held to; the controller refuses those anyway.
    return failed(req, subject, `sluice could not record who asked for CanaryAction ${subject}: ${(err as Error).message}`);
  }
  if (!d.stamped) return { review: wrap({ uid: req.uid, allowed: true }), decision: 'passed', note: d.reason, subject };
  return {
    review: wrap(allowedAs(req, d.action).response),
    decision: 'stamped',
    note: `requested by ${d.user}`,
    subject,
    notable: true,
  };
}
