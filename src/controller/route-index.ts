/**
 * The CloudPhoneRoutes of the informer cache as the account plans read them: parsed once per plan stamp
 * (spec, deletion, finalizer, account object), not per status write, and handed back as the same object while
 * the stamp holds, so a planner tells "nothing changed" by identity. The one memory of parsed peers.
 */
import { parseCloudPhoneRoute } from '../api/v1alpha1/parse.js';
import { reconcileRequestedAt } from '../api/v1alpha1/reconcile-request.js';
import type { AccountBinding } from './accounts.js';
import { planStamp, type PlannedResource } from './account-plans.js';

/** Where resources are read: the informer's cache. */
export interface RouteCache {
  get(key: string): unknown;
  /** Every key (namespace/name) in the cache. */
  keys(): Iterable<string>;
}

/** The metadata the reconcile path reads, from an object of unknown shape. */
export interface RouteMetadata {
  namespace: string;
  name: string;
  uid: string | undefined;
  generation: number;
  resourceVersion: string | undefined;
  deletionTimestamp: string | undefined;
  finalizers: string[];
  /** The reconcile-requested-at annotation's value. */
  reconcileRequestedAt: string | undefined;
}

export function readMetadata(raw: unknown): RouteMetadata | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const meta = (raw as { metadata?: unknown }).metadata;
  if (!meta || typeof meta !== 'object') return undefined;
  const m = meta as Record<string, unknown>;
  if (typeof m.namespace !== 'string' || typeof m.name !== 'string') return undefined;
  return {
    namespace: m.namespace,
    name: m.name,
    uid: typeof m.uid === 'string' ? m.uid : undefined,
    generation: typeof m.generation === 'number' ? m.generation : 0,
    resourceVersion: typeof m.resourceVersion === 'string' ? m.resourceVersion : undefined,
    deletionTimestamp: typeof m.deletionTimestamp === 'string' ? m.deletionTimestamp : undefined,
    finalizers: Array.isArray(m.finalizers) ? m.finalizers.filter((f): f is string => typeof f === 'string') : [],
    reconcileRequestedAt:
      m.annotations && typeof m.annotations === 'object'
        ? reconcileRequestedAt({ annotations: m.annotations as Record<string, string> })
        : undefined,
  };
}

export interface RouteIndexOptions {
  cache: RouteCache;
  /** The account a resource is bound to; an unbound resource takes no part in plans. */
  bindingOf(key: string): Pick<AccountBinding, 'credentialId' | 'config'> | undefined;
}

export class RouteIndex {
  private readonly parsed = new Map<string, { raw: unknown; stamp: string; planned: PlannedResource | undefined }>();

  constructor(private readonly options: RouteIndexOptions) {}

  /** A bound resource as the planner needs it; undefined when gone, unbound or unparseable. */
  get(key: string): PlannedResource | undefined {
    const raw = this.options.cache.get(key);
    const cached = this.parsed.get(key);
    if (cached && cached.raw === raw) return cached.planned;
    const meta = readMetadata(raw);
    if (!raw || !meta) return undefined;
    const binding = this.options.bindingOf(key);
    if (!binding) return undefined;
    const stamp = `${planStamp(meta)}|${binding.config.stamp}`;
    if (cached?.stamp === stamp) {
      cached.raw = raw;
      return cached.planned;
    }
    let planned: PlannedResource | undefined;
    try {
      // Plans read spec and metadata only; the status stays in the informer's copy alone.
      const { status: _status, ...route } = parseCloudPhoneRoute(raw);
      planned = { route, stamp, credentialId: binding.credentialId, scope: binding.config.scope };
    } catch {
      planned = undefined;
    }
    this.parsed.set(key, { raw, stamp, planned });
    return planned;
  }

  forget(key: string): void {
    this.parsed.delete(key);
  }
}
