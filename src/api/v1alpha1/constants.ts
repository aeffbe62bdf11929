/**
 * The names of the CloudPhoneRoute API, in one place. crds/cloudphoneroutes.cloudphone.dev.yaml is the
 * source of truth for the shape; these constants must agree with it (test/unit/api-crd.test.ts checks).
 */

export const GROUP = 'cloudphone.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'CloudPhoneRoute';
export const LIST_KIND = 'CloudPhoneRouteList';
export const PLURAL = 'cloudphoneroutes';
export const SINGULAR = 'cloudphoneroute';
export const SHORT_NAME = 'cpr';
export const CATEGORY = 'cloudphone';
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Held on every resource the operator acts for, so a deletion with deletionPolicy Revert can run first. */
export const FINALIZER = 'cloudphone.dev/route-finalizer';
/** The field manager of the operator's writes (server-side apply and status patches). */
export const FIELD_MANAGER = 'cph-route-operator';

/** At most this many phone IDs in one phones-traffic call (CPH's limit). */
export const MAX_PHONES_PER_CALL = 100;
/** status.phones holds at most this many entries; the rest is counted in status.phonesTruncated. */
export const MAX_STATUS_PHONES = 100;
/**
 * Of those, at most this many phones with a job running and at most this many the operator changed
 * successfully (the most recent): the others are counted in status.summary, their requests are in
 * status.pendingRequests and the ApplyingRoute Events. Problems (failed, not found, conflicted, waiting,
 * drifted) are each worth a look and get the whole bound. Listing every phone of a large batch made each
 * status write of it several times dearer for the API server (docs/benchmarks.md).
 */
export const MAX_STATUS_PENDING_PHONES = 20;
export const MAX_STATUS_CHANGED_PHONES = 20;
/** status.phones[].actual: at most this many characters (a route CPH reported that is neither direct nor routing is shown as sent). */
export const MAX_ACTUAL_LENGTH = 64;
/** status.pendingRequests holds at most this many request IDs (each covers up to 100 phones). */
export const MAX_PENDING_REQUESTS = 1000;
/** spec.phoneIds holds at most this many IDs. */
export const MAX_PHONE_IDS = 10000;
/** spec.selector.serverIds holds at most this many IDs. */
export const MAX_SERVER_IDS = 1000;
/** A phone ID: 1 to 32 letters, digits or '-' (CPH: "<= 32 bytes", 32 hex digits in practice). */
export const PHONE_ID_PATTERN = /^[A-Za-z0-9-]{1,32}$/;
export const SERVER_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
export const PROJECT_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
export const REGION_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
export const REGION_MAX_LENGTH = 63;
/**
 * An account's spec.endpoint: https://host[:port] anywhere, http only to a loopback host (a local simulator),
 * with at most a trailing '/'. The host is DNS letters, digits, '-' and '.' (no trailing dot) or a bracketed
 * IPv6 address; so no user info, path, query, fragment, backslash or percent-escape can ride along.
 */
export const ENDPOINT_PATTERN =
  /^(https:\/\/([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])|http:\/\/(localhost|127\.0\.0\.1|\[::1\]))(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?\/?$/;
/** "https://", a 253-character DNS name, ":65535" and "/" fit. */
export const ENDPOINT_MAX_LENGTH = 300;
/** A DNS-1123 subdomain (object names: Secrets, accounts), at most DNS1123_SUBDOMAIN_MAX_LENGTH characters. */
export const DNS1123_SUBDOMAIN_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
/** A DNS-1123 label (namespace names), at most DNS1123_LABEL_MAX_LENGTH characters. */
export const DNS1123_LABEL_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL_MAX_LENGTH = 63;
export const SECRET_NAME_PATTERN = DNS1123_SUBDOMAIN_PATTERN;
export const SECRET_KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;
export const PHONE_NAME_PREFIX_MAX_LENGTH = 65;
/** An account's spec.phoneScope.phoneNamePrefixes holds at most this many prefixes (its serverIds: MAX_SERVER_IDS). */
export const MAX_PHONE_NAME_PREFIXES = 100;
/** A ClusterCloudPhoneAccount's spec.namespaces holds at most this many names. */
export const MAX_ACCOUNT_NAMESPACES = 1000;
/** Bounds of a label selector (spec.namespaceSelector), so its CEL rules stay within the API server's cost budget. */
export const MAX_SELECTOR_MATCH_LABELS = 64;
export const MAX_SELECTOR_REQUIREMENTS = 64;
export const MAX_SELECTOR_VALUES = 100;
/** A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters (apimachinery's qualified name). */
export const LABEL_KEY_PATTERN =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;
export const LABEL_KEY_MAX_LENGTH = 317;
/** A label value: empty, or at most 63 letters, digits, '-', '_', '.', starting and ending alphanumeric. */
export const LABEL_VALUE_PATTERN = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
export const LABEL_VALUE_MAX_LENGTH = 63;
/** Whole numbers with units h, m, s, ms, like 30s, 5m, 1h30m. */
export const DURATION_PATTERN = /^([0-9]{1,9}(h|m|s|ms))+$/;
export const DURATION_MAX_LENGTH = 32;

export const DEFAULT_DRIFT_CHECK_INTERVAL = '5m';
/** spec.revertTimeout: how long a deletion with deletionPolicy Revert waits for the phones, by default and at least. */
export const DEFAULT_REVERT_TIMEOUT = '10m';
export const MIN_REVERT_TIMEOUT_MS = 10_000;
export const MAX_REVERT_TIMEOUT_MS = 24 * 3600_000;
export const MIN_DRIFT_CHECK_INTERVAL_MS = 10_000;
export const MAX_DRIFT_CHECK_INTERVAL_MS = 24 * 3600_000;
export const DEFAULT_ACCESS_KEY_KEY = 'HUAWEICLOUD_SDK_AK';
export const DEFAULT_SECRET_KEY_KEY = 'HUAWEICLOUD_SDK_SK';
/** The route a phone goes back to with deletionPolicy Revert. */
export const REVERT_TRAFFIC_TYPE = 'direct' as const;
