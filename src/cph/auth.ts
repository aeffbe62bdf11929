/**
 * How a CPH request proves who sends it. Two ways, both accepted by CPH: AK/SK signing (SDK-HMAC-SHA256,
 * recommended by Huawei) and an IAM user token (X-Auth-Token) obtained with a password.
 *
 * The rule that shapes this module: a refused credential is never retried in a loop. The gateway locks an AK
 * for 5 minutes after 5 bad signatures in a row, and IAM locks users after repeated bad passwords. So a
 * token refused by CPH (APIGW.0301, e.g. revoked early) is replaced exactly once per call, and a refused
 * password is remembered for a cool-down during which no new IAM call is made.
 */
import type { Logger } from '../runtime/logger.js';
import type { Clock } from '../runtime/clock.js';
import { errorMessage } from '../errors.js';
import { CphError, clientErrorCodes, isRetryableFailure } from './errors.js';
import { createAgent, exchange, type Agent } from './http.js';
import { parseErrorBody, parseIamToken } from './parse.js';
import { defaultRetryPolicy, parseRetryAfter, withRetry, type RetryPolicy } from './retry.js';
import { signRequest, type AkSkCredentials } from './signer.js';

/** The request as it will be sent: every header in `headers` is sent, `body` is the exact bytes. */
export interface AuthRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
}

export type AuthHeaders = Record<string, string>;

export interface CphAuth {
  readonly kind: 'aksk' | 'token';
  /** Headers that authorise this exact request (computed after every other header is final). */
  authorize(request: AuthRequest, signal?: AbortSignal): Promise<AuthHeaders>;
  /**
   * CPH refused the credentials carried by `used` (401 APIGW.0301). Returns true when new credentials can
   * be obtained, so the caller may try once more; false when trying again would send the same refused
   * credentials (AK/SK).
   */
  invalidate(used: AuthHeaders): boolean;
}

/** AK/SK signing with the client's clock: the gateway refuses an X-Sdk-Date more than 15 minutes off. */
export class AkSkAuth implements CphAuth {
  readonly kind = 'aksk' as const;
  readonly #credentials: AkSkCredentials;
  readonly #clock: Clock;

  constructor(credentials: AkSkCredentials, clock: Clock) {
    if (!credentials.ak || !credentials.sk) throw new TypeError('AK/SK credentials need both an AK and an SK');
    this.#credentials = { ak: credentials.ak, sk: credentials.sk };
    this.#clock = clock;
  }

  /** The access key ID (not secret), e.g. as a rate-limiter account key. */
  get accessKeyId(): string {
    return this.#credentials.ak;
  }

