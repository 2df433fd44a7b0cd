// Who asked for a CanaryAction, written at admission from the request's authenticated user (as
// the apiserver fills a CertificateSigningRequest's username): the controller's Event names this
// user, so a client-supplied value is always overwritten. Pure.
import { ACTION_KIND } from '../api/canary-action.js';
import type { AdmissionRequest } from './admission-types.js';

export type StampDecision = { stamped: false; reason: string } | { stamped: true; action: Record<string, unknown>; user: string };

export function decideStamp(req: AdmissionRequest): StampDecision {
  if (req.operation !== 'CREATE' || req.kind.kind !== ACTION_KIND || (req.subResource ?? '') !== '')
    return { stamped: false, reason: 'not a CanaryAction creation' };
  const obj = req.object;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('the request carries no CanaryAction');
  const spec = (obj as { spec?: unknown }).spec;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error('the CanaryAction has no spec');
  const username = req.userInfo.username;
  // The apiserver always names an authenticated user; without one nothing could be attributed.
  if (!username) throw new Error('the request names no user');
  const { uid, groups } = req.userInfo;
  const stamped: Record<string, unknown> = { ...(spec as Record<string, unknown>), username };
  delete stamped.uid;
  delete stamped.groups;
  if (uid) stamped.uid = uid;
  if (groups && groups.length > 0) stamped.groups = [...groups];
  return { stamped: true, action: { ...(obj as Record<string, unknown>), spec: stamped }, user: username };
}
