/**
 * The simulator's admin API under /_sim/: what tests and benchmarks use to look inside (phones, counters,
 * the writes log), to act behind the API's back (drift, statuses) and to change faults and readings at run
 * time. No auth, never faulted, not counted. docs/cph-simulator.md lists every endpoint.
 */
import {
  knownFaultKinds,
  omittablePhoneFields,
  type FaultKind,
  type OmittablePhoneField,
  type PhoneQuirk,
  type Quirks,
  type Readings,
  type RuntimeSettings,
} from './options.js';
import type { SimulatorServer } from './server.js';

/** Answers one admin request through `reply`; `now` is the simulator's clock (jobs already settled). */
export function handleAdmin(
  sim: SimulatorServer,
  method: string,
  url: URL,
  raw: Buffer,
  now: number,
  reply: (status: number, body: object) => void,
): undefined {
  // `undefined`, not `void`: every branch ends with `return ok(...)` or `return bad(...)`.
  const ok = (body: object, status = 200): undefined => void reply(status, body);
  const bad = (message: string, status = 400): undefined =>
    ok({ error_code: 'SIM.BadRequest', error_msg: message }, status);
  const state = sim.state;
  const path = url.pathname.replace(/\/$/, '');
  let body: Record<string, unknown> = {};
  if (method === 'POST' && raw.length > 0) {
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        return bad('body must be a JSON object');
      body = parsed as Record<string, unknown>;
    } catch {
      return bad('body is not valid JSON');
    }
  }
  let m: RegExpExecArray | null;
  if (method === 'GET' && path === '/_sim/health') return ok({ ok: true, phones: state.fleet.size });
  if (method === 'GET' && path === '/_sim/phones') {
    const prefix = url.searchParams.get('phone_name_prefix') ?? '';
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? Number.MAX_SAFE_INTEGER);
    const phones = [];
    let count = 0;
    for (const phone of state.fleet.phones) {
      if (prefix && !phone.phoneName.startsWith(prefix)) continue;
      if (count >= offset && phones.length < limit) {
        phones.push({
          phone_id: phone.phoneId,
          phone_name: phone.phoneName,
          server_id: phone.serverId,
          pool: phone.pool,
          status: phone.status,
          traffic_type: phone.trafficType,
          running_job_id: phone.runningJobId ?? null,
        });
      }
      count++;
    }
    return ok({ count, phones });
  }
  if ((m = /^\/_sim\/phones\/([^/]+)$/.exec(path)) && method === 'GET') {
    const phone = state.fleet.get(m[1] as string);
    if (!phone) return bad('no such phone', 404);
    return ok({ ...state.fleet.render(phone), running_job_id: phone.runningJobId ?? null });
  }
  if ((m = /^\/_sim\/phones\/([^/]+)\/traffic$/.exec(path)) && method === 'POST') {
    const phone = state.fleet.get(m[1] as string);
    if (!phone) return bad('no such phone', 404);
    const trafficType = body.traffic_type;
    if (trafficType !== 'direct' && trafficType !== 'routing') return bad('traffic_type must be direct or routing');
    phone.trafficType = trafficType;
    phone.updateTime = now;
    return ok(state.fleet.render(phone));
  }
  if (path === '/_sim/traffic' && method === 'POST') {
    // Bulk drift: the listed phones, or every phone whose name starts with the prefix.
    const trafficType = body.traffic_type;
    if (trafficType !== 'direct' && trafficType !== 'routing') return bad('traffic_type must be direct or routing');
    const ids = body.phone_ids;
    const prefix = body.phone_name_prefix;
    let targets: Array<ReturnType<typeof state.fleet.get>>;
    if (Array.isArray(ids) && ids.every((id) => typeof id === 'string'))
      targets = ids.map((id: string) => state.fleet.get(id));
    else if (typeof prefix === 'string') targets = state.fleet.phones.filter((p) => p.phoneName.startsWith(prefix));
    else return bad('give phone_ids (array of strings) or phone_name_prefix (string)');
    let changed = 0;
    let unknown = 0;
    for (const phone of targets) {
      if (!phone) {
        unknown++;
        continue;
      }
      if (phone.trafficType !== trafficType) changed++;
      phone.trafficType = trafficType;
      phone.updateTime = now;
    }
    return ok({ matched: targets.length - unknown, changed, unknown });
  }
  if ((m = /^\/_sim\/phones\/([^/]+)\/status$/.exec(path)) && method === 'POST') {
    const phone = state.fleet.get(m[1] as string);
    if (!phone) return bad('no such phone', 404);
    const status = body.status;
    if (typeof status !== 'number' || !Number.isInteger(status)) return bad('status must be an integer');
    state.fleet.setStatus(phone, status);
    phone.statusBeforeJob = undefined;
    phone.updateTime = now;
    return ok(state.fleet.render(phone));
  }
  if (path === '/_sim/faults/script' && method === 'GET') return ok({ faults: sim.faultScriptView() });
  if (path === '/_sim/faults/script' && method === 'POST') {
    const error = sim.setFaultScript(body.faults);
    if (error) return bad(error);
    return ok({ faults: sim.faultScriptView() });
  }
  if (path === '/_sim/faults' && method === 'GET') return ok({ ...sim.settings });
  if (path === '/_sim/faults' && method === 'POST') {
    const error = applySettings(sim.settings, body);
    if (error) return bad(error);
    sim.logger.info('cph-sim settings changed', { settings: sim.settings });
    return ok({ ...sim.settings });
  }
  if (path === '/_sim/readings' && method === 'GET') return ok({ ...sim.readings });
  if (path === '/_sim/readings' && method === 'POST') {
    const error = applyReadings(sim.readings, body);
    if (error) return bad(error);
    sim.auth.skewErrorCode = sim.readings.skewErrorCode;
    return ok({ ...sim.readings });
  }
  if (path === '/_sim/quirks' && method === 'GET') return ok({ ...state.quirks });
  if (path === '/_sim/quirks' && method === 'POST') {
    const error = applyQuirks(state.quirks, body);
    if (error) return bad(error);
    sim.logger.info('cph-sim quirks changed', { quirks: state.quirks });
    return ok({ ...state.quirks });
  }
  if (path === '/_sim/counters' && method === 'GET') return ok(sim.countersSnapshot());
  if (path === '/_sim/counters/reset' && method === 'POST') {
    sim.resetCounters();
    return ok(sim.countersSnapshot());
  }
  if (path === '/_sim/writes' && method === 'GET') {
    const since = Number(url.searchParams.get('since') ?? 0);
    return ok({ writes: state.writes.filter((w) => w.seq > since) });
  }
  if (path === '/_sim/tokens/revoke' && method === 'POST') return ok({ revoked: sim.auth.revokeTokens() });
  if (path === '/_sim/locks/reset' && method === 'POST') {
    sim.auth.resetLocks();
    return ok({ locked: [] });
  }
  return bad(`no admin endpoint ${method} ${path}`, 404);
}

