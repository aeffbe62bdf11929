-- Argo CD health check for the cloudphone.dev kinds: CloudPhoneRoute, ClusterCloudPhoneAccount and
-- CloudPhoneAccount. All three carry the same conditions (Ready, Reconciling, Stalled, reasons from one
-- list) and observedGeneration, so one script serves them.
--
-- Maps the conditions and observedGeneration to Argo CD's health: a status the operator has not caught up
-- with is never Healthy, a failure the operator reports is Degraded even while it retries, and a suspended
-- route is Suspended. An account is Healthy once a list call with its credentials succeeded (Ready=True,
-- CredentialsVerified), Progressing while they are being checked (Reconciling, Verifying), and Degraded
-- when it cannot be used (Stalled, or Ready=False with a failure reason such as EndpointNotAllowed).
--
-- Installed by argocd-cm-patch.yaml beside this file (resource.customizations.health.cloudphone.dev_<Kind>,
-- one key per kind), whose text must equal this file: test/unit/argocd-cm.test.ts checks, and
-- test/unit/argocd-health.test.ts runs this script against test/fixtures/argocd/ under gopher-lua set up as
-- Argo CD sets it up (test/tools/argocd-lua) and under lua5.1. Argo CD runs it with gopher-lua (Lua 5.1) in
-- a sandbox: only the package, base and table libraries and os.time/os.date (no string or math library),
-- the object as the global `obj`, and one second to run.

-- Ready=False reasons that mean something failed and will not mend without a person or an outage
-- ending: Degraded. They are the reasons of src/api/v1alpha1/conditions.ts whose Ready=False means a
-- failure (test/unit/argocd-health.test.ts checks the list against it). Every other Ready=False or
-- Unknown reason (ApplyingRoute, JobsPending, PhonesNotRunning, Throttled,
-- Verifying, Deleting, and any reason added later) means "not there yet": Progressing.
local failureReasons = {
  JobFailed = true,
  PhonesNotFound = true,
  Conflict = true,
  CredentialsInvalid = true,
  PermissionDenied = true,
  AccountRestricted = true,
  CphUnavailable = true,
  InvalidSpec = true,
  AccountNotFound = true,
  AccountNotAllowed = true,
  PhonesOutOfScope = true,
  EndpointNotAllowed = true,
}

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

-- "Reason: message", or whichever of the two the condition has.
local function describe(condition, fallback)
  if condition == nil then
    return fallback
  end
  local reason = condition.reason
  local message = condition.message
  if reason ~= nil and reason ~= "" and message ~= nil and message ~= "" then
    return reason .. ": " .. message
  end
  if message ~= nil and message ~= "" then
    return message
  end
  if reason ~= nil and reason ~= "" then
    return reason
  end
  return fallback
end

local function result(status, message)
  return { status = status, message = message }
end

local function health(obj)
  local metadata = obj.metadata or {}
  local spec = obj.spec or {}
  local status = obj.status or {}
  local conditions = status.conditions
  local ready = findCondition(conditions, "Ready")
  local reconciling = findCondition(conditions, "Reconciling")
  local stalled = findCondition(conditions, "Stalled")

  -- Being deleted: a route's finalizer may be reverting its phones (deletionPolicy: Revert).
  if metadata.deletionTimestamp ~= nil then
    return result("Progressing", describe(reconciling, "Deleting"))
  end

  if spec.suspend == true then
    if ready ~= nil and ready.reason == "Suspended" then
      return result("Suspended", describe(ready, "Suspended"))
    end
    return result("Suspended", "Suspended: spec.suspend is true, the operator does not change routes")
  end

  if conditions == nil or #conditions == 0 then
    return result("Progressing", "Waiting for the operator to report status")
  end

  -- A status written for an older spec says nothing about the current one.
  local generation = metadata.generation
  local observed = status.observedGeneration
  if generation ~= nil and (observed == nil or observed < generation) then
    return result("Progressing", "Waiting for the operator to observe generation " .. tostring(generation) ..
      " (status is for " .. (observed ~= nil and ("generation " .. tostring(observed)) or "no generation") .. ")")
  end

  if stalled ~= nil and stalled.status == "True" then
    return result("Degraded", describe(stalled, "Stalled"))
  end

  if ready ~= nil and ready.status == "False" then
    if ready.reason == "Suspended" then
      return result("Suspended", describe(ready, "Suspended"))
    end
    if failureReasons[ready.reason] then
      return result("Degraded", describe(ready, "Not ready"))
    end
  end

  if reconciling ~= nil and reconciling.status == "True" then
    return result("Progressing", describe(reconciling, "Reconciling"))
  end

  if ready ~= nil and ready.status == "True" then
    return result("Healthy", describe(ready, "Ready"))
  end

  if ready == nil then
    return result("Progressing", "Waiting for the Ready condition")
  end
  return result("Progressing", describe(ready, "Not ready yet"))
end

return health(obj)