  async authorize(request: AuthRequest): Promise<AuthHeaders> {
    return signRequest(request, this.#credentials, new Date(this.#clock.now()));
  }

  invalidate(): boolean {
    return false;
  }

  toJSON(): object {
    return { kind: this.kind };
  }
}

export interface IamPasswordCredentials {
  /** IAM user name. */
  user: string;
  password: string;
  /** The account (domain) name the user belongs to. */
  domain: string;
}

export interface IamTokenAuthOptions {
  /** e.g. https://iam.cn-north-4.myhuaweicloud.com (no path). */
  iamEndpoint: string;
  credentials: IamPasswordCredentials;
  /** Token scope: a project ID, or a project name (the region name, e.g. cn-north-4). */
  project: { id: string } | { name: string };
  clock: Clock;
  logger?: Logger | undefined;
  caPem?: string | undefined;
  timeoutMs?: number | undefined;
  retryPolicy?: RetryPolicy | undefined;
  /**
   * Renew when less than this is left; default min(1 hour, 10% of the token's lifetime), so a 24 h token is
   * renewed an hour early and a short-lived one proportionally.
   */
  renewBeforeMs?: number | undefined;
  /** After IAM refuses the password, fail fast for this long without asking IAM again; default 5 minutes. */
  refusalCooldownMs?: number | undefined;
  userAgent?: string | undefined;
  onCall?:
    | ((call: { operation: string; outcome: string; httpStatus: number | undefined; durationMs: number }) => void)
    | undefined;
}

interface CachedToken {
  value: string;
  /** Local clock times, from the lifetime IAM granted, so a skewed local clock does not matter. */
  renewAt: number;
  expiresAt: number;
}

export const iamOperation = 'KeystoneCreateUserTokenByPassword';

/**
 * IAM password tokens, cached and shared. Guarantees:
 * - at most one IAM call is in flight at a time; concurrent callers all wait for it;
 * - a cached token is used until `renewAt`; between `renewAt` and expiry callers keep using it while one
 *   renewal runs in the background; after expiry callers wait for the renewal;
 * - `invalidate(headers)` drops the token only if it is still the cached one, so many calls refused with the
 *   same revoked token cause one IAM call, not one each;
 * - a refused password (IAM 4xx) is remembered for `refusalCooldownMs`, failing fast meanwhile.
 */
export class IamTokenAuth implements CphAuth {
  readonly kind = 'token' as const;
  readonly #options: IamTokenAuthOptions;
  readonly #agent: Agent;
  readonly #url: URL;
  #cached: CachedToken | undefined;
  #inflight: Promise<CachedToken> | undefined;
  #refused: { error: CphError; until: number } | undefined;

  constructor(options: IamTokenAuthOptions) {
    this.#options = options;
    const base = new URL(options.iamEndpoint);
    this.#url = new URL(`${base.pathname.replace(/\/+$/, '')}/v3/auth/tokens`, base);
    this.#agent = createAgent(this.#url, { caPem: options.caPem, maxSockets: 2 });
  }

  async authorize(_request: AuthRequest, signal?: AbortSignal): Promise<AuthHeaders> {
    return { 'X-Auth-Token': await this.token(signal) };
  }

