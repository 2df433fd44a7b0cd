-- Argo CD health for apps/Deployment, aware of sluice (docs/operating.md, "Argo CD").
-- Argo CD's built-in check calls every paused Deployment "Suspended". A Deployment sluice has
-- frozen (paused, annotated sluice.dev/canary) holds a revision under analysis: it is reported
-- Progressing until the release unpauses it, so a sync (and its waves and PostSync hooks) waits
-- for the rollout, and the Canary's own health (Argo CD's built-in flagger.app/Canary check)
-- says Degraded if it is rolled back. Every other Deployment gets Argo CD's usual verdict.
local hs = {}
local spec = obj.spec or {}
local st = obj.status or {}
local meta = obj.metadata or {}
local annotations = meta.annotations or {}
local canary = annotations["sluice.dev/canary"]

if spec.paused == true then
  if canary ~= nil then
    hs.status = "Progressing"
    hs.message = "held by sluice while Canary " .. canary ..
      " analyses the new revision (kubectl sluice why " .. meta.name .. ")"
  else
    hs.status = "Suspended"
    hs.message = "Deployment is paused"
  end
  return hs
end

local generation = meta.generation or 0
local observed = st.observedGeneration or 0
if generation > observed then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: observed deployment generation less than desired generation"
  return hs
end
for _, c in ipairs(st.conditions or {}) do
  if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded" then
    hs.status = "Degraded"
    hs.message = "Deployment \"" .. meta.name .. "\" exceeded its progress deadline"
    return hs
  end
end
local replicas = spec.replicas
local updated = st.updatedReplicas or 0
local current = st.replicas or 0
local available = st.availableReplicas or 0
if replicas ~= nil and updated < replicas then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: " .. updated .. " out of " .. replicas .. " new replicas have been updated..."
elseif current > updated then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: " .. (current - updated) .. " old replicas are pending termination..."
elseif available < updated then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: " .. available .. " of " .. updated .. " updated replicas are available..."
else
  hs.status = "Healthy"
  hs.message = ""
end
return hs
