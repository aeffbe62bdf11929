/**
 * Untrusted CPH JSON in, domain types out (src/cph/types.ts), or a ParseError naming the offending field
 * (`jobs[3].job_id`). Unknown extra fields are ignored, a field of the wrong type is refused, and the
 * documented inconsistencies are accepted: ShowJob sends absent errors as null and ListJobs as "", so both
 * read as undefined. No casts: every value is checked before it is used.
 */
import { ParseError } from '../errors.js';
import { trafficTypes, type TrafficType } from './wire.js';
import type { Job, JobState, Phone, PhoneDetail, PhoneJobAccepted, PhoneJobRefused, PhoneJobResult, PhoneList } from './types.js';

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
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ParseError(field, `expected an integer, got ${describe(value)}`);
  return value;
}

function optionalInteger(obj: JsonObject, key: string, path: string): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ParseError(join(path, key), `expected an integer, got ${describe(value)}`);
  return value;
}

function optionalBoolean(obj: JsonObject, key: string, path: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new ParseError(join(path, key), `expected a boolean, got ${describe(value)}`);
  return value;
}

/** `vnc_enable` travels as "true"/"false"; a real boolean is accepted too. */
function optionalBooleanString(obj: JsonObject, key: string, path: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new ParseError(join(path, key), `expected "true" or "false", got ${typeof value === 'string' ? JSON.stringify(value.slice(0, 20)) : describe(value)}`);
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

function optionalTrafficType(obj: JsonObject, key: string, path: string): TrafficType | undefined {
  const value = optionalString(obj, key, path);
  if (value === undefined) return undefined;
  if (!isTrafficType(value)) throw new ParseError(join(path, key), `expected "direct" or "routing", got ${JSON.stringify(value.slice(0, 40))}`);
  return value;
}

export function parsePhone(value: unknown, path: string): Phone {
  const obj = expectObject(value, path);
  const metadataValue = obj['metadata'];
  let metadata: Phone['metadata'];
  if (metadataValue !== undefined && metadataValue !== null) {
    const meta = expectObject(metadataValue, join(path, 'metadata'));
    metadata = {
      orderId: optionalString(meta, 'order_id', join(path, 'metadata')),
      productId: optionalString(meta, 'product_id', join(path, 'metadata')),
    };
  }
  return {
    phoneId: requiredString(obj, 'phone_id', path, { nonEmpty: true }),
    phoneName: requiredString(obj, 'phone_name', path),
    serverId: requiredString(obj, 'server_id', path),
    status: requiredInteger(obj, 'status', path),
    trafficType: optionalTrafficType(obj, 'traffic_type', path),
    type: optionalInteger(obj, 'type', path),
    phoneModelName: optionalString(obj, 'phone_model_name', path),
    imageId: optionalString(obj, 'image_id', path),
    imageVersion: optionalString(obj, 'image_version', path),
    vncEnable: optionalBooleanString(obj, 'vnc_enable', path),
    imei: optionalString(obj, 'imei', path),
    volumeMode: optionalInteger(obj, 'volume_mode', path),
    availabilityZone: optionalString(obj, 'availability_zone', path),
    metadata,
    hasEncrypt: optionalBoolean(obj, 'has_encrypt', path),
    createTime: optionalString(obj, 'create_time', path),
    updateTime: optionalString(obj, 'update_time', path),
  };
}

/** ListCloudPhones: `{ phones, request_id, count }`. */
export function parsePhoneList(value: unknown): PhoneList {
  const obj = expectObject(value, '');
  const phones = requiredArray(obj, 'phones', '').map((phone, i) => parsePhone(phone, `phones[${i}]`));
  const count = requiredInteger(obj, 'count', '');
  if (count < 0) throw new ParseError('count', 'negative');
  return { phones, count, requestId: optionalString(obj, 'request_id', '') };
}

/** ShowCloudPhoneDetail: a phone plus `request_id`, `property` and more. */
export function parsePhoneDetail(value: unknown): PhoneDetail {
  const obj = expectObject(value, '');
  return { ...parsePhone(obj, ''), requestId: optionalString(obj, 'request_id', ''), property: optionalString(obj, 'property', '') };
}

/**
 * phones-traffic: `{ request_id, jobs: [{ phone_id, job_id, error_code, error_msg }] }`. An entry with an
 * error code is a per-phone refusal; one without must carry a job ID. `sent`, when given, is the list of IDs
 * the call carried: a sent phone absent from the answer becomes a `NoJobReturned` refusal, so no phone falls
 * through the cracks.
 */
export function parseTrafficResponse(value: unknown, sent?: readonly string[]): PhoneJobResult {
  const obj = expectObject(value, '');
  const requestId = requiredString(obj, 'request_id', '', { nonEmpty: true });
  const jobs: PhoneJobAccepted[] = [];
  const errors: PhoneJobRefused[] = [];
  const answered = new Set<string>();
  requiredArray(obj, 'jobs', '').forEach((entry, i) => {
    const path = `jobs[${i}]`;
    const job = expectObject(entry, path);
    const phoneId = requiredString(job, 'phone_id', path, { nonEmpty: true });
    answered.add(phoneId);
    const errorCode = optionalString(job, 'error_code', path);
    const errorMessage = optionalMessage(job, 'error_msg', path);
    if (errorCode !== undefined) {
      errors.push({ phoneId, errorCode, errorMessage: errorMessage ?? '' });
      return;
    }
    const jobId = optionalString(job, 'job_id', path);
    if (jobId === undefined) throw new ParseError(`${path}.job_id`, 'missing, and no error_code either');
    jobs.push({ phoneId, jobId });
  });
  for (const phoneId of sent ?? []) {
    if (!answered.has(phoneId)) errors.push({ phoneId, errorCode: 'NoJobReturned', errorMessage: 'the phone was sent but the answer holds no job or error for it' });
  }
  return { requestId, jobs, errors };
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

/** CPH's error body or the Go SDK's alternative `{ error: { code, message } }`; never throws. */
export function parseErrorBody(value: unknown): { errorCode?: string; errorMessage?: string; requestId?: string } {
  if (!isObject(value)) return {};
  const out: { errorCode?: string; errorMessage?: string; requestId?: string } = {};
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
  const code = text(value['error_code']);
  const rawMessage = text(value['error_msg']);
  const message = rawMessage === undefined ? undefined : scrubCredentials(rawMessage);
  const requestId = text(value['request_id']);
  if (code !== undefined) out.errorCode = code;
  if (message !== undefined) out.errorMessage = message;
  if (requestId !== undefined) out.requestId = requestId;
  const nested = value['error'];
  if (isObject(nested)) {
    const nestedCode = text(nested['code']);
    const nestedMessage = text(nested['message']);
    if (out.errorCode === undefined && nestedCode !== undefined) out.errorCode = nestedCode;
    if (out.errorMessage === undefined && nestedMessage !== undefined) out.errorMessage = scrubCredentials(nestedMessage);
  }
  return out;
}

/** IAM's token body: `{ token: { expires_at, issued_at? } }`, times as ISO 8601. */
export function parseIamToken(value: unknown): { expiresAt: number; issuedAt: number | undefined } {
  const obj = expectObject(value, '');
  const token = expectObject(obj['token'], 'token');
  const expires = requiredString(token, 'expires_at', 'token', { nonEmpty: true });
  const expiresAt = Date.parse(expires);
  if (Number.isNaN(expiresAt)) throw new ParseError('token.expires_at', `not a timestamp: ${JSON.stringify(expires.slice(0, 40))}`);
  const issued = optionalString(token, 'issued_at', 'token');
  const issuedAt = issued === undefined ? undefined : Date.parse(issued);
  return { expiresAt, issuedAt: issuedAt === undefined || Number.isNaN(issuedAt) ? undefined : issuedAt };
}