  invalidate(used: AuthHeaders): boolean {
    const refusedToken = used['X-Auth-Token'];
    if (this.#cached !== undefined && this.#cached.value === refusedToken) this.#cached = undefined;
    return true;
  }

  /** A valid token, from the cache or from IAM. */
  async token(signal?: AbortSignal): Promise<string> {
    const now = this.#options.clock.now();
    const cached = this.#cached;
    if (cached !== undefined && now < cached.renewAt) return cached.value;
    if (cached !== undefined && now < cached.expiresAt) {
      this.#renew().catch((err: unknown) =>
        this.#options.logger?.warn('IAM token renewal failed; the current token stays in use until it expires', {
          operation: iamOperation,
          error: errorMessage(err),
        }),
      );
      return cached.value;
    }
    return (await waitFor(this.#renew(), signal)).value;
  }

  /** Drops the cached token and any remembered refusal (e.g. after the credentials Secret changed). */
  reset(): void {
    this.#cached = undefined;
    this.#refused = undefined;
  }

  close(): void {
    this.#agent.destroy();
  }

  toJSON(): object {
    return { kind: this.kind, iamEndpoint: this.#options.iamEndpoint };
  }

  #renew(): Promise<CachedToken> {
    if (this.#inflight === undefined) {
      this.#inflight = this.#fetchToken().finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  async #fetchToken(): Promise<CachedToken> {
    const { clock } = this.#options;
    const refused = this.#refused;
    if (refused !== undefined && clock.now() < refused.until) throw refused.error;
    const scope =
      'id' in this.#options.project
        ? { project: { id: this.#options.project.id } }
        : { project: { name: this.#options.project.name } };
    const { user, password, domain } = this.#options.credentials;
    const body = JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, password, domain: { name: domain } } } },
        scope,
      },
    });
    const headers: Record<string, string> = {
      'Content-Type': 'application/json;charset=utf8',
      Accept: 'application/json',
    };
    if (this.#options.userAgent) headers['User-Agent'] = this.#options.userAgent;
    try {
      const token = await withRetry(
        async () => {
          const started = clock.now();
          let httpStatus: number | undefined;
          try {
            const answer = await exchange({
              operation: iamOperation,
              method: 'POST',
              url: this.#url,
              headers,
              body,
              agent: this.#agent,
              timeoutMs: this.#options.timeoutMs ?? 15_000,
              clock,
            });
            httpStatus = answer.status;
            const xSubjectToken = answer.headers.get('x-subject-token');
            if (answer.status !== 201) {
              let parsed: unknown;
              try {
                parsed = JSON.parse(answer.text);
              } catch {
                parsed = undefined;
              }
              const info = parseErrorBody(parsed);
              const errorCode = info.errorCode ?? `IAM.${answer.status}`;
              throw new CphError({
                operation: iamOperation,
                httpStatus: answer.status,
                errorCode,
                errorMessage:
                  answer.status === 401 || answer.status === 400 || answer.status === 403
                    ? `IAM refused the password credentials of user ${JSON.stringify(user)}: ${info.errorMessage ?? 'no reason given'}`
                    : (info.errorMessage ?? `unexpected status ${answer.status}`),
                requestId: info.requestId ?? answer.headers.get('x-request-id') ?? undefined,
                retryable: isRetryableFailure(answer.status, errorCode),
                retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), clock.now()),
              });
            }
            if (!xSubjectToken) {
              throw new CphError({
                operation: iamOperation,
                httpStatus: answer.status,
                errorCode: clientErrorCodes.InvalidResponse,
                errorMessage: 'IAM answered 201 without an X-Subject-Token header',
                retryable: false,
              });
            }
            let times: { expiresAt: number; issuedAt: number | undefined };
            try {
              times = parseIamToken(JSON.parse(answer.text));
            } catch (err) {
              throw new CphError({
                operation: iamOperation,
                httpStatus: answer.status,
                errorCode: clientErrorCodes.InvalidResponse,
                errorMessage: `IAM token body: ${errorMessage(err)}`,
                retryable: false,
                cause: err,
              });
            }
            // The lifetime in IAM's own clock, applied to ours from the moment we asked.
            const lifetime = times.expiresAt - (times.issuedAt ?? Date.parse(answer.headers.get('date') ?? ''));
            const grantedMs =
              Number.isFinite(lifetime) && lifetime > 0 ? lifetime : Math.max(0, times.expiresAt - clock.now());
            const margin = this.#options.renewBeforeMs ?? Math.min(3_600_000, grantedMs / 10);
            this.#options.onCall?.({
              operation: iamOperation,
              outcome: 'success',
              httpStatus,
              durationMs: clock.now() - started,
            });
            return {
              value: xSubjectToken,
              expiresAt: started + grantedMs,
              renewAt: started + Math.max(0, grantedMs - margin),
            };
          } catch (err) {
            this.#options.onCall?.({
              operation: iamOperation,
              outcome:
                err instanceof CphError && err.httpStatus !== undefined && err.httpStatus < 500 ? 'authError' : 'error',
              httpStatus,
              durationMs: clock.now() - started,
            });
            throw err;
          }
        },
        { policy: this.#options.retryPolicy ?? { ...defaultRetryPolicy, maxAttempts: 3 }, clock },
      );
      this.#cached = token;
      this.#refused = undefined;
      this.#options.logger?.debug('IAM token obtained', {
        operation: iamOperation,
        validForMs: token.expiresAt - clock.now(),
      });
      return token;
    } catch (err) {
      if (
        err instanceof CphError &&
        err.httpStatus !== undefined &&
        err.httpStatus >= 400 &&
        err.httpStatus < 500 &&
        err.httpStatus !== 429
      ) {
        this.#refused = { error: err, until: clock.now() + (this.#options.refusalCooldownMs ?? 300_000) };
      }
      throw err;
    }
  }
}

/** Waits for a shared promise, but lets this caller stop waiting when its own signal aborts. */
function waitFor<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
