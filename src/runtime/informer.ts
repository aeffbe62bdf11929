/**
 * An informer: a list+watch loop that keeps an in-memory copy of one kind of object and tells handlers what
 * changed. client-node's informer stops on errors and its watch can hang silently on a dead connection; this
 * one is built like client-go's reflector instead.
 * Guarantees:
 * - The cache converges on the server's state: list (paged), then watch from the list's resourceVersion with
 *   bookmarks; a watch closed by the server resumes from the last resourceVersion seen.
 * - 410 Gone (resourceVersion too old, compaction) re-lists; the re-list emits add/update/delete for the
 *   difference, so handlers see objects deleted meanwhile.
 * - Any other failure restarts the loop with exponential backoff (800 ms → 30 s, like the reflector); the loop
 *   ends only on `stop()`. Handler exceptions are logged and never break the loop.
 * - Watchdog: a watch silent for longer than its server-side timeoutSeconds plus a grace is aborted and restarted.
 * - `hasSynced()` turns true once every namespace scope has listed once; `healthy()` is false if a loop has
 *   made no progress (no list, event or restart) for longer than the watchdog could allow.
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { EventSource } from './controller.js';
import { errorMessage } from '../errors.js';
import { isGone, resourcePath, statusError, type KubeWatcher, type ResourceRef } from './kube-client.js';
import { objectKey } from './reconcile.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  finalizers?: string[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** The minimal parse: an object with metadata.name (a string). Other fields pass through untouched. */
export function parseKubeObject(raw: unknown): KubeObject {
  if (!raw || typeof raw !== 'object') throw new TypeError('object: not an object');
  const metadata = (raw as { metadata?: unknown }).metadata;
  if (!metadata || typeof metadata !== 'object') throw new TypeError('metadata: missing');
  const name = (metadata as { name?: unknown }).name;
  if (typeof name !== 'string' || name === '') throw new TypeError('metadata.name: missing');
  return raw as KubeObject;
}

export interface InformerHandler<T> {
  onAdd?: (obj: T) => void;
  onUpdate?: (oldObj: T, newObj: T) => void;
  onDelete?: (obj: T) => void;
}

export interface InformerOptions<T> {
  client: KubeWatcher;
  resource: ResourceRef;
  /** Untrusted JSON → T; objects that fail are logged and skipped. Default: parseKubeObject. */
  parse?: (raw: unknown) => T;
  /** Namespaces to watch; undefined or [] = all namespaces. Ignored for cluster-scoped kinds. */
  namespaces?: string[];
  labelSelector?: string;
  fieldSelector?: string;
  clock: Clock;
  logger: Logger;
  /** Server-side watch timeout. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** How long past the server-side timeout a silent watch is tolerated. Default 30 s. */
  watchdogGraceMs?: number;
  /** Page size of lists. Default 500. */
  pageSize?: number;
  /** Backoff after failures. Default 800 ms → 30 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export interface InformerStats {
  lists: number;
  /** Re-lists caused by 410 Gone. */
  goneRelists: number;
  watches: number;
  watchdogAborts: number;
  failures: number;
}

interface Scope {
  namespace: string | undefined;
  /** Where the next watch starts; '' means list first. */
  resourceVersion: string;
  synced: boolean;
  keys: Set<string>;
  lastProgress: number;
}

export class Informer<T extends KubeObject> implements EventSource<T> {
  private readonly client: KubeWatcher;
  private readonly resource: ResourceRef;
  private readonly parse: (raw: unknown) => T;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly labelSelector: string | undefined;
  private readonly fieldSelector: string | undefined;
  private readonly watchTimeoutSeconds: number;
  private readonly watchdogGraceMs: number;
  private readonly pageSize: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly scopes: Scope[];
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly stopAbort = new AbortController();
  private readonly syncWaiters: (() => void)[] = [];
  private loops: Promise<void>[] = [];
  private started = false;
  readonly stats: InformerStats = { lists: 0, goneRelists: 0, watches: 0, watchdogAborts: 0, failures: 0 };

  constructor(options: InformerOptions<T>) {
    this.client = options.client;
    this.resource = options.resource;
    this.parse = options.parse ?? ((raw) => parseKubeObject(raw) as T);
    this.clock = options.clock;
    this.labelSelector = options.labelSelector;
    this.fieldSelector = options.fieldSelector;
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.watchdogGraceMs = options.watchdogGraceMs ?? 30_000;
    this.pageSize = options.pageSize ?? 500;
    this.backoffInitialMs = options.backoffInitialMs ?? 800;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    const namespaces =
      options.resource.namespaced && options.namespaces && options.namespaces.length > 0
        ? [...new Set(options.namespaces)]
        : [undefined];
    this.scopes = namespaces.map((namespace) => ({
      namespace,
      resourceVersion: '',
      synced: false,
      keys: new Set<string>(),
      lastProgress: 0,
    }));
    this.logger = options.logger.child({
      informer: `${options.resource.plural}${options.resource.group ? `.${options.resource.group}` : ''}`,
    });
  }

