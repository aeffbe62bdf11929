/**
 * The operator's one door to the Kubernetes API. client-node 1.4.0 builds a new https.Agent for every request
 * and every watch (sockets pile up when watches reconnect), and its generated `patch*Status` methods send JSON
 * Patch unless told otherwise; this module routes everything through one keep-alive agent and says the patch
 * type explicitly.
 * Guarantees:
 * - One keep-alive agent per client, shared by plain requests, watches and generated API clients
 *   (`makeApiClient`); credentials (token files, exec plugins) are still read per request by client-node.
 * - Every request has a timeout (default 30 s) except watches, which the caller bounds (informer watchdog).
 * - API failures become `KubeApiError` with the HTTP status, the Status reason and the server's message.
 * - Status patches are JSON merge patches (`application/merge-patch+json`) against the /status subresource.
 * - Every write (create, update, patch, delete) is reported to `onWrite` for the kube_writes_total metric.
 */
import http from 'node:http';
import https from 'node:https';
import nodeFetch from 'node-fetch';
// From the package index on purpose: KubeConfig's own module (dist/config.js) imports client-node's generated
// index, and so every model and API class (~21 MB of source, ~29 MiB of live heap), whichever path it comes
// from; a deep import would save ~1 MiB and depend on files the package does not document. That cost is paid
// once at start-up and is part of the heap budget (NODE_OPTIONS in deploy/base/manager/deployment.yaml).
import {
  HttpMethod,
  KubeConfig,
  PatchStrategy,
  RequestContext,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  type Configuration,
  type ConfigurationOptions,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import { OperatorError } from '../errors.js';

// node-fetch 2 is CommonJS: under NodeNext its function is `.default` of the module object.
const fetch = nodeFetch.default;

export { PatchStrategy };

/** Loads a kubeconfig file when a path is given, the in-cluster config inside a pod, else the default chain. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new OperatorError('KubeConfigInvalid', 'the kubeconfig has no current cluster');
  return kc;
}

/** A kind of object in the API: `group` '' is the core group (/api/v1). */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export function resourcePath(
  ref: ResourceRef,
  where: { namespace?: string | undefined; name?: string; subresource?: string } = {},
): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  let path = base;
  if (ref.namespaced && where.namespace) path += `/namespaces/${encodeURIComponent(where.namespace)}`;
  path += `/${ref.plural}`;
  if (where.name !== undefined) path += `/${encodeURIComponent(where.name)}`;
  if (where.subresource) path += `/${where.subresource}`;
  return path;
}

/** `plural` or `plural/subresource` of an API path, for metrics labels. */
export function resourceOfPath(path: string): string {
  const parts = path.split('?')[0]?.split('/').filter(Boolean) ?? [];
  // /api/v1/... or /apis/group/version/...
  let rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const plural = rest[0] ?? 'namespaces';
  return rest.length >= 3 ? `${plural}/${rest[2]}` : plural;
}

export class KubeApiError extends OperatorError {
  readonly statusCode: number;
  /** The Status reason (NotFound, Conflict, Gone, Expired, Forbidden, ...), or '' if the body had none. */
  readonly reason: string;

