/**
 * Huawei Cloud's AK/SK request signing, `SDK-HMAC-SHA256`, as the official SDKs implement it
 * (Go `core/auth/signer/signer.go`, Node `core/auth/AKSKSigner.ts`). One module serves both sides: the
 * client signs with it and the simulator verifies with it, so the canonical form exists exactly once.
 * Written here rather than taken from @huaweicloud/huaweicloud-sdk-core because that package pulls in
 * axios and a whole HTTP stack; it stays a dev dependency that tests our signatures independently.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const signingAlgorithm = 'SDK-HMAC-SHA256';

export interface AkSkCredentials {
  ak: string;
  sk: string;
}

export interface SignableRequest {
  method: string;
  url: URL;
  /** Headers that will be sent, any case; `host` is taken from the URL when absent. */
  headers: Record<string, string>;
  /** The exact bytes that will be sent. */
  body: string | Uint8Array;
}

/** `YYYYMMDDTHHMMSSZ` in UTC, the X-Sdk-Date format. */
export function formatSdkDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Parses an X-Sdk-Date value; undefined when it is not of that exact form. */
export function parseSdkDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Percent-encodes all but `A-Z a-z 0-9 - _ . ~`, with uppercase hex (space becomes %20). */
export function signerEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function canonicalUri(pathname: string): string {
  const escaped = pathname
    .split('/')
    .map((segment) => signerEscape(safeDecode(segment)))
    .join('/');
  return escaped.endsWith('/') ? escaped : `${escaped}/`;
}

function canonicalQuery(url: URL): string {
  const byKey = new Map<string, string[]>();
  for (const [key, value] of url.searchParams) {
    const values = byKey.get(key) ?? [];
    values.push(value);
    byKey.set(key, values);
  }
  const keys = [...byKey.keys()].sort();
  const parts: string[] = [];
  for (const key of keys) {
    for (const value of (byKey.get(key) ?? []).sort()) parts.push(`${signerEscape(key)}=${signerEscape(value)}`);
  }
  return parts.join('&');
}

function lowercaseHeaders(req: SignableRequest): Map<string, string> {
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(req.headers)) headers.set(name.toLowerCase(), value);
  if (!headers.has('host')) headers.set('host', req.url.host);
  return headers;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The six-part canonical request over the named (lowercase) signed headers. */
export function canonicalRequest(req: SignableRequest, signedHeaders: readonly string[]): string {
  const headers = lowercaseHeaders(req);
  const names = [...signedHeaders].map((n) => n.toLowerCase()).sort();
  const canonicalHeaders = names.map((name) => `${name}:${(headers.get(name) ?? '').trim()}\n`).join('');
  return [
    req.method.toUpperCase(),
    canonicalUri(req.url.pathname),
    canonicalQuery(req.url),
    canonicalHeaders,
    names.join(';'),
    sha256Hex(req.body),
  ].join('\n');
}

export function stringToSign(canonical: string, sdkDate: string): string {
  return `${signingAlgorithm}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

export function computeSignature(sk: string, toSign: string): string {
  return createHmac('sha256', Buffer.from(sk, 'utf8')).update(toSign).digest('hex');
}

/**
 * Signs a request: returns the X-Sdk-Date and Authorization headers to add. Signs every header in
 * `req.headers` plus host and x-sdk-date, as the Node SDK does.
 */
export function signRequest(
  req: SignableRequest,
  credentials: AkSkCredentials,
  date: Date,
): { 'X-Sdk-Date': string; Authorization: string } {
  const sdkDate = formatSdkDate(date);
  const withDate: SignableRequest = { ...req, headers: { ...req.headers, 'X-Sdk-Date': sdkDate } };
  const names = [...new Set([...lowercaseHeaders(withDate).keys()])].filter((n) => n !== 'authorization').sort();
  const signature = computeSignature(credentials.sk, stringToSign(canonicalRequest(withDate, names), sdkDate));
  return {
    'X-Sdk-Date': sdkDate,
    Authorization: `${signingAlgorithm} Access=${credentials.ak}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}

export interface ParsedAuthorization {
  access: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...`; undefined when malformed. */
export function parseAuthorization(value: string): ParsedAuthorization | undefined {
  const match = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$/.exec(
    value.trim(),
  );
  if (!match) return undefined;
  const [, access, signedHeaders, signature] = match as unknown as [string, string, string, string];
  return {
    access,
    signedHeaders: signedHeaders.split(';').map((h) => h.toLowerCase()),
    signature: signature.toLowerCase(),
  };
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
