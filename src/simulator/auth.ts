/**
 * The gateway's two ways in, as the simulator checks them: an IAM token (X-Auth-Token, issued by the
 * simulator's own /v3/auth/tokens and valid until it expires or is revoked) or an SDK-HMAC-SHA256
 * signature verified over the raw bytes received, with X-Sdk-Date signed and within 15 minutes. Five bad
 * signatures in a row lock an access key for 5 minutes, as the real gateway does.
 */
import { randomBytes } from 'node:crypto';
import {
  canonicalRequest,
  computeSignature,
  parseAuthorization,
  parseSdkDate,
  signaturesEqual,
  stringToSign,
} from '../cph/signer.js';

export const maxClockSkewMs = 15 * 60_000;
export const lockoutFailures = 5;
export const lockoutMs = 5 * 60_000;

export const authMessages = {
  tokenNotFound: 'Incorrect IAM authentication information: x-auth-token not found',
  tokenExpired: 'Incorrect IAM authentication information: token expires',
  tokenInvalid: 'Incorrect IAM authentication information: verify token fail',
  signatureFail: 'Incorrect IAM authentication information: verify aksk signature fail',
  sdkDateMissing: 'Incorrect IAM authentication information: verify aksk signature fail, x-sdk-date not signed',
  skew: 'Incorrect IAM authentication information: verify aksk signature fail, x-sdk-date out of range (more than 15 minutes off)',
  locked:
    'Incorrect IAM authentication information: verify aksk signature fail, access key locked for 5 minutes after 5 consecutive failures',
} as const;

export interface AuthFailure {
  ok: false;
  httpStatus: number;
  errorCode: string;
  errorMsg: string;
  /** A signature failure, counted toward the lockout. */
  signatureFailure: boolean;
}

export interface AuthSuccess {
  ok: true;
  /** Who called: `ak:<AK>` or `token:<user>@<domain>`. */
  identity: string;
}

export type AuthResult = AuthSuccess | AuthFailure;

export interface RawRequest {
  method: string;
  /** Path and query exactly as received. */
  rawUrl: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface IssuedToken {
  user: string;
  domain: string;
  expiresAt: number;
}

function fail(errorCode: string, errorMsg: string, signatureFailure = false, httpStatus = 401): AuthFailure {
  return { ok: false, httpStatus, errorCode, errorMsg, signatureFailure };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

export class Authenticator {
  private readonly secrets = new Map<string, string>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly failures = new Map<string, number>();
  private readonly lockedUntil = new Map<string, number>();
  /** Error code for a signature whose X-Sdk-Date is out of range (APIGW.0303 by default). */
  skewErrorCode = 'APIGW.0303';

  constructor(credentials: ReadonlyArray<{ ak: string; sk: string }>) {
    for (const { ak, sk } of credentials) this.secrets.set(ak, sk);
  }

  issueToken(user: string, domain: string, now: number, ttlMs: number): { token: string; expiresAt: number } {
    const token = `MII${randomBytes(48).toString('base64url')}`;
    const expiresAt = now + ttlMs;
    this.tokens.set(token, { user, domain, expiresAt });
    return { token, expiresAt };
  }

  /** Revokes every token issued so far (a password change); returns how many. */
  revokeTokens(): number {
    const count = this.tokens.size;
    this.tokens.clear();
    return count;
  }

  resetLocks(): void {
    this.failures.clear();
    this.lockedUntil.clear();
  }

  lockedKeys(now: number): string[] {
    return [...this.lockedUntil.entries()].filter(([, until]) => until > now).map(([ak]) => ak);
  }

  authenticate(req: RawRequest, now: number): AuthResult {
    const token = headerValue(req.headers['x-auth-token']);
    const authorization = headerValue(req.headers.authorization);
    if (token !== undefined && token !== '') return this.checkToken(token, now);
    if (authorization === undefined || authorization === '') return fail('APIGW.0301', authMessages.tokenNotFound);
    return this.checkSignature(req, authorization, now);
  }

  private checkToken(token: string, now: number): AuthResult {
    const issued = this.tokens.get(token);
    if (!issued) return fail('APIGW.0301', authMessages.tokenInvalid);
    if (issued.expiresAt <= now) return fail('APIGW.0301', authMessages.tokenExpired);
    return { ok: true, identity: `token:${issued.user}@${issued.domain}` };
  }

  private checkSignature(req: RawRequest, authorization: string, now: number): AuthResult {
    const parsed = parseAuthorization(authorization);
    if (!parsed) return fail('APIGW.0301', authMessages.signatureFail, false);
    const ak = parsed.access;
    const locked = this.lockedUntil.get(ak);
    if (locked !== undefined && locked > now) return fail('APIGW.0301', authMessages.locked, false);
    const result = this.verify(req, parsed, now);
    if (result.ok) {
      this.failures.delete(ak);
      return result;
    }
    const count = (this.failures.get(ak) ?? 0) + 1;
    if (count >= lockoutFailures) {
      this.failures.delete(ak);
      this.lockedUntil.set(ak, now + lockoutMs);
    } else {
      this.failures.set(ak, count);
    }
    return result;
  }

  private verify(req: RawRequest, parsed: NonNullable<ReturnType<typeof parseAuthorization>>, now: number): AuthResult {
    const sk = this.secrets.get(parsed.access);
    const sdkDate = headerValue(req.headers['x-sdk-date']);
    if (!parsed.signedHeaders.includes('x-sdk-date') || sdkDate === undefined) {
      return fail('APIGW.0301', authMessages.sdkDateMissing, true);
    }
    const date = parseSdkDate(sdkDate.trim());
    if (!date) return fail('APIGW.0301', authMessages.signatureFail, true);
    if (Math.abs(date.getTime() - now) > maxClockSkewMs) return fail(this.skewErrorCode, authMessages.skew, true);
    if (sk === undefined) return fail('APIGW.0301', authMessages.signatureFail, true);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      const text = headerValue(value);
      if (text !== undefined) headers[name] = text;
    }
    const host = headers.host ?? 'localhost';
    let url: URL;
    try {
      url = new URL(req.rawUrl, `http://${host}`);
    } catch {
      return fail('APIGW.0301', authMessages.signatureFail, true);
    }
    const canonical = canonicalRequest({ method: req.method, url, headers, body: req.body }, parsed.signedHeaders);
    const expected = computeSignature(sk, stringToSign(canonical, sdkDate.trim()));
    if (!signaturesEqual(expected, parsed.signature)) return fail('APIGW.0301', authMessages.signatureFail, true);
    return { ok: true, identity: `ak:${parsed.access}` };
  }
}