function isRate(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value <= 1;
}

function isNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Applies the known fields of `body` to `settings`; returns an error message, or undefined. */
export function applySettings(settings: RuntimeSettings, body: Record<string, unknown>): string | undefined {
  const next = { ...settings };
  for (const [key, value] of Object.entries(body)) {
    switch (key) {
      case 'faultRate':
      case 'jobFailureRate':
        if (!isRate(value)) return `${key} must be a number from 0 to 1`;
        next[key] = value;
        break;
      case 'latencyMs':
      case 'jobMs':
      case 'rateLimit':
      case 'retryAfterSeconds':
        if (!isNonNegative(value)) return `${key} must be a number >= 0`;
        next[key] = value;
        break;
      case 'failJobsForPhones':
        if (!Array.isArray(value) || !value.every((id) => typeof id === 'string'))
          return 'failJobsForPhones must be a list of phone IDs';
        next.failJobsForPhones = [...value] as string[];
        break;
      case 'unreachable':
        if (typeof value !== 'boolean') return 'unreachable must be a boolean';
        next.unreachable = value;
        break;
      case 'faultKinds':
        if (!Array.isArray(value) || !value.every((k) => (knownFaultKinds as readonly unknown[]).includes(k))) {
          return `faultKinds must be a list of ${knownFaultKinds.join(', ')}`;
        }
        next.faultKinds = value as FaultKind[];
        break;
      default:
        return `unknown setting ${key}`;
    }
  }
  Object.assign(settings, next);
  return undefined;
}

