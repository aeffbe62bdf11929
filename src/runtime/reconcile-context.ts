/**
 * Which reconcile a log line belongs to. The controller runs each reconcile inside a context naming the
 * controller, the object and a fresh `reconcileID` (a UUID, as controller-runtime gives every reconcile); the
 * logger adds those fields to every line written while that reconcile runs, however deep the call that writes
 * it, so no function needs a logger passed down for it.
 * Long-lived work started from inside a reconcile (an inventory sweep loop, a job poller) is started
 * `outsideReconcile`, or its later lines would carry the ID of the reconcile that happened to start it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { splitKey } from './reconcile.js';

export interface ReconcileContext {
  controller: string;
  /** '' for a cluster-scoped object. */
  namespace: string;
  name: string;
  reconcileID: string;
}

const storage = new AsyncLocalStorage<ReconcileContext>();

/** A context for one reconcile of `key` (`namespace/name` or `name`), with a new reconcileID. */
export function newReconcileContext(controller: string, key: string): ReconcileContext {
  const { namespace, name } = splitKey(key);
  return { controller, namespace: namespace ?? '', name, reconcileID: randomUUID() };
}

/** Runs `work` as part of the reconcile `context` names. */
export function runInReconcile<T>(context: ReconcileContext, work: () => T): T {
  return storage.run(context, work);
}

/** The reconcile running now, if any. */
export function currentReconcile(): ReconcileContext | undefined {
  return storage.getStore();
}

/** Runs `work` (and everything it starts) outside any reconcile. */
export function outsideReconcile<T>(work: () => T): T {
  return storage.exit(work);
}