  constructor(statusCode: number, reason: string, message: string, options?: { cause?: unknown }) {
    super(reason || `Http${statusCode}`, `${statusCode} ${reason}: ${message}`, options);
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 404;
}
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 409;
}
export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && (err.statusCode === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

/** Turns a metav1.Status (from a failed response or a watch ERROR event) into a KubeApiError. */
export function statusError(statusCode: number, body: unknown): KubeApiError {
  if (body && typeof body === 'object') {
    const status = body as { code?: unknown; reason?: unknown; message?: unknown };
    const code = typeof status.code === 'number' ? status.code : statusCode;
    return new KubeApiError(
      code,
      typeof status.reason === 'string' ? status.reason : '',
      typeof status.message === 'string' ? status.message : JSON.stringify(body),
    );
  }
  return new KubeApiError(statusCode, '', typeof body === 'string' ? body.slice(0, 500) : 'no body');
}

export type WriteVerb = 'create' | 'update' | 'patch' | 'delete';

export interface KubeClientOptions {
  /** Timeout of non-watch requests. Default 30 s. */
  requestTimeoutMs?: number;
  /** Called once per write request sent, whatever its outcome. */
  onWrite?: (verb: WriteVerb, resource: string) => void;
  /** Maximum sockets of the shared agent. Default 50. */
  maxSockets?: number;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Default application/json; patches must say which kind (see PatchStrategy). */
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const writeVerbs: Record<string, WriteVerb | undefined> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  /** The one agent every request and watch of this client goes through. */
  readonly agent: http.Agent;
  readonly server: string;
  private readonly requestTimeoutMs: number;
  private readonly onWrite: ((verb: WriteVerb, resource: string) => void) | undefined;

  private constructor(kc: KubeConfig, agent: http.Agent, options: KubeClientOptions) {
    this.kubeConfig = kc;
    this.agent = agent;
    this.server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.onWrite = options.onWrite;
  }

  static async create(kc: KubeConfig, options: KubeClientOptions = {}): Promise<KubeClient> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new OperatorError('KubeConfigInvalid', 'the kubeconfig has no current cluster');
    // The public way to get the TLS material client-node would use (CA, client cert and key, servername).
    const tls: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(tls);
    const common = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: options.maxSockets ?? 50 };
    const agent = cluster.server.startsWith('http:')
      ? new http.Agent(common)
      : new https.Agent({
          ...common,
          ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
          ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
          ...(tls.key !== undefined ? { key: tls.key } : {}),
          ...(tls.pfx !== undefined ? { pfx: tls.pfx } : {}),
          ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
          ...(cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
          ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
        });
    return new KubeClient(kc, agent, options);
  }

  /** Headers client-node would send (bearer token, basic auth, impersonation), computed per request. */
  async authHeaders(url: string, method: HttpMethod): Promise<Record<string, string>> {
    const context = new RequestContext(url, method);
    await this.kubeConfig.applySecurityAuthentication(context);
    return context.getHeaders();
  }

  /** Sends one request and returns the parsed JSON body (unknown: callers parse it). */
  async request(options: RequestOptions): Promise<unknown> {
    const url = this.url(options.path, options.query);
    const headers = await this.authHeaders(url, HttpMethod[options.method]);
    headers.Accept = 'application/json';
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] = options.contentType ?? 'application/json';
    }
    const verb = writeVerbs[options.method];
    if (verb) this.onWrite?.(verb, resourceOfPath(options.path));
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.requestTimeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(url, {
        method: options.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        agent: this.agent,
        // node-fetch 2 types its own AbortSignal; the DOM one is compatible at runtime.
        signal: signal as unknown as import('node-fetch').RequestInit['signal'],
      });
    } catch (err) {
      throw new OperatorError('KubeUnreachable', `${options.method} ${options.path}: ${String(err)}`, { cause: err });
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text for the error
    }
    if (response.status >= 400) throw statusError(response.status, parsed);
    return parsed;
  }

  /**
   * Opens a watch and returns the response body (newline-delimited JSON events). The caller owns the signal
   * and must abort it to close the connection; there is no client timeout here on purpose.
   */
  async watchStream(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    signal: AbortSignal,
  ): Promise<NodeJS.ReadableStream> {
    const url = this.url(path, { ...query, watch: 'true' });
    const headers = await this.authHeaders(url, HttpMethod.GET);
    headers.Accept = 'application/json';
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(url, {
        method: 'GET',
        headers,
        agent: this.agent,
        signal: signal as unknown as import('node-fetch').RequestInit['signal'],
      });
    } catch (err) {
      throw new OperatorError('KubeUnreachable', `watch ${path}: ${String(err)}`, { cause: err });
    }
    if (response.status !== 200) {
      const text = await response.text().catch(() => '');
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
      throw statusError(response.status, parsed);
    }
    return response.body;
  }

  /**
   * A Configuration for client-node's generated API classes that sends through the shared agent:
   * `client.makeApiClient(CoreV1Api)`. Authentication still comes from the KubeConfig.
   */
  configuration(): Configuration {
    const kc = this.kubeConfig;
    const agent = this.agent;
    return createConfiguration({
      baseServer: new ServerConfiguration(this.server, {}),
      authMethods: {
        default: {
          getName: () => 'SharedAgentKubeConfig',
          applySecurityAuthentication: async (context: RequestContext) => {
            await kc.applySecurityAuthentication(context);
            context.setAgent(agent);
          },
        },
      },
    });
  }

  makeApiClient<T>(apiClass: new (config: Configuration) => T): T {
    return new apiClass(this.configuration());
  }

  /** A typed view of one resource kind. `parse` turns untrusted JSON into T or throws a ParseError. */
  resource<T>(ref: ResourceRef, parse: (raw: unknown) => T): ResourceClient<T> {
    return new ResourceClient<T>(this, ref, parse);
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  private url(path: string, query?: Record<string, string | number | boolean | undefined>): string {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }
}

