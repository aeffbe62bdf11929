/**
 * The whole contract between the runtime and a controller. Reconciliation is level-based: the request carries
 * only the key (`namespace/name`) of an object, never the event that caused it, so the reconciler reads the
 * current state, compares it with the wanted state and acts; being called twice, late, or for a deleted object
 * is normal. Watching, queueing, retrying and electing live outside and are reused.
 * Guarantees (enforced by controller.ts):
 * - A key is reconciled by one worker at a time; keys changed meanwhile are reconciled again afterwards.
 * - `{}` means done: the key's backoff is forgotten and it runs again only on the next change.
 * - `{ requeueAfterMs }` means "look again after that long" (drift checks); the backoff is forgotten.
 * - A thrown error is retried with per-key exponential backoff; a `TerminalError` is recorded, not retried.
 * - The signal aborts when the operator stops and the in-flight deadline passes; honour it in long waits.
 */
import { OperatorError } from '../errors.js';

export interface ReconcileResult {
  /** Reconcile this key again after this many milliseconds (positive). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult>;
}

/** A failure that retrying cannot fix (invalid spec, forbidden): recorded in metrics and logs, not retried. */
export class TerminalError extends OperatorError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

/** The key of a namespaced object (`namespace/name`) or a cluster-scoped one (`name`), as client-go's cache uses. */
export function objectKey(metadata: { namespace?: string; name?: string }): string {
  return metadata.namespace ? `${metadata.namespace}/${metadata.name ?? ''}` : (metadata.name ?? '');
}

/** Splits a key made by `objectKey`. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
