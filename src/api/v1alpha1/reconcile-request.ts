/**
 * Reconcile on demand, as Flux does it (`reconcile.fluxcd.io/requestedAt`): any new value of the annotation
 * `cloudphone.dev/reconcile-requested-at` on a CloudPhoneRoute asks the operator to re-read its account's
 * phones now rather than at the next drift check, and `status.lastHandledReconcileAt` then says which value
 * was handled. The value is opaque (a timestamp by convention, e.g. `date -Is`); only a change counts.
 */

export const RECONCILE_REQUESTED_AT_ANNOTATION = 'cloudphone.dev/reconcile-requested-at';

/** The longest value honoured; a longer one is cut (the status field has the same bound). */
export const MAX_RECONCILE_REQUEST_LENGTH = 256;

/** The annotation's value, or undefined when it is absent or empty. */
export function reconcileRequestedAt(metadata: {
  annotations?: Record<string, string> | undefined;
}): string | undefined {
  const value = metadata.annotations?.[RECONCILE_REQUESTED_AT_ANNOTATION];
  return typeof value === 'string' && value !== '' ? value.slice(0, MAX_RECONCILE_REQUEST_LENGTH) : undefined;
}