/** What modules that only send requests need from a KubeClient (tests pass fakes). */
export type KubeRequester = Pick<KubeClient, 'request'>;
/** What an informer needs from a KubeClient. */
export type KubeWatcher = Pick<KubeClient, 'request' | 'watchStream'>;

/**
 * With client-node's generated `CustomObjectsApi.patchNamespacedCustomObjectStatus`, pass these options as the
 * last argument or the body is sent as JSON Patch and a merge-patch body is refused.
 */
export function mergePatchOptions(): ConfigurationOptions<ObservableMiddleware> {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface ListPage<T> {
  items: T[];
  resourceVersion: string;
  continue: string | undefined;
}

/** CRUD for one kind; namespace is ignored for cluster-scoped kinds. */
export class ResourceClient<T> {
  constructor(
    readonly client: KubeClient,
    readonly ref: ResourceRef,
    private readonly parse: (raw: unknown) => T,
  ) {}

  /** The object, or undefined if it does not exist. */
  async get(namespace: string | undefined, name: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      const raw = await this.client.request({
        method: 'GET',
        path: resourcePath(this.ref, { namespace, name }),
        ...(signal ? { signal } : {}),
      });
      return this.parse(raw);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** One page of a list; `namespace` undefined lists all namespaces. */
  async list(namespace: string | undefined, options: ListOptions = {}, signal?: AbortSignal): Promise<ListPage<T>> {
    const raw = await this.client.request({
      method: 'GET',
      path: resourcePath(this.ref, { namespace }),
      query: { ...options },
      ...(signal ? { signal } : {}),
    });
    return parseList(raw, this.parse);
  }

  async create(namespace: string | undefined, body: unknown): Promise<T> {
    return this.parse(await this.client.request({ method: 'POST', path: resourcePath(this.ref, { namespace }), body }));
  }

  /** PUT: optimistic concurrency through metadata.resourceVersion in `body`. */
  async replace(namespace: string | undefined, name: string, body: unknown): Promise<T> {
    return this.parse(
      await this.client.request({ method: 'PUT', path: resourcePath(this.ref, { namespace, name }), body }),
    );
  }

  async mergePatch(namespace: string | undefined, name: string, patch: unknown, subresource?: string): Promise<T> {
    return this.parse(
      await this.client.request({
        method: 'PATCH',
        path: resourcePath(this.ref, { namespace, name, ...(subresource ? { subresource } : {}) }),
        body: patch,
        contentType: PatchStrategy.MergePatch,
      }),
    );
  }

  /** JSON merge patch of the /status subresource (never JSON Patch). */
  mergePatchStatus(namespace: string | undefined, name: string, patch: unknown): Promise<T> {
    return this.mergePatch(namespace, name, patch, 'status');
  }

  /** Deletes; resolves false if the object was already gone. */
  async delete(namespace: string | undefined, name: string): Promise<boolean> {
    try {
      await this.client.request({ method: 'DELETE', path: resourcePath(this.ref, { namespace, name }) });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

export function parseList<T>(raw: unknown, parse: (raw: unknown) => T): ListPage<T> {
  if (!raw || typeof raw !== 'object') throw new OperatorError('ParseError', 'list: not an object');
  const list = raw as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
  if (!Array.isArray(list.items)) throw new OperatorError('ParseError', 'list.items: not an array');
  const rv = list.metadata?.resourceVersion;
  const cont = list.metadata?.continue;
  return {
    items: list.items.map((item: unknown) => parse(item)),
    resourceVersion: typeof rv === 'string' ? rv : '',
    continue: typeof cont === 'string' && cont !== '' ? cont : undefined,
  };
}
