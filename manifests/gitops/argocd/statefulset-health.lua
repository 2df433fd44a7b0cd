-- Argo CD health for apps/StatefulSet, aware of sluice (docs/workloads.md, docs/operating.md).
-- Argo CD's built-in check calls a StatefulSet whose partition is above its replicas
-- "partitioned roll out complete" (Healthy). A StatefulSet sluice has frozen (partition above 0,
-- annotated sluice.dev/canary) holds a revision under analysis: it is reported Progressing until
-- the release lowers the partition to 0, so a sync waits for the rollout, and the Canary's own
-- health says Degraded if it is rolled back. Every other StatefulSet gets Argo CD's usual verdict.
local hs = {}
local spec = obj.spec or {}
local st = obj.status or {}
local meta = obj.metadata or {}
local annotations = meta.annotations or {}
local canary = annotations["sluice.dev/canary"]
local strategy = spec.updateStrategy or {}
local rolling = strategy.rollingUpdate
local partition = nil
if rolling ~= nil then
  partition = rolling.partition
end

if canary ~= nil and partition ~= nil and partition > 0 then
  hs.status = "Progressing"
  hs.message = "held by sluice while Canary " .. canary ..
    " analyses the new revision (kubectl sluice why statefulset/" .. meta.name .. ")"
  return hs
end

local generation = meta.generation or 0
local observed = st.observedGeneration or 0
if observed == 0 or generation > observed then
  hs.status = "Progressing"
  hs.message = "Waiting for statefulset spec update to be observed..."
  return hs
end
local replicas = spec.replicas
local ready = st.readyReplicas or 0
local updated = st.updatedReplicas or 0
if replicas ~= nil and ready < replicas then
  hs.status = "Progressing"
  hs.message = "Waiting for " .. (replicas - ready) .. " pods to be ready..."
  return hs
end
if (strategy.type == nil or strategy.type == "RollingUpdate") and rolling ~= nil then
  if replicas ~= nil and partition ~= nil and updated < (replicas - partition) then
    hs.status = "Progressing"
    hs.message = "Waiting for partitioned roll out to finish: " .. updated .. " out of " .. (replicas - partition) .. " new pods have been updated..."
    return hs
  end
  hs.status = "Healthy"
  hs.message = "partitioned roll out complete: " .. updated .. " new pods have been updated..."
  return hs
end
if strategy.type == "OnDelete" then
  hs.status = "Healthy"
  hs.message = "statefulset has " .. ready .. " ready pods"
  return hs
end
if st.updateRevision ~= st.currentRevision then
  hs.status = "Progressing"
  hs.message = "waiting for statefulset rolling update to complete " .. updated .. " pods at revision " .. tostring(st.updateRevision) .. "..."
  return hs
end
hs.status = "Healthy"
hs.message = "statefulset rolling update complete " .. (st.currentReplicas or 0) .. " pods at revision " .. tostring(st.currentRevision) .. "..."
return hs
