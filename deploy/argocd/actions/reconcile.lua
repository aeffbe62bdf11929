-- Asks the operator to reconcile the route now: any new value of the annotation
-- cloudphone.dev/reconcile-requested-at makes its account re-read the phones at once (rate limits still hold,
-- and requests close together share one sweep); status.lastHandledReconcileAt then shows the value handled.
-- The value is the current time in UTC, as `kubectl annotate` users write it (RFC 3339).
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["cloudphone.dev/reconcile-requested-at"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
