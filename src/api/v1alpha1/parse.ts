/**
 * Untrusted objects from the API server become typed CloudPhoneRoutes here, or a ParseError that names the
 * offending field (`spec.driftCheckInterval`). Admission already validated what the CRD can express; this
 * step re-checks it, because objects stored under an older CRD or written around admission must not reach
 * the plan, and because a type is a promise only if something kept it. Defaults the API server would apply
 * are filled in, so the controller never meets an absent suspend, deletionPolicy or revertTimeout. An absent
 * driftCheckInterval stays absent: the operator's --drift-interval applies to it.
 * The status written by earlier rounds is parsed leniently instead: parts that do not fit are dropped, since
 * the operator rewrites the status anyway.
 */
import { ParseError } from '../../errors.js';
import { trafficTypes, type TrafficType } from '../../cph/wire.js';
import { parseAccountRef } from './account-parse.js';
import {
  API_VERSION,
  DEFAULT_DRIFT_CHECK_INTERVAL,
  DEFAULT_REVERT_TIMEOUT,
  DURATION_MAX_LENGTH,
  DURATION_PATTERN,
  KIND,
  MAX_ACTUAL_LENGTH,
  MAX_DRIFT_CHECK_INTERVAL_MS,
  MAX_REVERT_TIMEOUT_MS,
  MAX_PHONE_IDS,
  MAX_SERVER_IDS,
  MAX_STATUS_PHONES,
  MAX_PENDING_REQUESTS,
  MIN_DRIFT_CHECK_INTERVAL_MS,
  MIN_REVERT_TIMEOUT_MS,
  PHONE_ID_PATTERN,
  PHONE_NAME_PREFIX_MAX_LENGTH,
  SERVER_ID_PATTERN,
} from './constants.js';
import {
  absent,
  describe,
  idList,
  isObject,
  isOneOf,
  nonEmpty,
  nonNegativeInt,
  object,
  optionalBoolean,
  optionalString,
  parseCommonMetadata,
  parseConditions,
  string,
  type Obj,
} from './parse-fields.js';
import {
  deletionPolicies,
  phoneEntryStates,
  statusJobStatuses,
  type CloudPhoneRoute,
  type CloudPhoneRouteSpec,
  type CloudPhoneRouteStatus,
  type PhoneSelector,
  type PhoneStatusEntry,
  type RouteMetadata,
  type Summary,
} from './types.js';

/**
 * Milliseconds of a Go-style duration made of whole numbers with units h, m, s, ms (`30s`, `5m`,
 * `1h30m`, `1500ms`), the form spec.driftCheckInterval accepts. Throws ParseError naming `field`.
 */
