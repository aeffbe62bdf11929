/**
 * Writes an object's status through the /status subresource, and only when it changed: a steady fleet must cost
 * the API server no writes. The comparison is a canonical deep equality (key order and undefined-valued keys do
 * not matter), against the status last observed, or the status this writer last wrote when the informer has
 * not caught up with that write yet.
 * Guarantees:
 * - Equal status → no request at all (`unchanged`).
 * - A change is sent as the smallest JSON merge patch (removed fields become null), with the observed
 *   resourceVersion as a precondition, so a status computed from a stale object is refused (`conflict`) rather
 *   than written over a newer one; the caller requeues.
 * - The object being gone (404) is `gone`, not an error; other failures throw.
 * - Every request sent is counted (`writes`, and the optional `onWrite` hook for kube_writes_total).
 */
import type { Logger } from './logger.js';
import { errorMessage } from '../errors.js';
import {
  PatchStrategy,
  isConflict,
  isNotFound,
  resourcePath,
  type KubeRequester,
  type ResourceRef,
} from './kube-client.js';
import { objectKey } from './reconcile.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON-like values: object key order and keys whose value is undefined are ignored. */
export function canonicalEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => canonicalEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keysA = Object.keys(a).filter((k) => a[k] !== undefined);
    const keysB = Object.keys(b).filter((k) => b[k] !== undefined);
    if (keysA.length !== keysB.length) return false;
    return keysA.every((k) => Object.hasOwn(b, k) && canonicalEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The RFC 7386 merge patch that turns `prev` into `next`: changed and new keys, null for removed keys, arrays and
 * scalars replaced whole. Returns undefined when they are equal.
 */
export function mergePatchDiff(prev: unknown, next: unknown): unknown {
  if (canonicalEqual(prev, next)) return undefined;
  if (!isPlainObject(prev) || !isPlainObject(next)) return next === undefined ? null : next;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(prev)) {
    if (prev[key] !== undefined && next[key] === undefined) patch[key] = null;
  }
  for (const key of Object.keys(next)) {
    if (next[key] === undefined) continue;
    const sub = mergePatchDiff(prev[key], next[key]);
    if (sub !== undefined) patch[key] = sub;
  }
  return patch;
}

export type StatusWriteOutcome = 'unchanged' | 'written' | 'gone' | 'conflict';

export interface StatusWriteResult {
  outcome: StatusWriteOutcome;
  /** The object the server returned after a write. */
  object?: unknown;
}

export interface StatusTarget {
  metadata: { namespace?: string; name: string; resourceVersion?: string };
  status?: unknown;
}

export interface StatusWriterOptions {
  client: KubeRequester;
  resource: ResourceRef;
  logger: Logger;
  /** Called once per status patch sent. */
  onWrite?: (resource: string) => void;
  /** Send the observed resourceVersion as a precondition. Default true. */
  optimisticLock?: boolean;
}

interface Written {
  /** resourceVersion of the object the write was based on. */
  baseResourceVersion: string | undefined;
  /** resourceVersion the server returned. */
  resourceVersion: string | undefined;
  status: unknown;
}

export class StatusWriter {
  private readonly options: StatusWriterOptions;
  private readonly lastWritten = new Map<string, Written>();
  /** Status patches sent (whatever their outcome). */
  writes = 0;

  constructor(options: StatusWriterOptions) {
    this.options = options;
  }

  /**
   * Makes the status of `observed` equal `next`. `observed` is what the reconciler read (usually from the
   * informer cache); `next` is the complete wanted status.
   */
  async update(observed: StatusTarget, next: unknown): Promise<StatusWriteResult> {
    const key = objectKey(observed.metadata);
    const observedRv = observed.metadata.resourceVersion;
    let baseStatus = observed.status;
    let baseRv = observedRv;
    const last = this.lastWritten.get(key);
    if (last && last.baseResourceVersion === observedRv && observedRv !== undefined) {
      // The cache has not seen our last write yet: compare with what we wrote, on top of what it returned.
      baseStatus = last.status;
      baseRv = last.resourceVersion;
    }
    const diff = mergePatchDiff(baseStatus ?? {}, next ?? {});
    if (diff === undefined) return { outcome: 'unchanged' };
    const { namespace, name } = observed.metadata;
    const body: Record<string, unknown> = { status: diff };
    if ((this.options.optimisticLock ?? true) && baseRv) body.metadata = { resourceVersion: baseRv };
    this.writes++;
    this.options.onWrite?.(`${this.options.resource.plural}/status`);
    try {
      const object = await this.options.client.request({
        method: 'PATCH',
        path: resourcePath(this.options.resource, { namespace, name, subresource: 'status' }),
        body,
        contentType: PatchStrategy.MergePatch,
      });
      const rv = (object as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
      this.lastWritten.set(key, {
        baseResourceVersion: observedRv,
        resourceVersion: typeof rv === 'string' ? rv : undefined,
        status: next,
      });
      return { outcome: 'written', object };
    } catch (err) {
      if (isNotFound(err)) {
        this.lastWritten.delete(key);
        return { outcome: 'gone' };
      }
      if (isConflict(err)) {
        this.lastWritten.delete(key);
        this.options.logger.debug('status write conflicted; the caller should requeue', {
          resource: key,
          error: errorMessage(err),
        });
        return { outcome: 'conflict' };
      }
      throw err;
    }
  }

  /** Drops what this writer remembers about `key` (call when the object is deleted). */
  forget(key: string): void {
    this.lastWritten.delete(key);
  }
}
