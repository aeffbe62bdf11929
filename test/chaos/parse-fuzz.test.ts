/**
 * Fuzzing the CPH parse layer (src/cph/parse.ts), the one place untrusted CPH JSON becomes domain types.
 * Generated from a fixed seed, so a failure reproduces: valid answers of every operation are mutated
 * (fields dropped, retyped, nulled, made huge, nested deep, prototype keys added, text truncated or garbled)
 * and each case goes through what the client does with an answer: JSON.parse, then the operation's parser.
 *
 * The promise checked for every case: the parser returns a value of the documented shape or throws a
 * ParseError naming a field; it never throws anything else (a TypeError would crash a reconcile round) and
 * never touches Object.prototype. parseErrorBody never throws at all. Phones and phones-traffic entries are
 * read one by one (issue 16): an odd phone is read without the odd field or skipped and named, so far more
 * mutated lists and phones-traffic answers parse than before, and each sent phone still ends with exactly one
 * of a job, an error or an unknown outcome.
 */
import { expect } from 'chai';
import { ParseError } from '../../src/errors.js';
import {
  parseErrorBody,
  parseIamToken,
  parseJobList,
  parsePhoneDetail,
  parsePhoneList,
  parseShowJob,
  parseTrafficResponse,
} from '../../src/cph/parse.js';
import type { Job, Phone } from '../../src/cph/types.js';

