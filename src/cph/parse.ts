/**
 * Untrusted CPH JSON in, domain types out (src/cph/types.ts), or a ParseError naming the offending field
 * (`jobs[3].job_id`). Unknown extra fields are ignored, and the documented inconsistencies are accepted:
 * ShowJob sends absent errors as null and ListJobs as "", so both read as undefined. Phones and
 * phones-traffic entries are read one by one and liberally (see readPhone): one odd phone never fails the
 * answer it came in. Jobs are read strictly: a field of the wrong type is refused. No casts: every value is
 * checked before it is used.
 */
import { ParseError } from '../errors.js';
import { trafficTypes, type TrafficType } from './wire.js';
import type {
  Job,
  JobState,
  Phone,
  PhoneDetail,
  PhoneJobAccepted,
  PhoneJobRefused,
  PhoneJobResult,
  PhoneJobUnconfirmed,
  PhoneList,
  SkippedPhone,
} from './types.js';

type JsonObject = { readonly [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `a string` : `a ${typeof value}`;
}

/**
 * CPH's free-text messages end up in logs, events and status. They are untrusted: anything shaped like a
 * credential (an SDK signature, an Authorization value, a token) is replaced before it goes further.
 */
export function scrubCredentials(text: string): string {
  return text
    .replace(/(Signature=)[0-9a-fA-F]+/g, '$1[redacted]')
    .replace(/(SDK-HMAC-SHA256\s+)[^\s"']+(?:\s*,\s*[^\s"',]+)*/g, '$1[redacted]')
    .replace(/(X-Auth-Token["']?\s*[:=]\s*["']?)[A-Za-z0-9_\-+/=.]{8,}/gi, '$1[redacted]')
    .replace(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g, '[redacted token]');
}

function optionalMessage(obj: JsonObject, key: string, path: string): string | undefined {
  const value = optionalString(obj, key, path);
  return value === undefined ? undefined : scrubCredentials(value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function expectObject(value: unknown, path: string): JsonObject {
  if (!isObject(value)) throw new ParseError(path || '(body)', `expected an object, got ${describe(value)}`);
  return value;
}

function requiredString(obj: JsonObject, key: string, path: string, options: { nonEmpty?: boolean } = {}): string {
  const value = obj[key];
  const field = join(path, key);
  if (value === undefined || value === null) throw new ParseError(field, 'missing');
  if (typeof value !== 'string') throw new ParseError(field, `expected a string, got ${describe(value)}`);
  if (options.nonEmpty && value === '') throw new ParseError(field, 'empty');
  return value;
}

/** Absent, null and "" all read as undefined; any other non-string is refused. */
function optionalString(obj: JsonObject, key: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ParseError(join(path, key), `expected a string, got ${describe(value)}`);
  return value;
}

function requiredInteger(obj: JsonObject, key: string, path: string): number {
  const value = obj[key];
  const field = join(path, key);
  if (value === undefined || value === null) throw new ParseError(field, 'missing');
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new ParseError(field, `expected an integer, got ${describe(value)}`);
  return value;
}

function requiredArray(obj: JsonObject, key: string, path: string): readonly unknown[] {
  const value = obj[key];
  const field = join(path, key);
  if (value === undefined || value === null) throw new ParseError(field, 'missing');
  if (!Array.isArray(value)) throw new ParseError(field, `expected an array, got ${describe(value)}`);
  return value;
}

function isTrafficType(value: string): value is TrafficType {
  return (trafficTypes as readonly string[]).includes(value);
}

/*
 * Phones and phones-traffic entries are read liberally: every field of the SDK's Phone and PhoneJob models is
 * optional, and the API adds values over time. One odd entry must never cost the others, so an optional field
 * that is absent, null, "" or of another type reads as undefined, and only an entry that cannot be used at
 * all (no usable phone_id) is left out, and reported.
 */

function looseString(obj: JsonObject, key: string): string | undefined {
  const value = obj[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function looseInteger(obj: JsonObject, key: string): number | undefined {
  const value = obj[key];
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

function looseBoolean(obj: JsonObject, key: string): boolean | undefined {
  const value = obj[key];
  return typeof value === 'boolean' ? value : undefined;
}

/** `vnc_enable` travels as "true"/"false"; a real boolean is accepted too. */
function looseBooleanString(obj: JsonObject, key: string): boolean | undefined {
  const value = obj[key];
  if (typeof value === 'boolean') return value;
  return value === 'true' ? true : value === 'false' ? false : undefined;
}

/** How long a `traffic_type` CPH sent may be when shown (status.phones[].actual has the same bound, MAX_ACTUAL_LENGTH). */
const maxUnknownTrafficTypeLength = 64;

/** `traffic_type`: a known route, or the value as sent (clipped, printable) when it is present but another one. */
function readTrafficType(value: unknown): {
  trafficType: TrafficType | undefined;
  unknownTrafficType: string | undefined;
} {
  if (value === undefined || value === null || value === '')
    return { trafficType: undefined, unknownTrafficType: undefined };
  if (typeof value === 'string' && isTrafficType(value)) return { trafficType: value, unknownTrafficType: undefined };
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean'
        ? String(value)
        : `(${describe(value)})`;
  const printable = scrubCredentials(text.slice(0, 4 * maxUnknownTrafficTypeLength))
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, maxUnknownTrafficTypeLength);
  return { trafficType: undefined, unknownTrafficType: printable };
}

/** A phone ID CPH could have issued: 1 to 32 letters, digits, '-' or '_' ("<= 32 bytes"; 32 hex digits in practice). */
const usablePhoneId = /^[A-Za-z0-9_-]{1,32}$/;

/** The phone of one entry, or why the entry cannot be used (the field named by `path`). */
export function readPhone(value: unknown, path: string): Phone | SkippedPhone {
  if (!isObject(value)) return { field: path || '(body)', reason: 'notAnObject' };
  const phoneId = value.phone_id;
  if (typeof phoneId !== 'string' || !usablePhoneId.test(phoneId))
    return { field: join(path, 'phone_id'), reason: 'noPhoneId' };
  const metadataValue = value.metadata;
  const metadata = isObject(metadataValue)
    ? { orderId: looseString(metadataValue, 'order_id'), productId: looseString(metadataValue, 'product_id') }
    : undefined;
  return {
    phoneId,
    phoneName: looseString(value, 'phone_name'),
    serverId: looseString(value, 'server_id'),
    status: looseInteger(value, 'status'),
    ...readTrafficType(value.traffic_type),
    type: looseInteger(value, 'type'),
    phoneModelName: looseString(value, 'phone_model_name'),
    imageId: looseString(value, 'image_id'),
    imageVersion: looseString(value, 'image_version'),
    vncEnable: looseBooleanString(value, 'vnc_enable'),
    imei: looseString(value, 'imei'),
    volumeMode: looseInteger(value, 'volume_mode'),
    availabilityZone: looseString(value, 'availability_zone'),
    metadata,
    hasEncrypt: looseBoolean(value, 'has_encrypt'),
    createTime: looseString(value, 'create_time'),
    updateTime: looseString(value, 'update_time'),
  };
}

function isSkipped(entry: Phone | SkippedPhone): entry is SkippedPhone {
  return 'reason' in entry;
}

/** One phone; a ParseError naming `phone_id` when the entry cannot be used. */
export function parsePhone(value: unknown, path: string): Phone {
  const entry = readPhone(value, path);
  if (isSkipped(entry))
    throw new ParseError(
      entry.field,
      entry.reason === 'notAnObject'
        ? 'expected an object'
        : 'missing, or not a phone ID (1 to 32 letters, digits, - or _)',
    );
  return entry;
}

/**
 * ListCloudPhones: `{ phones, request_id, count }`. The page is refused only when `phones` or `count` is
 * unusable; an entry that is not a phone (see readPhone) is left out and listed in `skipped`.
 */
export function parsePhoneList(value: unknown): PhoneList {
  const obj = expectObject(value, '');
  const phones: Phone[] = [];
  const skipped: SkippedPhone[] = [];
  requiredArray(obj, 'phones', '').forEach((entry, i) => {
    const read = readPhone(entry, `phones[${i}]`);
    if (isSkipped(read)) skipped.push(read);
    else phones.push(read);
  });
  const count = requiredInteger(obj, 'count', '');
  if (count < 0) throw new ParseError('count', 'negative');
  return { phones, skipped, count, requestId: optionalString(obj, 'request_id', '') };
}

/** ShowCloudPhoneDetail: a phone plus `request_id`, `property` and more. */
export function parsePhoneDetail(value: unknown): PhoneDetail {
  const obj = expectObject(value, '');
  return { ...parsePhone(obj, ''), requestId: looseString(obj, 'request_id'), property: looseString(obj, 'property') };
}

/**
 * phones-traffic: `{ request_id, jobs: [{ phone_id, job_id, error_code, error_msg }] }`, every field optional
 * in the SDK. An entry with an error code is a per-phone refusal; one with a job ID is a job; one with neither
 * is an unknown outcome (`unconfirmed`), as is a sent phone the answer has no entry for (`sent`, when given,
 * is the list of IDs the call carried). An entry without a usable phone_id cannot be attributed and is
 * ignored (its phone, if sent, is then not answered). Refused only when the body or `jobs` is unusable.
 */
export function parseTrafficResponse(value: unknown, sent?: readonly string[]): PhoneJobResult {
  const obj = expectObject(value, '');
  const requestId = looseString(obj, 'request_id');
  const jobs: PhoneJobAccepted[] = [];
  const errors: PhoneJobRefused[] = [];
  const unconfirmed: PhoneJobUnconfirmed[] = [];
  const answered = new Set<string>();
  for (const entry of requiredArray(obj, 'jobs', '')) {
    if (!isObject(entry)) continue;
    const phoneId = looseString(entry, 'phone_id');
    if (phoneId === undefined || answered.has(phoneId)) continue;
    answered.add(phoneId);
    const errorCode = looseString(entry, 'error_code');
    const jobId = looseString(entry, 'job_id');
    if (errorCode !== undefined)
      errors.push({ phoneId, errorCode, errorMessage: scrubCredentials(looseString(entry, 'error_msg') ?? '') });
    else if (jobId !== undefined) jobs.push({ phoneId, jobId });
    else unconfirmed.push({ phoneId, reason: 'noJobOrError' });
  }
  for (const phoneId of sent ?? []) if (!answered.has(phoneId)) unconfirmed.push({ phoneId, reason: 'notAnswered' });
  return { requestId, jobs, errors, unconfirmed };
}

export function jobState(code: number): JobState {
  switch (code) {
    case 1:
      return 'running';
    case 2:
      return 'succeeded';
    case -1:
      return 'failed';
    default:
      return 'unknown';
  }
}

/** One job entry; its own `request_id`, if any, is taken as the creating request. */
export function parseJob(value: unknown, path: string, callRequestId?: string): Job {
  const obj = expectObject(value, path);
  const statusCode = requiredInteger(obj, 'status', path);
  return {
    jobId: requiredString(obj, 'job_id', path, { nonEmpty: true }),
    phoneId: optionalString(obj, 'phone_id', path),
    serverId: optionalString(obj, 'server_id', path),
    status: jobState(statusCode),
    statusCode,
    beginTime: optionalString(obj, 'begin_time', path),
    endTime: optionalString(obj, 'end_time', path),
    errorCode: optionalString(obj, 'error_code', path),
    errorMessage: optionalMessage(obj, 'error_msg', path),
    executeMessage: optionalMessage(obj, 'execute_msg', path),
    requestId: optionalString(obj, 'request_id', path),
    callRequestId,
  };
}

/**
 * ShowJob: the job's fields at the top level, with `request_id`, read as the ShowJob call's own ID (the
 * reading that cannot mislead: the docs do not say it is the creating request).
 */
export function parseShowJob(value: unknown): Job {
  const job = parseJob(value, '');
  return { ...job, requestId: undefined, callRequestId: job.requestId };
}

/** ListJobs: `{ request_id, jobs: [...] }`. */
export function parseJobList(value: unknown): { requestId: string | undefined; jobs: Job[] } {
  const obj = expectObject(value, '');
  const requestId = optionalString(obj, 'request_id', '');
  return { requestId, jobs: requiredArray(obj, 'jobs', '').map((job, i) => parseJob(job, `jobs[${i}]`, requestId)) };
}

/** How deep parseErrorBody looks into nested objects for a code and a message. */
const maxErrorBodyDepth = 8;

/**
 * An error body read as Huawei's Go SDK reads it (core/sdkerr): the top-level `error_code` and `error_msg` when
 * both are non-empty strings, else the top-level `code` and `message` when both are, else the first such pair
 * found inside a nested object (e.g. IAM's `{ "error": { "code", "message" } }`), in the order the body gives
 * them. A lone code or message is not a pair and is not taken. The body's `request_id` is returned too; the
 * caller prefers the `X-Request-Id` header, as the SDK does. Never throws.
 */
export function parseErrorBody(value: unknown): { errorCode?: string; errorMessage?: string; requestId?: string } {
  if (!isObject(value)) return {};
  const out: { errorCode?: string; errorMessage?: string; requestId?: string } = {};
  const pair = errorPair(value, 0);
  if (pair) {
    out.errorCode = pair.code;
    out.errorMessage = scrubCredentials(pair.message);
  }
  const requestId = looseString(value, 'request_id');
  if (requestId !== undefined) out.requestId = requestId;
  return out;
}

function errorPair(obj: JsonObject, depth: number): { code: string; message: string } | undefined {
  for (const [codeKey, messageKey] of [
    ['error_code', 'error_msg'],
    ['code', 'message'],
  ] as const) {
    const code = looseString(obj, codeKey);
    const message = looseString(obj, messageKey);
    if (code !== undefined && message !== undefined) return { code, message };
  }
  if (depth >= maxErrorBodyDepth) return undefined;
  for (const nested of Object.values(obj)) {
    if (!isObject(nested)) continue;
    const pair = errorPair(nested, depth + 1);
    if (pair) return pair;
  }
  return undefined;
}

/** IAM's token body: `{ token: { expires_at, issued_at? } }`, times as ISO 8601. */
export function parseIamToken(value: unknown): { expiresAt: number; issuedAt: number | undefined } {
  const obj = expectObject(value, '');
  const token = expectObject(obj.token, 'token');
  const expires = requiredString(token, 'expires_at', 'token', { nonEmpty: true });
  const expiresAt = Date.parse(expires);
  if (Number.isNaN(expiresAt))
    throw new ParseError('token.expires_at', `not a timestamp: ${JSON.stringify(expires.slice(0, 40))}`);
  const issued = optionalString(token, 'issued_at', 'token');
  const issuedAt = issued === undefined ? undefined : Date.parse(issued);
  return { expiresAt, issuedAt: issuedAt === undefined || Number.isNaN(issuedAt) ? undefined : issuedAt };
}