  addEventHandler(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  /** Starts one list+watch loop per namespace scope. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.loops = this.scopes.map((scope) => this.run(scope));
  }

  /** Stops every loop and closes their watches. */
  async stop(): Promise<void> {
    this.stopAbort.abort(new Error('informer stopped'));
    await Promise.all(this.loops);
  }

  hasSynced(): boolean {
    return this.scopes.every((scope) => scope.synced);
  }

  /** Resolves once synced; rejects if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.hasSynced()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** False when a loop has made no progress for longer than a watchdog cycle plus the longest backoff. */
  healthy(): boolean {
    if (!this.started || this.stopAbort.signal.aborted) return true;
    const limit = this.watchTimeoutSeconds * 1000 + this.watchdogGraceMs + this.backoffMaxMs + 60_000;
    const now = this.clock.now();
    return this.scopes.every((scope) => now - scope.lastProgress < limit);
  }

  /** The cached object with key `namespace/name` (or `name` for cluster-scoped kinds). */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((obj) => obj.metadata.namespace === namespace);
  }

  private async run(scope: Scope): Promise<void> {
    const signal = this.stopAbort.signal;
    let failures = 0;
    while (!signal.aborted) {
      scope.lastProgress = this.clock.now();
      try {
        if (!scope.resourceVersion) {
          scope.resourceVersion = await this.relist(scope);
          failures = 0;
          if (!scope.synced) {
            scope.synced = true;
            if (this.hasSynced()) for (const resolve of this.syncWaiters.splice(0)) resolve();
          }
        }
        await this.watch(scope, () => (failures = 0));
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          this.stats.goneRelists++;
          this.logger.info('resourceVersion too old; re-listing', {
            namespace: scope.namespace,
            resourceVersion: scope.resourceVersion,
            error: errorMessage(err),
          });
          scope.resourceVersion = '';
          // One immediate re-list; repeated 410s fall through to the backoff.
          if (failures === 0) {
            failures++;
            continue;
          }
        }
        this.stats.failures++;
        failures++;
        const delay = this.backoff(failures);
        this.logger.warn('list/watch failed; retrying', {
          namespace: scope.namespace,
          attempt: failures,
          retryInMs: Math.round(delay),
          error: errorMessage(err),
        });
        try {
          await this.clock.sleep(delay, signal);
        } catch {
          break;
        }
      }
    }
  }

  private backoff(failures: number): number {
    const base = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(failures - 1, 30));
    return base * (0.8 + 0.4 * Math.random());
  }

  private query(): Record<string, string | number | undefined> {
    return { labelSelector: this.labelSelector, fieldSelector: this.fieldSelector };
  }

  /** Lists every page, replaces the scope's part of the cache, and returns the list's resourceVersion. */
  private async relist(scope: Scope): Promise<string> {
    this.stats.lists++;
    const path = resourcePath(this.resource, { namespace: scope.namespace });
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const raw = await this.client.request({
        method: 'GET',
        path,
        query: { ...this.query(), limit: this.pageSize, continue: cont },
        signal: this.stopAbort.signal,
        timeoutMs: 60_000,
      });
      const page = raw as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } } | null;
      if (!page || !Array.isArray(page.items)) throw new TypeError(`list ${path}: no items array`);
      for (const item of page.items as unknown[]) {
        const obj = this.safeParse(item);
        if (obj) fresh.set(objectKey(obj.metadata), obj);
      }
      resourceVersion = typeof page.metadata?.resourceVersion === 'string' ? page.metadata.resourceVersion : '';
      cont = typeof page.metadata?.continue === 'string' && page.metadata.continue ? page.metadata.continue : undefined;
      scope.lastProgress = this.clock.now();
    } while (cont);
    if (!resourceVersion) throw new TypeError(`list ${path}: no resourceVersion`);
    for (const key of [...scope.keys]) {
      if (!fresh.has(key)) {
        const old = this.cache.get(key);
        this.cache.delete(key);
        scope.keys.delete(key);
        if (old) this.emit((h) => h.onDelete?.(old));
      }
    }
    for (const [key, obj] of fresh) this.upsert(scope, key, obj);
    this.logger.debug('listed', { namespace: scope.namespace, count: fresh.size, resourceVersion });
    return resourceVersion;
  }

  private upsert(scope: Scope, key: string, obj: T): void {
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    scope.keys.add(key);
    if (!old) this.emit((h) => h.onAdd?.(obj));
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit((h) => h.onUpdate?.(old, obj));
  }

  /**
   * One watch from `scope.resourceVersion` (advanced by every event and bookmark) until the server closes it,
   * the watchdog aborts it (both resolve), or it fails (rejects; 410 as a KubeApiError with status 410).
   */
  private async watch(scope: Scope, onEvent: () => void): Promise<void> {
    this.stats.watches++;
    const abort = new AbortController();
    const onStop = (): void => abort.abort(this.stopAbort.signal.reason);
    this.stopAbort.signal.addEventListener('abort', onStop, { once: true });
    let lastActivity = this.clock.now();
    let watchdogFired = false;
    const limitMs = this.watchTimeoutSeconds * 1000 + this.watchdogGraceMs;
    const watchdog = (async () => {
      while (!abort.signal.aborted) {
        const silentFor = this.clock.now() - lastActivity;
        if (silentFor >= limitMs) {
          watchdogFired = true;
          this.stats.watchdogAborts++;
          abort.abort(new Error(`watch silent for ${silentFor} ms`));
          return;
        }
        try {
          await this.clock.sleep(limitMs - silentFor, abort.signal);
        } catch {
          return;
        }
      }
    })();
    try {
      const path = resourcePath(this.resource, { namespace: scope.namespace });
      const body = await this.client.watchStream(
        path,
        {
          ...this.query(),
          resourceVersion: scope.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: this.watchTimeoutSeconds,
        },
        abort.signal,
      );
      lastActivity = this.clock.now();
      scope.lastProgress = lastActivity;
      await new Promise<void>((resolve, reject) => {
        let buffered = '';
        let settled = false;
        const finish = (err?: unknown): void => {
          if (settled) return;
          settled = true;
          abort.signal.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve();
        };
        const onAbort = (): void => {
          finish(abort.signal.reason ?? new Error('watch aborted'));
        };
        abort.signal.addEventListener('abort', onAbort, { once: true });
        const handleLine = (line: string): void => {
          if (!line.trim()) return;
          let event: { type?: unknown; object?: unknown };
          try {
            event = JSON.parse(line) as { type?: unknown; object?: unknown };
          } catch {
            this.logger.warn('unparsable watch line skipped', { line: line.slice(0, 200) });
            return;
          }
          lastActivity = this.clock.now();
          scope.lastProgress = lastActivity;
          onEvent();
          const rv = (event.object as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata
            ?.resourceVersion;
          switch (event.type) {
            case 'ERROR':
              throw statusError(500, event.object);
            case 'BOOKMARK':
              if (typeof rv === 'string' && rv) scope.resourceVersion = rv;
              return;
            case 'ADDED':
            case 'MODIFIED': {
              if (typeof rv === 'string' && rv) scope.resourceVersion = rv;
              const obj = this.safeParse(event.object);
              if (obj) this.upsert(scope, objectKey(obj.metadata), obj);
              return;
            }
            case 'DELETED': {
              if (typeof rv === 'string' && rv) scope.resourceVersion = rv;
              const obj = this.safeParse(event.object);
              if (!obj) return;
              const key = objectKey(obj.metadata);
              this.cache.delete(key);
              scope.keys.delete(key);
              this.emit((h) => h.onDelete?.(obj));
              return;
            }
            default:
              this.logger.warn('unknown watch event type', { type: String(event.type) });
          }
        };
        body.on('data', (chunk: Buffer | string) => {
          if (settled) return;
          buffered += chunk.toString();
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            try {
              handleLine(line);
            } catch (err) {
              finish(err);
              return;
            }
          }
        });
        body.on('end', () => {
          try {
            handleLine(buffered);
          } catch (err) {
            finish(err);
            return;
          }
          finish();
        });
        body.on('error', (err: unknown) => finish(err));
        body.on('close', () => finish());
      });
    } catch (err) {
      if (watchdogFired) {
        this.logger.warn('watch went silent; restarting it', {
          namespace: scope.namespace,
          resourceVersion: scope.resourceVersion,
        });
        return;
      }
      throw err;
    } finally {
      this.stopAbort.signal.removeEventListener('abort', onStop);
      abort.abort(new Error('watch closed'));
      await watchdog;
    }
  }

  private safeParse(raw: unknown): T | undefined {
    try {
      return this.parse(raw);
    } catch (err) {
      const meta = (raw as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
      this.logger.warn('object skipped: does not parse', {
        resource: `${String(meta?.namespace ?? '')}/${String(meta?.name ?? '')}`,
        error: errorMessage(err),
      });
      return undefined;
    }
  }

  private emit(call: (handler: InformerHandler<T>) => void): void {
    for (const handler of this.handlers) {
      try {
        call(handler);
      } catch (err) {
        this.logger.error('event handler threw', { error: errorMessage(err) });
      }
    }
  }
}