/** mulberry32: small, seeded, good enough to draw mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const phone = (i: number): Record<string, unknown> => ({
  phone_name: `pool-a-${i}`,
  server_id: 'c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6',
  phone_id: `${i.toString(16).padStart(32, '0')}`,
  phone_model_name: 'kvm.arm.large',
  image_id: 'img-1',
  image_version: '1.0',
  vnc_enable: 'true',
  status: 2,
  type: 0,
  imei: '860000000000000',
  traffic_type: 'routing',
  volume_mode: 0,
  availability_zone: 'az1',
  metadata: { order_id: 'o-1', product_id: 'p-1' },
  has_encrypt: false,
  create_time: '2026-01-01T00:00:00Z',
  update_time: '2026-01-01T00:00:00Z',
});
const job = (i: number, status: number): Record<string, unknown> => ({
  request_id: 'req-1',
  job_id: `job-${i}`,
  begin_time: '2026-01-01T00:00:00Z',
  end_time: null,
  status,
  phone_id: `${i.toString(16).padStart(32, '0')}`,
  server_id: 'c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6',
  error_code: status === -1 ? 'CPS.0003' : '',
  error_msg: '',
  execute_msg: null,
});

interface Target {
  name: string;
  valid: () => unknown;
  parse: (value: unknown) => unknown;
  check: (result: unknown) => void;
}

const isString = (v: unknown): boolean => typeof v === 'string';
const optString = (v: unknown): boolean => v === undefined || typeof v === 'string';

function checkPhone(p: Phone): void {
  expect(isString(p.phoneId) && /^[A-Za-z0-9_-]{1,32}$/.test(p.phoneId), 'phoneId').to.equal(true);
  expect(optString(p.phoneName) && optString(p.serverId), 'name/server').to.equal(true);
  expect(p.status === undefined || Number.isInteger(p.status), 'status').to.equal(true);
  expect([undefined, 'direct', 'routing']).to.include(p.trafficType);
  // A route CPH sent that is neither direct nor routing is kept as sent: printable, at most 64 characters.
  expect(
    p.unknownTrafficType === undefined ||
      (p.trafficType === undefined && /^[\x20-\x7e]{1,64}$/.test(p.unknownTrafficType)),
    'unknownTrafficType',
  ).to.equal(true);
  expect(optString(p.imei) && optString(p.imageId) && optString(p.createTime), 'optional strings').to.equal(true);
  expect([undefined, true, false]).to.include(p.vncEnable);
}

function checkJob(j: Job): void {
  expect(isString(j.jobId) && j.jobId !== '', 'jobId').to.equal(true);
  expect(Number.isInteger(j.statusCode), 'statusCode').to.equal(true);
  expect(['running', 'succeeded', 'failed', 'unknown']).to.include(j.status);
  expect(optString(j.errorCode) && optString(j.errorMessage) && optString(j.phoneId), 'optional strings').to.equal(
    true,
  );
}

const sent = Array.from({ length: 5 }, (_, i) => i.toString(16).padStart(32, '0'));

const targets: Target[] = [
  {
    name: 'ListCloudPhones',
    valid: () => ({ phones: [phone(1), phone(2), phone(3)], request_id: 'r', count: 3 }),
    parse: parsePhoneList,
    check: (r) => {
      const list = r as ReturnType<typeof parsePhoneList>;
      expect(Array.isArray(list.phones)).to.equal(true);
      list.phones.forEach(checkPhone);
      // An entry that cannot be a phone is skipped and named, never a failure of the page.
      for (const skipped of list.skipped)
        expect(isString(skipped.field) && ['noPhoneId', 'notAnObject'].includes(skipped.reason), 'skipped').to.equal(
          true,
        );
      expect(Number.isInteger(list.count) && list.count >= 0).to.equal(true);
    },
  },
  {
    name: 'ShowCloudPhoneDetail',
    valid: () => ({ ...phone(7), request_id: 'r', property: '{"k":"v"}', access_infos: [], phone_data_volume: {} }),
    parse: parsePhoneDetail,
    check: (r) => checkPhone(r as Phone),
  },
  {
    name: 'ImportTraffic',
    valid: () => ({
      request_id: 'r-import',
      jobs: sent.map((id, i) =>
        i === 4
          ? { phone_id: id, job_id: '', error_code: 'CPS.0005', error_msg: 'not found' }
          : { phone_id: id, job_id: `job-${i}`, error_code: null, error_msg: null },
      ),
    }),
    parse: (v) => parseTrafficResponse(v, sent),
    check: (r) => {
      const result = r as ReturnType<typeof parseTrafficResponse>;
      expect(result.requestId === undefined || (isString(result.requestId) && result.requestId !== '')).to.equal(true);
      for (const j of result.jobs) expect(isString(j.phoneId) && isString(j.jobId) && j.jobId !== '').to.equal(true);
      for (const e of result.errors)
        expect(isString(e.phoneId) && isString(e.errorCode) && isString(e.errorMessage)).to.equal(true);
      // No phone that was sent falls through the cracks: each has exactly one of a job, an error, or an unknown outcome.
      const outcomes = [
        ...result.jobs.map((j) => j.phoneId),
        ...result.errors.map((e) => e.phoneId),
        ...result.unconfirmed.map((u) => u.phoneId),
      ];
      for (const id of sent)
        expect(
          outcomes.filter((o) => o === id),
          `phone ${id} answered once`,
        ).to.have.length(1);
    },
  },
  {
    name: 'ListJobs',
    valid: () => ({ request_id: 'r', jobs: [job(1, 1), job(2, 2), job(3, -1)] }),
    parse: parseJobList,
    check: (r) => (r as ReturnType<typeof parseJobList>).jobs.forEach(checkJob),
  },
  {
    name: 'ShowJob',
    valid: () => job(9, 2),
    parse: parseShowJob,
    check: (r) => checkJob(r as Job),
  },
  {
    name: 'IAM token',
    valid: () => ({
      token: {
        expires_at: '2026-01-04T09:05:22.701000Z',
        issued_at: '2026-01-03T09:05:22.701000Z',
        methods: ['password'],
      },
    }),
    parse: parseIamToken,
    check: (r) => {
      const t = r as ReturnType<typeof parseIamToken>;
      expect(Number.isFinite(t.expiresAt)).to.equal(true);
    },
  },
];

/** Values of every JSON type, including the hostile ones. */
function hostileValue(rand: () => number, depth = 0): unknown {
  const pick = Math.floor(rand() * 22);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return '';
    case 2:
      return 'x'.repeat(1 + Math.floor(rand() * 200_000)); // huge string
    case 3:
      return Math.floor(rand() * 2 ** 53) * (rand() < 0.5 ? -1 : 1);
    case 4:
      return rand() * 1e308;
    case 5:
      return 1.5;
    case 6:
      return -1;
    case 7:
      return true;
    case 8:
      return [];
    case 9:
      return {};
    case 10:
      return depth < 3 ? Array.from({ length: Math.floor(rand() * 5) }, () => hostileValue(rand, depth + 1)) : [];
    case 11:
      return depth < 3 ? { nested: hostileValue(rand, depth + 1) } : {};
    case 12:
      return '\u0000\uffff\ud800'; // NUL, non-character, lone surrogate
    case 13:
      return 'routing ';
    case 14:
      return 'ROUTING';
    case 15:
      return '<html><body>502 Bad Gateway</body></html>';
    case 16:
      return JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}');
    case 17:
      return 'direct';
    case 18:
      return '2';
    case 19:
      return 1e21;
    case 20:
      return Array.from({ length: 1000 }, (_, i) => i);
    default:
      return 'not-a-date';
  }
}