export function applyReadings(readings: Readings, body: Record<string, unknown>): string | undefined {
  const next = { ...readings };
  for (const [key, value] of Object.entries(body)) {
    switch (key) {
      case 'jobErrorFields':
        if (value !== 'documented' && value !== 'null' && value !== 'empty')
          return 'jobErrorFields must be documented, null or empty';
        next.jobErrorFields = value;
        break;
      case 'notFoundStatus':
        if (value !== 404 && value !== 400) return 'notFoundStatus must be 404 or 400';
        next.notFoundStatus = value;
        break;
      case 'maxListLimit':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
          return 'maxListLimit must be a positive integer';
        next.maxListLimit = value;
        break;
      case 'restartOnRouteChange':
      case 'refuseNotRunning':
      case 'repeatCreatesJob':
        if (typeof value !== 'boolean') return `${key} must be a boolean`;
        next[key] = value;
        break;
      case 'errorBody':
        if (value !== 'cph' && value !== 'nested' && value !== 'top') return 'errorBody must be cph, nested or top';
        next.errorBody = value;
        break;
      case 'tooManyIdsErrorCode':
      case 'skewErrorCode':
        if (typeof value !== 'string' || value === '') return `${key} must be a non-empty string`;
        next[key] = value;
        break;
      default:
        return `unknown reading ${key}`;
    }
  }
  Object.assign(readings, next);
  return undefined;
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function parsePhoneQuirk(value: unknown): PhoneQuirk | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'each phone quirk must be an object { omit?, trafficType? }';
  const quirk: PhoneQuirk = {};
  for (const [key, field] of Object.entries(value)) {
    if (key === 'omit') {
      if (!isStringList(field) || !field.every((f) => (omittablePhoneFields as readonly string[]).includes(f)))
        return `omit must list fields of ${omittablePhoneFields.join(', ')}`;
      quirk.omit = field.filter((f): f is OmittablePhoneField =>
        (omittablePhoneFields as readonly string[]).includes(f),
      );
    } else if (key === 'trafficType') quirk.trafficType = field;
    else return `unknown phone quirk ${key}`;
  }
  return quirk;
}

/** Applies the fields of `body` to `quirks` (each replaces what it names; all or nothing); returns an error message, or undefined. */
export function applyQuirks(quirks: Quirks, body: Record<string, unknown>): string | undefined {
  const next: Quirks = { ...quirks };
  for (const [key, value] of Object.entries(body)) {
    switch (key) {
      case 'phones': {
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          return 'phones must map phone IDs to { omit?, trafficType? }';
        const phones: Record<string, PhoneQuirk> = {};
        for (const [phoneId, raw] of Object.entries(value)) {
          const quirk = parsePhoneQuirk(raw);
          if (typeof quirk === 'string') return `phones.${phoneId}: ${quirk}`;
          phones[phoneId] = quirk;
        }
        next.phones = phones;
        break;
      }
      case 'trafficRequestId':
        if (value !== 'body' && value !== 'header' && value !== 'none')
          return 'trafficRequestId must be body, header or none';
        next.trafficRequestId = value;
        break;
      case 'noJobFor':
        if (!isStringList(value)) return 'noJobFor must be a list of phone IDs';
        next.noJobFor = [...value];
        break;
      case 'refuse': {
        if (value === null) {
          next.refuse = undefined;
          break;
        }
        if (typeof value !== 'object' || Array.isArray(value))
          return 'refuse must be null or { httpStatus, errorCode, errorMsg?, operation? }';
        const fields = new Map<string, unknown>(Object.entries(value));
        const [httpStatus, errorCode, errorMsg, operation] = ['httpStatus', 'errorCode', 'errorMsg', 'operation'].map(
          (name) => fields.get(name),
        );
        if (typeof httpStatus !== 'number' || !Number.isInteger(httpStatus) || httpStatus < 400 || httpStatus > 599)
          return 'refuse.httpStatus must be an integer from 400 to 599';
        if (typeof errorCode !== 'string' || errorCode === '') return 'refuse.errorCode must be a non-empty string';
        if (errorMsg !== undefined && typeof errorMsg !== 'string') return 'refuse.errorMsg must be a string';
        if (operation !== undefined && typeof operation !== 'string')
          return 'refuse.operation must be an operation name';
        next.refuse = {
          httpStatus,
          errorCode,
          errorMsg: errorMsg ?? `refused (${errorCode})`,
          ...(operation === undefined ? {} : { operation }),
        };
        break;
      }
      default:
        return `unknown quirk ${key}`;
    }
  }
  Object.assign(quirks, next);
  return undefined;
}
