/**
 * One HTTP exchange with CPH or IAM over node-fetch, and nothing else: a keep-alive agent per client
 * (system CAs plus an optional extra bundle, verification always on), a timeout that covers the whole
 * exchange including the body, redirects refused (they would carry the credentials elsewhere), and network
 * failures turned into CphError with a client code. Deciding what a status means is the caller's job.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import nodeFetch from 'node-fetch';
import type { Clock } from '../runtime/clock.js';
import { CphError, clientErrorCodes } from './errors.js';

/**
 * The largest CPH answer read: a page of 100 phones or jobs is tens of KiB, so 4 MiB leaves room for any honest
 * answer while a hostile or broken endpoint costs its account an error, never the process's memory.
 */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

// node-fetch 2 is CommonJS: under NodeNext its function is `.default` of the module object (set by node-fetch itself).
const fetch = nodeFetch.default;

export type Agent = http.Agent | https.Agent;

export interface AgentOptions {
  /** Extra CA certificates (PEM) trusted in addition to the system CAs. */
  caPem?: string | undefined;
  /** Sockets per host; default 16. */
  maxSockets?: number | undefined;
}

/**
 * One keep-alive agent for one endpoint. For HTTPS, certificate verification cannot be turned off:
 * `rejectUnauthorized: true` is passed explicitly, which also overrides NODE_TLS_REJECT_UNAUTHORIZED=0.
 */
export function createAgent(url: URL, options: AgentOptions = {}): Agent {
  const common = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: options.maxSockets ?? 16, maxFreeSockets: 4 };
  if (url.protocol === 'http:') return new http.Agent(common);
  if (url.protocol !== 'https:')
    throw new CphError({
      operation: 'configure',
      errorCode: clientErrorCodes.InvalidArgument,
      errorMessage: `unsupported endpoint scheme ${url.protocol}`,
      retryable: false,
    });
  const ca = options.caPem ? [...tls.rootCertificates, options.caPem] : undefined;
  return new https.Agent({ ...common, rejectUnauthorized: true, ...(ca ? { ca } : {}) });
}

export interface Exchange {
  operation: string;
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body: string;
  agent: Agent;
  timeoutMs: number;
  clock: Clock;
  signal?: AbortSignal | undefined;
}

export interface HttpAnswer {
  status: number;
  headers: { get(name: string): string | null };
  text: string;
}

const resetCodes = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'HPE_INVALID_CONSTANT',
]);
const connectCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code: unknown = Reflect.get(err, 'code');
  if (typeof code === 'string') return code;
  const errno: unknown = Reflect.get(err, 'errno');
  return typeof errno === 'string' ? errno : undefined;
}

function isTlsCode(code: string | undefined): boolean {
  return (
    code !== undefined &&
    (code.startsWith('ERR_TLS') ||
      code.startsWith('ERR_SSL') ||
      /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|SIGNATURE_FAILURE/.test(code))
  );
}

/** Maps a thrown network failure to a CphError. The message names the failure, never headers. */
export function networkError(
  err: unknown,
  exchange: Pick<Exchange, 'operation'>,
  timedOut: boolean,
  callerAborted: boolean,
): CphError {
  const operation = exchange.operation;
  if (callerAborted)
    return new CphError({
      operation,
      errorCode: clientErrorCodes.Aborted,
      errorMessage: 'the call was cancelled',
      retryable: false,
      outcomeUnknown: true,
      cause: err,
    });
  if (timedOut)
    return new CphError({
      operation,
      errorCode: clientErrorCodes.Timeout,
      errorMessage: 'no complete answer within the request timeout',
      outcomeUnknown: true,
      cause: err,
    });
  const code = errorCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (typeof err === 'object' && err !== null && Reflect.get(err, 'type') === 'max-size') {
    return new CphError({
      operation,
      errorCode: clientErrorCodes.InvalidResponse,
      errorMessage: 'the answer is larger than the client accepts',
      retryable: false,
      cause: err,
    });
  }
  // Certificate and protocol failures will fail the same way again; a reset during the handshake may not.
  if (isTlsCode(code) || (code === undefined && /certificate|self[- ]signed/i.test(message))) {
    return new CphError({
      operation,
      errorCode: clientErrorCodes.TlsError,
      errorMessage: `TLS failure: ${code ?? message}`,
      retryable: false,
      cause: err,
    });
  }
  if (code !== undefined && connectCodes.has(code)) {
    return new CphError({
      operation,
      errorCode: clientErrorCodes.ConnectionFailed,
      errorMessage: `could not connect (${code})`,
      cause: err,
    });
  }
  if ((code !== undefined && resetCodes.has(code)) || /socket hang up|premature close|ECONNRESET/i.test(message)) {
    return new CphError({
      operation,
      errorCode: clientErrorCodes.ConnectionReset,
      errorMessage: `connection broken (${code ?? 'reset'})`,
      outcomeUnknown: true,
      cause: err,
    });
  }
  return new CphError({
    operation,
    errorCode: clientErrorCodes.ConnectionReset,
    errorMessage: `network failure (${code ?? 'unknown'})`,
    outcomeUnknown: true,
    cause: err,
  });
}

/** Sends one request and reads the whole answer within `timeoutMs`. */
export async function exchange(ex: Exchange): Promise<HttpAnswer> {
  if (ex.signal?.aborted) throw networkError(ex.signal.reason, ex, false, true);
  const controller = new AbortController();
  const timer = new AbortController();
  let timedOut = false;
  let callerAborted = false;
  ex.clock.sleep(ex.timeoutMs, timer.signal).then(
    () => {
      timedOut = true;
      controller.abort(new Error('timeout'));
    },
    () => undefined,
  );
  const onCallerAbort = (): void => {
    callerAborted = true;
    controller.abort(ex.signal?.reason);
  };
  ex.signal?.addEventListener('abort', onCallerAbort, { once: true });
  try {
    const response = await fetch(ex.url.toString(), {
      method: ex.method,
      headers: ex.headers,
      ...(ex.method === 'POST' ? { body: ex.body } : {}),
      agent: ex.agent,
      redirect: 'manual',
      follow: 0,
      compress: true,
      size: MAX_RESPONSE_BYTES,
      signal: controller.signal,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text };
  } catch (err) {
    throw networkError(err, ex, timedOut, callerAborted);
  } finally {
    timer.abort();
    ex.signal?.removeEventListener('abort', onCallerAbort);
  }
}
