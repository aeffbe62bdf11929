/**
 * The controller's ports over the Kubernetes runtime: credentials Secrets read with a GET (RBAC: get only; reads
 * of one Secret shared for a few seconds), route status and finalizer writes, account object status writes, and
 * the object an Event names. Thin translations; the decisions stay in src/controller.
 */
import { LRUCache } from 'lru-cache';
import { API_VERSION, KIND } from '../api/v1alpha1/constants.js';
import type { SecretReader } from '../controller/accounts.js';
import type { AccountStatusUpdater } from '../controller/account-reconciler.js';
import type { RouteUpdater } from '../controller/reconciler.js';
import type { EventRegarding } from '../controller/skipped-phones.js';
import type { KubeObject } from './informer.js';
import { isConflict, isNotFound, type KubeClient, ResourceClient, type ResourceRef } from './kube-client.js';
import { parseKubeObject } from './informer.js';
import { objectKey } from './reconcile.js';
import type { StatusWriter } from './status-writer.js';

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

const secretResource: ResourceRef = { group: '', version: 'v1', plural: 'secrets', namespaced: true };

/** How long a Secret read serves other reads of the same Secret. */
export const SECRET_READ_TTL_MS = 10_000;

/**
 * Reads credentials Secrets with a GET (no list or watch: RBAC grants get only), decoded. Every reconcile
 * resolves its account, so reads of one Secret within `ttlMs` share one GET (and concurrent ones one
 * request): a round of R resources costs a GET per Secret, not R, and a rotated key takes effect within
 * `ttlMs`. A failed read is not kept.
 */
export function secretReader(client: KubeClient, ttlMs = SECRET_READ_TTL_MS): SecretReader {
  const secrets = new ResourceClient<SecretObject>(
    client,
    secretResource,
    (raw) => parseKubeObject(raw) as SecretObject,
  );
  // Wrapped: lru-cache does not keep undefined, and a missing Secret is an answer worth keeping too.
  const reads = new LRUCache<string, { data: Record<string, string> | undefined }>({
    max: 1_000,
    ttl: ttlMs,
    fetchMethod: async (key) => {
      const [namespace = '', name = ''] = key.split('/');
      const secret = await secrets.get(namespace, name);
      if (!secret) return { data: undefined };
      const decoded: Record<string, string> = {};
      for (const [field, value] of Object.entries(secret.data ?? {}))
        if (typeof value === 'string') decoded[field] = Buffer.from(value, 'base64').toString('utf8');
      return { data: decoded };
    },
  });
  return {
    async read(namespace, name) {
      const read = await reads.fetch(`${namespace}/${name}`);
      return read?.data ? { ...read.data } : undefined;
    },
  };
}

/** Route status writes through the status writer (the one memory of writes); finalizers by merge patch. */
export function routeUpdater(options: {
  statusWriter: StatusWriter;
  routes: ResourceClient<KubeObject>;
  cache: { get(key: string): KubeObject | undefined };
}): RouteUpdater {
  const { statusWriter, routes, cache } = options;
  return {
    currentStatus: (raw) => statusWriter.current(raw as KubeObject & { status?: unknown }),
    forget: (key) => statusWriter.forget(key),
    async patchStatus(namespace, name, status) {
      const observed = cache.get(`${namespace}/${name}`) as (KubeObject & { status?: unknown }) | undefined;
      const result = await statusWriter.update(observed ?? { metadata: { namespace, name } }, status);
      if (result.outcome === 'conflict') throw new Error(`status of ${namespace}/${name} changed meanwhile; retrying`);
    },
    async setFinalizers(namespace, name, resourceVersion, finalizers) {
      try {
        await routes.mergePatch(namespace, name, {
          metadata: { finalizers, ...(resourceVersion ? { resourceVersion } : {}) },
        });
      } catch (error) {
        if (isNotFound(error)) return;
        if (isConflict(error)) throw new Error(`${namespace}/${name} changed meanwhile; retrying`, { cause: error });
        throw error;
      }
    },
  };
}

/** Account object status writes, through the writer of its kind. */
export function accountStatusUpdater(writers: {
  cluster: StatusWriter;
  namespaced: StatusWriter;
}): AccountStatusUpdater {
  return {
    async patchStatus(object, raw, status) {
      const writer = object.metadata.namespace ? writers.namespaced : writers.cluster;
      const result = await writer.update(raw as KubeObject, status);
      if (result.outcome === 'conflict')
        throw new Error(`status of ${objectKey(object.metadata)} changed meanwhile; retrying`);
    },
  };
}

/** The object an Event about a cached CloudPhoneRoute names; none for a key no longer cached. */
export function eventRegarding(route: KubeObject | undefined): EventRegarding[] {
  if (!route) return [];
  const { name, namespace, uid } = route.metadata;
  return [{ apiVersion: API_VERSION, kind: KIND, name, ...(namespace ? { namespace } : {}), ...(uid ? { uid } : {}) }];
}
