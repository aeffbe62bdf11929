/**
 * Which hosts the operator may call, and one spelling per endpoint. Every CPH or IAM endpoint passes through
 * `normalizeEndpoint` (one origin per endpoint: scheme, lower-case host without a trailing dot, no default
 * port, no path, user info, query or fragment) and must then match the operator's allowlist
 * (--allowed-endpoint-hosts) before a request, a signature or a token goes to it. Two spellings of one
 * endpoint normalize to the same string, so they are one CPH account inside the operator. Pure.
 */
import { OperatorError } from '../errors.js';

/**
 * Huawei Cloud's API domain: every regional endpoint of CPH (`cph.{region}.myhuaweicloud.com`) and IAM
 * (`iam.{region}.myhuaweicloud.com`, the global `iam.myhuaweicloud.com`), as Huawei's SDKs list them
 * (huaweicloud-sdk-python-v3: huaweicloudsdkcph/v1/region/cph_region.py, huaweicloudsdkiam/v3/region/iam_region.py;
 * the Go SDK's services/cph/v1/region the same).
 */
export const DEFAULT_ALLOWED_ENDPOINT_HOSTS = ['*.myhuaweicloud.com'] as const;

export type EndpointErrorCode = 'EndpointInvalid' | 'EndpointNotAllowed';

/** An endpoint that cannot be used; the message names the field and never holds credentials. */
export class EndpointError extends OperatorError {
  constructor(
    readonly endpointCode: EndpointErrorCode,
    message: string,
  ) {
    super(endpointCode, message);
  }
}

/** A host pattern of the allowlist: an exact host, or `*.suffix` for any host below suffix. */
export interface HostPattern {
  readonly exact?: string;
  readonly suffix?: string;
}

const hostLabel = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** The host without a trailing dot, lower case (URL lowers it already). */
function canonicalHost(hostname: string): string {
  return hostname.replace(/\.$/, '');
}

/**
 * The one spelling of an endpoint: `https://host[:port]` (http only to a loopback host, for a local
 * simulator). Refuses a backslash, user info, a path other than `/`, a query or a fragment, naming `field`.
 */
export function normalizeEndpoint(raw: string, field: string): string {
  const text = raw.trim();
  const refuse = (why: string): never => {
    throw new EndpointError(
      'EndpointInvalid',
      `${field}: ${JSON.stringify(text.slice(0, 200))} is not a usable endpoint: ${why}`,
    );
  };
  // WHATWG URL turns '\' into '/' and drops user info silently in some spellings: refuse them before parsing.
  if (text.includes('\\')) refuse('it contains a backslash');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\s\x00-\x1f]/.test(text)) refuse('it contains white space or control characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse('it is not a URL like https://cph.cn-north-4.myhuaweicloud.com');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse('only https is allowed');
  if (url.username !== '' || url.password !== '' || /^[a-z]+:\/\/[^/]*@/i.test(text))
    refuse('user info (user@host) is not allowed');
  if (url.search !== '' || text.includes('?')) refuse('a query is not allowed');
  if (url.hash !== '' || text.includes('#')) refuse('a fragment is not allowed');
  if (url.pathname !== '/' && url.pathname !== '') refuse('a path is not allowed (CPH paths start at the root)');
  const hostname = canonicalHost(url.hostname);
  if (hostname === '') refuse('it has no host');
  if (url.protocol === 'http:' && !isLoopback(hostname))
    refuse('plain http is allowed only to a loopback address (a local simulator)');
  return `${url.protocol}//${hostname}${url.port ? `:${url.port}` : ''}`;
}

/** The host of a normalized endpoint (without port or brackets' content changed). */
export function endpointHost(endpoint: string): string {
  return canonicalHost(new URL(endpoint).hostname);
}

/** Parses --allowed-endpoint-hosts: comma-separated hosts or `*.suffix` patterns. Throws naming the entry. */
export function parseHostPatterns(list: string, field = '--allowed-endpoint-hosts'): HostPattern[] {
  const patterns: HostPattern[] = [];
  for (const entry of list.split(',').map((e) => e.trim().toLowerCase())) {
    if (entry === '') continue;
    const wildcard = entry.startsWith('*.');
    const host = canonicalHost(wildcard ? entry.slice(2) : entry);
    const labels = host.split('.');
    const ipv6 = /^\[[0-9a-f:.]+\]$/.test(host);
    if (
      host === '' ||
      (!ipv6 && !labels.every((label) => hostLabel.test(label))) ||
      (wildcard && (ipv6 || labels.length < 2))
    )
      throw new EndpointError(
        'EndpointInvalid',
        `${field}: ${JSON.stringify(entry)} is not a host or a *.domain pattern (a wildcard needs at least two labels after it, e.g. *.myhuaweicloud.com)`,
      );
    patterns.push(wildcard ? { suffix: `.${host}` } : { exact: host });
  }
  if (patterns.length === 0) throw new EndpointError('EndpointInvalid', `${field}: no host given`);
  return patterns;
}

/** Whether a normalized endpoint's host is on the allowlist. `*.a.b` admits x.a.b and x.y.a.b, not a.b. */
export function hostAllowed(endpoint: string, patterns: readonly HostPattern[]): boolean {
  const host = endpointHost(endpoint);
  return patterns.some((p) =>
    p.exact !== undefined
      ? host === p.exact
      : p.suffix !== undefined && host.endsWith(p.suffix) && host.length > p.suffix.length,
  );
}

/** Normalizes and checks an endpoint against the allowlist; throws EndpointError naming `field`. */
export function allowedEndpoint(raw: string, field: string, patterns: readonly HostPattern[]): string {
  const endpoint = normalizeEndpoint(raw, field);
  if (!hostAllowed(endpoint, patterns))
    throw new EndpointError(
      'EndpointNotAllowed',
      `${field}: host ${endpointHost(endpoint)} is not on the operator's --allowed-endpoint-hosts; the operator never calls it`,
    );
  return endpoint;
}

/** Patterns shown back to a person, e.g. in a log line. */
export function formatHostPatterns(patterns: readonly HostPattern[]): string {
  return patterns.map((p) => (p.exact !== undefined ? p.exact : `*${p.suffix ?? ''}`)).join(',');
}