export function parseDuration(text: string, field = 'duration'): number {
  if (text.length > DURATION_MAX_LENGTH || !DURATION_PATTERN.test(text)) {
    throw new ParseError(field, `${describe(text)} is not a duration like 30s, 5m or 1h30m (units h, m, s, ms)`);
  }
  const unitMs: Record<string, number> = { h: 3600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const match of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(match[1]) * unitMs[match[2]!]!;
  return total;
}

/** A duration in the shortest form parseDuration reads back (300000 -> "5m", 5400000 -> "1h30m"). */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`not a whole, non-negative number of milliseconds: ${ms}`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [
    ['h', 3600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

function parseTrafficType(value: unknown, field: string): TrafficType {
  if (value === undefined || value === null) throw new ParseError(field, 'is required (direct or routing)');
  if (!isOneOf(trafficTypes, value)) throw new ParseError(field, `must be direct or routing, got ${describe(value)}`);
  return value;
}

function parseSelector(value: unknown, field: string): PhoneSelector {
  const obj = object(value, field);
  const selector: PhoneSelector = {};
  if (!absent(obj, 'serverIds')) {
    selector.serverIds = idList(
      obj.serverIds,
      `${field}.serverIds`,
      MAX_SERVER_IDS,
      SERVER_ID_PATTERN,
      64,
      'a server ID (1 to 64 letters, digits or -)',
    );
  }
  const prefix = optionalString(obj, 'phoneNamePrefix', `${field}.phoneNamePrefix`);
  if (prefix !== undefined)
    selector.phoneNamePrefix = nonEmpty(prefix, `${field}.phoneNamePrefix`, PHONE_NAME_PREFIX_MAX_LENGTH);
  if ((selector.serverIds?.length ?? 0) === 0 && selector.phoneNamePrefix === undefined) {
    throw new ParseError(
      `${field}.serverIds`,
      'spec.selector must set spec.selector.serverIds or spec.selector.phoneNamePrefix',
    );
  }
  return selector;
}

/** spec of a CloudPhoneRoute, with the API server's defaults filled in. Throws ParseError naming the field. */
export function parseSpec(value: unknown, field = 'spec'): CloudPhoneRouteSpec {
  const obj = object(value, field);
  const spec: CloudPhoneRouteSpec = { trafficType: parseTrafficType(obj.trafficType, `${field}.trafficType`) };
  if (!absent(obj, 'phoneIds')) {
    spec.phoneIds = idList(
      obj.phoneIds,
      `${field}.phoneIds`,
      MAX_PHONE_IDS,
      PHONE_ID_PATTERN,
      32,
      'a phone ID (1 to 32 letters, digits or -)',
    );
  }
  if (!absent(obj, 'selector')) spec.selector = parseSelector(obj.selector, `${field}.selector`);
  if ((spec.phoneIds?.length ?? 0) === 0 && spec.selector === undefined) {
    throw new ParseError(
      `${field}.phoneIds`,
      'spec.phoneIds or spec.selector must be set: name at least one phone in spec.phoneIds, or select phones with spec.selector',
    );
  }
  // spec.endpoint, spec.region, spec.projectId and spec.credentialsSecretRef left the schema (accounts hold
  // them now): the API server prunes them, and so does this step.
  if (!absent(obj, 'accountRef')) spec.accountRef = parseAccountRef(obj.accountRef, `${field}.accountRef`);
  if (!absent(obj, 'driftCheckInterval')) {
    spec.driftCheckInterval = boundedDuration(
      obj,
      'driftCheckInterval',
      field,
      DEFAULT_DRIFT_CHECK_INTERVAL,
      MIN_DRIFT_CHECK_INTERVAL_MS,
      MAX_DRIFT_CHECK_INTERVAL_MS,
    );
  }
  spec.revertTimeout = boundedDuration(
    obj,
    'revertTimeout',
    field,
    DEFAULT_REVERT_TIMEOUT,
    MIN_REVERT_TIMEOUT_MS,
    MAX_REVERT_TIMEOUT_MS,
  );
  spec.suspend = optionalBoolean(obj, 'suspend', `${field}.suspend`) ?? false;
  const policy = obj.deletionPolicy ?? 'Retain';
  if (!isOneOf(deletionPolicies, policy))
    throw new ParseError(`${field}.deletionPolicy`, `must be Retain or Revert, got ${describe(policy)}`);
  spec.deletionPolicy = policy;
  return spec;
}

/** A duration field of the spec within its bounds (the CRD's 10s..24h), its default when absent. */
function boundedDuration(obj: Obj, key: string, field: string, fallback: string, minMs: number, maxMs: number): string {
  const path = `${field}.${key}`;
  const value = optionalString(obj, key, path) ?? fallback;
  const ms = parseDuration(value, path);
  if (ms < minMs) throw new ParseError(path, `must be at least ${formatDuration(minMs)}, got ${value}`);
  if (ms > maxMs) throw new ParseError(path, `must be at most ${formatDuration(maxMs)}, got ${value}`);
  return value;
}

/** spec.revertTimeout of a parsed spec, in milliseconds. */
export function revertTimeoutMs(spec: CloudPhoneRouteSpec): number {
  return parseDuration(spec.revertTimeout ?? DEFAULT_REVERT_TIMEOUT, 'spec.revertTimeout');
}

function parseMetadata(value: unknown): RouteMetadata {
  const obj = object(value, 'metadata');
  const common = parseCommonMetadata(obj);
  const namespace = string(obj.namespace, 'metadata.namespace');
  if (namespace === '') throw new ParseError('metadata.namespace', 'must not be empty');
  const meta: RouteMetadata = { ...common, namespace };
  for (const key of ['creationTimestamp', 'deletionTimestamp'] as const) {
    const text = optionalString(obj, key, `metadata.${key}`);
    if (text !== undefined) meta[key] = text;
  }
  if (!absent(obj, 'finalizers')) {
    if (!Array.isArray(obj.finalizers))
      throw new ParseError('metadata.finalizers', `must be an array, got ${describe(obj.finalizers)}`);
    meta.finalizers = obj.finalizers.map((f, i) => string(f, `metadata.finalizers[${i}]`));
  }
  return meta;
}

/**
 * A CloudPhoneRoute from an object the API server sent (a watch event, a get). Throws ParseError naming the
 * first offending field. The status is parsed leniently (see parseStatus).
 */
export function parseCloudPhoneRoute(value: unknown): CloudPhoneRoute {
  const obj = object(value, '(object)');
  if (obj.apiVersion !== undefined && obj.apiVersion !== API_VERSION)
    throw new ParseError('apiVersion', `must be ${API_VERSION}, got ${describe(obj.apiVersion)}`);
  if (obj.kind !== undefined && obj.kind !== KIND)
    throw new ParseError('kind', `must be ${KIND}, got ${describe(obj.kind)}`);
  const route: CloudPhoneRoute = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: parseMetadata(obj.metadata),
    spec: parseSpec(obj.spec, 'spec'),
  };
  if (!absent(obj, 'status')) route.status = parseStatus(obj.status);
  return route;
}

const summaryKeys: ReadonlyArray<keyof Summary> = [
  'total',
  'inSync',
  'drifted',
  'pending',
  'failed',
  'conflicted',
  'notFound',
  'waiting',
];

function parseSummary(value: unknown): Summary | undefined {
  if (!isObject(value)) return undefined;
  const summary = {} as Summary;
  for (const key of summaryKeys) summary[key] = nonNegativeInt(value[key]) ?? 0;
  return summary;
}

const entryStringKeys = ['jobId', 'requestId', 'errorCode', 'errorMessage', 'lastTransitionTime'] as const;

function parseEntry(value: unknown): PhoneStatusEntry | undefined {
  if (!isObject(value)) return undefined;
  const { phoneId, state, actual, desired, jobStatus } = value;
  if (typeof phoneId !== 'string' || !isOneOf(phoneEntryStates, state)) return undefined;
  const entry: PhoneStatusEntry = { phoneId, state };
  // The route as CPH reported it, kept verbatim (bounded) when CPH says something undocumented.
  if (typeof actual === 'string' && actual !== '' && actual.length <= MAX_ACTUAL_LENGTH) entry.actual = actual;
  if (isOneOf(trafficTypes, desired)) entry.desired = desired;
  if (isOneOf(statusJobStatuses, jobStatus)) entry.jobStatus = jobStatus;
  for (const key of entryStringKeys) {
    const text = value[key];
    if (typeof text === 'string') entry[key] = text;
  }
  return canonicalEntry(entry);
}

/** An entry with its keys in the one order the operator writes them, undefined ones left out. */
export function canonicalEntry(entry: PhoneStatusEntry): PhoneStatusEntry {
  const out: PhoneStatusEntry = { phoneId: entry.phoneId, state: entry.state };
  if (entry.actual !== undefined) out.actual = entry.actual;
  if (entry.desired !== undefined) out.desired = entry.desired;
  if (entry.jobId !== undefined) out.jobId = entry.jobId;
  if (entry.jobStatus !== undefined) out.jobStatus = entry.jobStatus;
  if (entry.requestId !== undefined) out.requestId = entry.requestId;
  if (entry.errorCode !== undefined) out.errorCode = entry.errorCode;
  if (entry.errorMessage !== undefined) out.errorMessage = entry.errorMessage;
  if (entry.lastTransitionTime !== undefined) out.lastTransitionTime = entry.lastTransitionTime;
  return out;
}

/**
 * The status of an earlier round, leniently: fields and entries that do not fit the schema are dropped
 * (never thrown), duplicates of a phone or condition type keep the first. Never throws for any input.
 */
export function parseStatus(value: unknown): CloudPhoneRouteStatus {
  if (!isObject(value)) return {};
  const status: CloudPhoneRouteStatus = {};
  const generation = nonNegativeInt(value.observedGeneration);
  if (generation !== undefined) status.observedGeneration = generation;
  const conditions = parseConditions(value.conditions);
  if (conditions) status.conditions = conditions;
  const summary = parseSummary(value.summary);
  if (summary) status.summary = summary;
  if (Array.isArray(value.phones)) {
    const seen = new Set<string>();
    status.phones = value.phones
      .map(parseEntry)
      .filter((e): e is PhoneStatusEntry => {
        if (e === undefined || seen.has(e.phoneId)) return false;
        seen.add(e.phoneId);
        return true;
      })
      .slice(0, MAX_STATUS_PHONES);
  }
  const truncated = nonNegativeInt(value.phonesTruncated);
  if (truncated !== undefined) status.phonesTruncated = truncated;
  if (Array.isArray(value.pendingRequests)) {
    status.pendingRequests = [
      ...new Set(
        value.pendingRequests.filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 64),
      ),
    ]
      .sort()
      .slice(0, MAX_PENDING_REQUESTS);
  }
  return status;
}