/** A deeply nested array, the kind of body that breaks recursive code. */
function deep(levels: number): string {
  return '['.repeat(levels) + ']'.repeat(levels);
}

/** Mutates a JSON value in place at a random path; returns the result (a new root when the root is replaced). */
function mutate(value: unknown, rand: () => number): unknown {
  if (rand() < 0.08) return hostileValue(rand);
  if (typeof value !== 'object' || value === null) return hostileValue(rand);
  const keys = Array.isArray(value) ? Array.from({ length: value.length }, (_, i) => String(i)) : Object.keys(value);
  const record = value as Record<string, unknown>;
  const op = rand();
  if (keys.length === 0 || op < 0.1) {
    if (Array.isArray(value)) {
      value.push(hostileValue(rand));
      return value;
    }
    const key =
      rand() < 0.3
        ? ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'][Math.floor(rand() * 5)]!
        : `extra_${Math.floor(rand() * 100)}`;
    Object.defineProperty(record, key, {
      value: hostileValue(rand),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return value;
  }
  const key = keys[Math.floor(rand() * keys.length)]!;
  if (op < 0.3) {
    if (Array.isArray(value)) value.splice(Number(key), 1);
    else delete record[key];
  } else if (op < 0.6 || typeof record[key] !== 'object' || record[key] === null) {
    record[key] = hostileValue(rand);
  } else {
    record[key] = mutate(record[key], rand);
  }
  if (Array.isArray(value) && rand() < 0.1) value.push(...value.slice(0, 2)); // duplicates
  return value;
}

/** Text-level damage: truncation, garbage, wrong encodings, the things a broken proxy sends. */
function damageText(text: string, rand: () => number): string {
  const op = Math.floor(rand() * 8);
  switch (op) {
    case 0:
      return text.slice(0, Math.floor(rand() * text.length)); // truncated
    case 1:
      return text.slice(Math.floor(rand() * text.length));
    case 2: {
      const at = Math.floor(rand() * text.length);
      return text.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0xffff)) + text.slice(at + 1);
    }
    case 3:
      return deep(1 + Math.floor(rand() * 5000));
    case 4:
      return `${text}${text}`; // two bodies back to back
    case 5:
      return Buffer.from(text).toString('latin1');
    case 6:
      return `\ufeff${text}`; // byte-order mark
    default:
      return text.replace(/"/g, rand() < 0.5 ? "'" : '');
  }
}

describe('chaos: fuzzed CPH answers through the parse layer', function () {
  this.timeout(10 * 60 * 1000);
  const casesPerTarget = 2_000;
  const totals = { cases: 0, parsed: 0, refused: 0, notJson: 0 };

  after(() => {
    // The figure docs/reliability.md quotes.
    process.stdout.write(
      `      parse fuzz: ${totals.cases} cases: ${totals.parsed} parsed to valid shapes, ${totals.refused} refused with a ParseError, ${totals.notJson} not JSON; 0 crashes\n`,
    );
  });

  for (const [index, target] of targets.entries()) {
    it(`${target.name}: ${casesPerTarget} mutated answers parse to valid shapes or a ParseError, nothing else`, () => {
      const rand = prng(0xc0ffee + index);
      let parsed = 0;
      let refused = 0;
      let notJson = 0;
      for (let i = 0; i < casesPerTarget; i++) {
        let value: unknown = target.valid();
        const rounds = 1 + Math.floor(rand() * 4);
        for (let r = 0; r < rounds; r++) value = mutate(value, rand);
        let text = JSON.stringify(value) ?? 'undefined';
        if (rand() < 0.25) text = damageText(text, rand);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          notJson += 1; // the client turns this into InvalidResponse before any parser runs
          continue;
        }
        let result: unknown;
        try {
          result = target.parse(json);
        } catch (error) {
          if (!(error instanceof ParseError)) {
            throw new Error(
              `case ${i}: ${target.name} threw ${(error as Error)?.name}: ${(error as Error)?.message} for ${text.slice(0, 300)}`,
            );
          }
          expect(error.field, `case ${i}: the ParseError names a field`).to.be.a('string').and.not.equal('');
          refused += 1;
          continue;
        }
        try {
          target.check(result);
        } catch (error) {
          throw new Error(
            `case ${i}: ${target.name} returned a bad shape (${(error as Error).message}) for ${text.slice(0, 300)}`,
          );
        }
        // The error reader never throws, whatever the body.
        parseErrorBody(json);
        parsed += 1;
      }
      expect(({} as Record<string, unknown>).polluted, 'Object.prototype untouched').to.equal(undefined);
      expect(parsed + refused + notJson).to.equal(casesPerTarget);
      // The mutations reach both outcomes, or the fuzzing proves little.
      expect(parsed, 'some cases still parse').to.be.greaterThan(0);
      expect(refused, 'some cases are refused').to.be.greaterThan(0);
      totals.cases += casesPerTarget;
      totals.parsed += parsed;
      totals.refused += refused;
      totals.notJson += notJson;
    });
  }

  it('credential-shaped text in CPH messages is scrubbed before it can reach logs, events or status', () => {
    const hostile =
      'denied: Signature=0123456789abcdef0123456789abcdef Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, X-Auth-Token: MIIabcdefghijklmnop eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.sig';
    const texts = [
      parseErrorBody({ error_code: 'APIGW.0301', error_msg: hostile }).errorMessage ?? '',
      parseErrorBody({ error: { code: 'APIGW.0301', message: hostile } }).errorMessage ?? '',
      parseTrafficResponse({ request_id: 'r', jobs: [{ phone_id: 'p', error_code: 'X', error_msg: hostile }] })
        .errors[0]!.errorMessage,
      parseShowJob({ job_id: 'j', status: -1, error_msg: hostile, execute_msg: hostile }).errorMessage ?? '',
    ];
    for (const text of texts) {
      expect(text).to.include('denied');
      expect(text).to.not.match(/Signature=[0-9a-f]{8}|Access=AK|MIIabcdefghijklmnop|eyJhbGciOiJFUzI1NiJ9/);
    }
  });

  it('parseErrorBody reads any JSON value without throwing', () => {
    const rand = prng(42);
    for (let i = 0; i < 2_000; i++) {
      const value = mutate(
        { request_id: 'r', error_code: 'CPS.0003', error_msg: 'boom', error: { code: 'X', message: 'y' } },
        rand,
      );
      const info = parseErrorBody(value);
      for (const v of Object.values(info)) expect(v).to.be.a('string');
    }
    totals.cases += 2_000;
    totals.parsed += 2_000;
  });
});
