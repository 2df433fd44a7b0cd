-- Argo CD health for apps/DaemonSet, aware of sluice (docs/workloads.md, docs/operating.md).
-- Argo CD's built-in check calls any DaemonSet that updates OnDelete Healthy. A DaemonSet sluice
-- has frozen (OnDelete, its own strategy set aside in sluice.dev/held-update-strategy, annotated
-- sluice.dev/canary) holds a revision under analysis: it is reported Progressing until the release
-- restores its strategy, so a sync waits for the rollout, and the Canary's own health says
-- Degraded if it is rolled back. Every other DaemonSet gets Argo CD's usual verdict.
local hs = {}
local spec = obj.spec or {}
local st = obj.status or {}
local meta = obj.metadata or {}
local annotations = meta.annotations or {}
local canary = annotations["sluice.dev/canary"]
local strategy = spec.updateStrategy or {}

if canary ~= nil and strategy.type == "OnDelete" and annotations["sluice.dev/held-update-strategy"] ~= nil then
  hs.status = "Progressing"
  hs.message = "held by sluice while Canary " .. canary ..
    " analyses the new revision (kubectl sluice why daemonset/" .. meta.name .. ")"
  return hs
end

local generation = meta.generation or 0
local observed = st.observedGeneration or 0
if generation > observed then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout to finish: observed daemon set generation less than desired generation"
  return hs
end
local desired = st.desiredNumberScheduled or 0
local updated = st.updatedNumberScheduled or 0
local available = st.numberAvailable or 0
if strategy.type == "OnDelete" then
  hs.status = "Healthy"
  hs.message = "daemon set " .. updated .. " out of " .. desired .. " new pods have been updated"
  return hs
end
if updated < desired then
  hs.status = "Progressing"
  hs.message = "Waiting for daemon set " .. meta.name .. " rollout to finish: " .. updated .. " out of " .. desired .. " new pods have been updated..."
  return hs
end
if available < desired then
  hs.status = "Progressing"
  hs.message = "Waiting for daemon set " .. meta.name .. " rollout to finish: " .. available .. " of " .. desired .. " updated pods are available..."
  return hs
end
hs.status = "Healthy"
hs.message = "daemon set " .. meta.name .. " rolled out: " .. updated .. " of " .. desired .. " pods updated and available"
return hs
