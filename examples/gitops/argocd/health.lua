-- Argo CD health of a turnout VersionSelection (kstatus conventions):
-- Healthy once Ready=True for the current generation, Degraded when turnout
-- says so (PortConflict, SyncFailed, InvalidPlan, ...), Progressing otherwise.
local hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for turnout to report"
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for turnout to observe generation " .. generation
  return hs
end
local ready, degraded
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Degraded" then degraded = c end
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
elseif degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.reason .. ": " .. degraded.message
else
  hs.status = "Progressing"
  hs.message = (ready and ready.message) or "Waiting for the host to converge"
end
return hs
