/**
 * Untrusted objects from the API server become typed CloudPhoneRoutes here, or a ParseError that names the
 * offending field (`spec.driftCheckInterval`). Admission already validated what the CRD can express; this
 * step re-checks it, because objects stored under an older CRD or written around admission must not reach
 * the plan, and because a type is a promise only if something kept it. Defaults the API server would apply
 * are filled in, so the controller never meets an absent driftCheckInterval, suspend or deletionPolicy.
 * The status written by earlier rounds is parsed leniently instead: parts that do not fit are dropped, since
 * the operator rewrites the status anyway.
 */
import { ParseError } from '../../errors.js';
import { trafficTypes, type TrafficType } from '../../cph/wire.js';
import {
  API_VERSION,
  DEFAULT_DRIFT_CHECK_INTERVAL,
  DEFAULT_REVERT_TIMEOUT,
  DURATION_MAX_LENGTH,
  DURATION_PATTERN,
  ENDPOINT_MAX_LENGTH,
  ENDPOINT_PATTERN,
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
  PROJECT_ID_PATTERN,
  REGION_MAX_LENGTH,
  REGION_PATTERN,
  SECRET_KEY_PATTERN,
  SECRET_NAME_PATTERN,
  SERVER_ID_PATTERN,
} from './constants.js';
import {
  deletionPolicies,
  phoneEntryStates,
  statusJobStatuses,
  type CloudPhoneRoute,
  type CloudPhoneRouteSpec,
  type CloudPhoneRouteStatus,
  type Condition,
  type CredentialsSecretRef,
  type DeletionPolicy,
  type PhoneSelector,
  type PhoneStatusEntry,
  type RouteMetadata,
  type Summary,
} from './types.js';

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, field: string): Obj {
  if (!isObject(value)) throw new ParseError(field, `must be an object, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return typeof value;
}

function string(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new ParseError(field, `must be a string, got ${describe(value)}`);
  return value;
}

function optionalString(obj: Obj, key: string, field: string): string | undefined {
  return obj[key] === undefined || obj[key] === null ? undefined : string(obj[key], field);
}

function matching(value: string, pattern: RegExp, maxLength: number, field: string, what: string): string {
  if (value.length > maxLength) throw new ParseError(field, `must be at most ${maxLength} characters, got ${value.length}`);
  if (!pattern.test(value)) throw new ParseError(field, `${describe(value)} is not ${what}`);
  return value;
}

function idList(value: unknown, field: string, max: number, pattern: RegExp, maxLength: number, what: string): string[] {
  if (!Array.isArray(value)) throw new ParseError(field, `must be an array, got ${describe(value)}`);
  if (value.length > max) throw new ParseError(field, `must hold at most ${max} items, got ${value.length}`);
  const seen = new Set<string>();
  return value.map((item, i) => {
    const id = matching(string(item, `${field}[${i}]`), pattern, maxLength, `${field}[${i}]`, what);
    if (seen.has(id)) throw new ParseError(`${field}[${i}]`, `duplicate value ${describe(id)}`);
    seen.add(id);
    return id;
  });
}

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
  for (const [unit, size] of [['h', 3600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

function parseTrafficType(value: unknown, field: string): TrafficType {
  if (value === undefined || value === null) throw new ParseError(field, 'is required (direct or routing)');
  if (!(trafficTypes as readonly unknown[]).includes(value)) throw new ParseError(field, `must be direct or routing, got ${describe(value)}`);
  return value as TrafficType;
}

function parseSelector(value: unknown, field: string): PhoneSelector {
  const obj = object(value, field);
  const selector: PhoneSelector = {};
  if (obj.serverIds !== undefined && obj.serverIds !== null) {
    selector.serverIds = idList(obj.serverIds, `${field}.serverIds`, MAX_SERVER_IDS, SERVER_ID_PATTERN, 64, 'a server ID (1 to 64 letters, digits or -)');
  }
  const prefix = optionalString(obj, 'phoneNamePrefix', `${field}.phoneNamePrefix`);
  if (prefix !== undefined) {
    if (prefix.length === 0) throw new ParseError(`${field}.phoneNamePrefix`, 'must not be empty');
    if (prefix.length > PHONE_NAME_PREFIX_MAX_LENGTH) throw new ParseError(`${field}.phoneNamePrefix`, `must be at most ${PHONE_NAME_PREFIX_MAX_LENGTH} characters, got ${prefix.length}`);
    selector.phoneNamePrefix = prefix;
  }
  if ((selector.serverIds?.length ?? 0) === 0 && selector.phoneNamePrefix === undefined) {
    throw new ParseError(`${field}.serverIds`, 'spec.selector must set spec.selector.serverIds or spec.selector.phoneNamePrefix');
  }
  return selector;
}

function parseSecretRef(value: unknown, field: string): CredentialsSecretRef {
  const obj = object(value, field);
  if (obj.name === undefined || obj.name === null) throw new ParseError(`${field}.name`, 'is required');
  const ref: CredentialsSecretRef = {
    name: matching(string(obj.name, `${field}.name`), SECRET_NAME_PATTERN, 253, `${field}.name`, 'a Secret name'),
  };
  for (const key of ['accessKeyKey', 'secretKeyKey'] as const) {
    const text = optionalString(obj, key, `${field}.${key}`);
    if (text !== undefined) ref[key] = matching(text, SECRET_KEY_PATTERN, 253, `${field}.${key}`, 'a Secret data key');
  }
  return ref;
}

/** spec of a CloudPhoneRoute, with the API server's defaults filled in. Throws ParseError naming the field. */
export function parseSpec(value: unknown, field = 'spec'): CloudPhoneRouteSpec {
  const obj = object(value, field);
  const spec: CloudPhoneRouteSpec = { trafficType: parseTrafficType(obj.trafficType, `${field}.trafficType`) };
  if (obj.phoneIds !== undefined && obj.phoneIds !== null) {
    spec.phoneIds = idList(obj.phoneIds, `${field}.phoneIds`, MAX_PHONE_IDS, PHONE_ID_PATTERN, 32, 'a phone ID (1 to 32 letters, digits or -)');
  }
  if (obj.selector !== undefined && obj.selector !== null) spec.selector = parseSelector(obj.selector, `${field}.selector`);
  if ((spec.phoneIds?.length ?? 0) === 0 && spec.selector === undefined) {
    throw new ParseError(`${field}.phoneIds`, 'spec.phoneIds or spec.selector must be set: name at least one phone in spec.phoneIds, or select phones with spec.selector');
  }
  const projectId = optionalString(obj, 'projectId', `${field}.projectId`);
  if (projectId !== undefined) spec.projectId = matching(projectId, PROJECT_ID_PATTERN, 64, `${field}.projectId`, 'a project ID (1 to 64 letters, digits or -)');
  const region = optionalString(obj, 'region', `${field}.region`);
  if (region !== undefined) spec.region = matching(region, REGION_PATTERN, REGION_MAX_LENGTH, `${field}.region`, 'a region name like cn-east-3');
  const endpoint = optionalString(obj, 'endpoint', `${field}.endpoint`);
  if (endpoint !== undefined) spec.endpoint = matching(endpoint, ENDPOINT_PATTERN, ENDPOINT_MAX_LENGTH, `${field}.endpoint`, 'an https URL (http only to a loopback address)');
  if (obj.credentialsSecretRef !== undefined && obj.credentialsSecretRef !== null) {
    spec.credentialsSecretRef = parseSecretRef(obj.credentialsSecretRef, `${field}.credentialsSecretRef`);
  }
  spec.driftCheckInterval = boundedDuration(obj, 'driftCheckInterval', field, DEFAULT_DRIFT_CHECK_INTERVAL, MIN_DRIFT_CHECK_INTERVAL_MS, MAX_DRIFT_CHECK_INTERVAL_MS);
  spec.revertTimeout = boundedDuration(obj, 'revertTimeout', field, DEFAULT_REVERT_TIMEOUT, MIN_REVERT_TIMEOUT_MS, MAX_REVERT_TIMEOUT_MS);
  if (obj.suspend !== undefined && obj.suspend !== null && typeof obj.suspend !== 'boolean') {
    throw new ParseError(`${field}.suspend`, `must be true or false, got ${describe(obj.suspend)}`);
  }
  spec.suspend = obj.suspend === true;
  const policy = obj.deletionPolicy ?? 'Retain';
  if (!(deletionPolicies as readonly unknown[]).includes(policy)) throw new ParseError(`${field}.deletionPolicy`, `must be Retain or Revert, got ${describe(policy)}`);
  spec.deletionPolicy = policy as DeletionPolicy;
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

/** spec.driftCheckInterval of a parsed spec, in milliseconds. */
export function driftCheckIntervalMs(spec: CloudPhoneRouteSpec): number {
  return parseDuration(spec.driftCheckInterval ?? DEFAULT_DRIFT_CHECK_INTERVAL, 'spec.driftCheckInterval');
}

function parseMetadata(value: unknown): RouteMetadata {
  const obj = object(value, 'metadata');
  const name = string(obj.name, 'metadata.name');
  const namespace = string(obj.namespace, 'metadata.namespace');
  if (name === '') throw new ParseError('metadata.name', 'must not be empty');
  if (namespace === '') throw new ParseError('metadata.namespace', 'must not be empty');
  const meta: RouteMetadata = { name, namespace };
  for (const key of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp'] as const) {
    const text = optionalString(obj, key, `metadata.${key}`);
    if (text !== undefined) meta[key] = text;
  }
  if (obj.generation !== undefined && obj.generation !== null) {
    if (!Number.isSafeInteger(obj.generation) || (obj.generation as number) < 0) throw new ParseError('metadata.generation', `must be a whole number, got ${describe(obj.generation)}`);
    meta.generation = obj.generation as number;
  }
  if (obj.finalizers !== undefined && obj.finalizers !== null) {
    if (!Array.isArray(obj.finalizers)) throw new ParseError('metadata.finalizers', `must be an array, got ${describe(obj.finalizers)}`);
    meta.finalizers = obj.finalizers.map((f, i) => string(f, `metadata.finalizers[${i}]`));
  }
  for (const key of ['labels', 'annotations'] as const) {
    if (obj[key] === undefined || obj[key] === null) continue;
    const map = object(obj[key], `metadata.${key}`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(map)) out[k] = string(v, `metadata.${key}.${k}`);
    meta[key] = out;
  }
  return meta;
}

/**
 * A CloudPhoneRoute from an object the API server sent (a watch event, a get). Throws ParseError naming the
 * first offending field. The status is parsed leniently (see parseStatus).
 */
export function parseCloudPhoneRoute(value: unknown): CloudPhoneRoute {
  const obj = object(value, '(object)');
  if (obj.apiVersion !== undefined && obj.apiVersion !== API_VERSION) throw new ParseError('apiVersion', `must be ${API_VERSION}, got ${describe(obj.apiVersion)}`);
  if (obj.kind !== undefined && obj.kind !== KIND) throw new ParseError('kind', `must be ${KIND}, got ${describe(obj.kind)}`);
  const route: CloudPhoneRoute = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: parseMetadata(obj.metadata),
    spec: parseSpec(obj.spec, 'spec'),
  };
  if (obj.status !== undefined && obj.status !== null) route.status = parseStatus(obj.status);
  return route;
}

function nonNegativeInt(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : undefined;
}

function parseCondition(value: unknown): Condition | undefined {
  if (!isObject(value)) return undefined;
  const { type, status, lastTransitionTime, reason, message, observedGeneration } = value;
  if (typeof type !== 'string' || typeof lastTransitionTime !== 'string' || typeof reason !== 'string') return undefined;
  if (status !== 'True' && status !== 'False' && status !== 'Unknown') return undefined;
  const condition: Condition = { type, status, lastTransitionTime, reason, message: typeof message === 'string' ? message : '' };
  const generation = nonNegativeInt(observedGeneration);
  if (generation !== undefined) condition.observedGeneration = generation;
  // Keep the key order of the type so a parsed condition deep-equals one the operator built.
  return {
    type: condition.type,
    status: condition.status,
    ...(condition.observedGeneration === undefined ? {} : { observedGeneration: condition.observedGeneration }),
    lastTransitionTime: condition.lastTransitionTime,
    reason: condition.reason,
    message: condition.message,
  };
}

const summaryKeys: ReadonlyArray<keyof Summary> = ['total', 'inSync', 'drifted', 'pending', 'failed', 'conflicted', 'notFound', 'waiting'];

function parseSummary(value: unknown): Summary | undefined {
  if (!isObject(value)) return undefined;
  const summary = {} as Summary;
  for (const key of summaryKeys) summary[key] = nonNegativeInt(value[key]) ?? 0;
  return summary;
}

const entryStringKeys = ['jobId', 'requestId', 'errorCode', 'errorMessage', 'lastTransitionTime'] as const;

function parseEntry(value: unknown): PhoneStatusEntry | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.phoneId !== 'string' || !(phoneEntryStates as readonly unknown[]).includes(value.state)) return undefined;
  const entry: PhoneStatusEntry = { phoneId: value.phoneId, state: value.state as PhoneStatusEntry['state'] };
  if (typeof value.actual === 'string' && value.actual !== '' && value.actual.length <= MAX_ACTUAL_LENGTH) entry.actual = value.actual;
  if ((trafficTypes as readonly unknown[]).includes(value.desired)) entry.desired = value.desired as TrafficType;
  if ((statusJobStatuses as readonly unknown[]).includes(value.jobStatus)) entry.jobStatus = value.jobStatus as PhoneStatusEntry['jobStatus'];
  for (const key of entryStringKeys) if (typeof value[key] === 'string') entry[key] = value[key] as string;
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
  if (Array.isArray(value.conditions)) {
    const seen = new Set<string>();
    status.conditions = value.conditions.map(parseCondition).filter((c): c is Condition => {
      if (c === undefined || seen.has(c.type)) return false;
      seen.add(c.type);
      return true;
    });
  }
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
    status.pendingRequests = [...new Set(value.pendingRequests.filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 64))]
      .sort()
      .slice(0, MAX_PENDING_REQUESTS);
  }
  return status;
}
