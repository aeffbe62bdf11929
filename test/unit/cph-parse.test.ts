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

function phone(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    phone_name: 'pool-a-1',
    server_id: 'srv1',
    phone_id: '631056bfb66b4f4ea02ba25f04830cb4',
    phone_model_name: 'kvm.2xlarge',
    image_id: 'img',
    image_version: '1',
    vnc_enable: 'true',
    status: 2,
    type: 0,
    imei: '8615',
    traffic_type: 'routing',
    volume_mode: 0,
    availability_zone: 'cn-north-4a',
    metadata: { order_id: 'o', product_id: 'p' },
    has_encrypt: false,
    create_time: '2024-01-01T00:00:00Z',
    update_time: '2024-01-01T00:00:00Z',
    ...overrides,
  };
}

function parseErrorOf(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ParseError);
    return err as ParseError;
  }
  throw new Error('expected a ParseError');
}

describe('cph parse', () => {
  describe('ListCloudPhones', () => {
    it('maps the documented fields to camelCase', () => {
      const list = parsePhoneList({ request_id: 'r1', count: 1, phones: [phone()] });
      expect(list.count).to.equal(1);
      expect(list.requestId).to.equal('r1');
      const [p] = list.phones;
      expect(p).to.include({
        phoneId: '631056bfb66b4f4ea02ba25f04830cb4',
        phoneName: 'pool-a-1',
        serverId: 'srv1',
        status: 2,
        trafficType: 'routing',
        vncEnable: true,
        hasEncrypt: false,
        type: 0,
      });
      expect(p?.metadata).to.deep.equal({ orderId: 'o', productId: 'p' });
    });

    it('tolerates extra fields and missing optional ones', () => {
      const list = parsePhoneList({
        count: 1,
        phones: [{ phone_id: 'a', phone_name: 'n', server_id: 's', status: 8, extra: { x: 1 } }],
        new_top_level: true,
      });
      expect(list.requestId).to.equal(undefined);
      expect(list.phones[0]?.trafficType).to.equal(undefined);
      expect(list.phones[0]?.metadata).to.equal(undefined);
    });

    it('reads a phone with an optional field of the wrong type, leaving that field out', () => {
      const list = parsePhoneList({
        count: 2,
        phones: [phone(), phone({ phone_id: 'b', status: '2', vnc_enable: 'yes', metadata: 'x', imei: 5 })],
      });
      expect(list.skipped).to.deep.equal([]);
      expect(list.phones[1]).to.include({
        phoneId: 'b',
        status: undefined,
        vncEnable: undefined,
        metadata: undefined,
        imei: undefined,
        trafficType: 'routing',
      });
    });

    it('keeps an unknown traffic_type as sent, and reads the route as unknown', () => {
      const list = parsePhoneList({
        count: 3,
        phones: [
          phone({ traffic_type: 'tunnel' }),
          phone({ phone_id: 'b', traffic_type: 7 }),
          phone({ phone_id: 'c', traffic_type: 'x'.repeat(500) }),
        ],
      });
      expect(list.phones.map((p) => [p.trafficType, p.unknownTrafficType])).to.deep.equal([
        [undefined, 'tunnel'],
        [undefined, '7'],
        [undefined, 'x'.repeat(64)],
      ]);
    });

    it('reads a phone without phone_name, server_id, status or traffic_type', () => {
      const list = parsePhoneList({ count: 1, phones: [{ phone_id: 'a' }] });
      expect(list.phones[0]).to.include({
        phoneId: 'a',
        phoneName: undefined,
        serverId: undefined,
        status: undefined,
        trafficType: undefined,
        unknownTrafficType: undefined,
      });
    });

    it('skips and names an entry without a usable phone_id, reading the rest of the page', () => {
      const list = parsePhoneList({
        count: 5,
        phones: [
          phone({ phone_id: undefined }),
          phone({ phone_id: 'ok' }),
          'junk',
          phone({ phone_id: 'a/b' }),
          phone({ phone_id: 'y'.repeat(33) }),
        ],
      });
      expect(list.phones.map((p) => p.phoneId)).to.deep.equal(['ok']);
      expect(list.skipped).to.deep.equal([
        { field: 'phones[0].phone_id', reason: 'noPhoneId' },
        { field: 'phones[2]', reason: 'notAnObject' },
        { field: 'phones[3].phone_id', reason: 'noPhoneId' },
        { field: 'phones[4].phone_id', reason: 'noPhoneId' },
      ]);
    });

    it('refuses the page only for a missing count, a non-array phones or a non-object body', () => {
      expect(parseErrorOf(() => parsePhoneList({ phones: [] })).field).to.equal('count');
      expect(parseErrorOf(() => parsePhoneList({ count: 0, phones: {} })).field).to.equal('phones');
      expect(parseErrorOf(() => parsePhoneList([])).field).to.equal('(body)');
      expect(parseErrorOf(() => parsePhoneList({ count: 1.5, phones: [] })).field).to.equal('count');
    });
  });

  it('ShowCloudPhoneDetail: a phone with request_id and property', () => {
    const detail = parsePhoneDetail({ ...phone(), request_id: 'r2', property: '{"a":1}', access_infos: [] });
    expect(detail).to.include({ requestId: 'r2', property: '{"a":1}', trafficType: 'routing' });
  });

  describe('phones-traffic', () => {
    it('splits jobs from per-phone errors inside the 200, and accepts null or "" for empty error fields', () => {
      const result = parseTrafficResponse({
        request_id: 'req',
        jobs: [
          { phone_id: 'a', job_id: 'j1', error_code: null, error_msg: null },
          { phone_id: 'b', job_id: 'j2', error_code: '', error_msg: '' },
          { phone_id: 'c', job_id: 'j3' },
          { phone_id: 'd', job_id: null, error_code: 'CPS.0005', error_msg: 'Phone d not found' },
          { phone_id: 'e', error_code: 'CPS.0004' },
        ],
      });
      expect(result.requestId).to.equal('req');
      expect(result.jobs).to.deep.equal([
        { phoneId: 'a', jobId: 'j1' },
        { phoneId: 'b', jobId: 'j2' },
        { phoneId: 'c', jobId: 'j3' },
      ]);
      expect(result.errors).to.deep.equal([
        { phoneId: 'd', errorCode: 'CPS.0005', errorMessage: 'Phone d not found' },
        { phoneId: 'e', errorCode: 'CPS.0004', errorMessage: '' },
      ]);
    });

    it('reads a sent phone the answer left out, and an entry with neither job nor error, as unconfirmed', () => {
      const result = parseTrafficResponse(
        {
          request_id: 'req',
          jobs: [
            { phone_id: 'a', job_id: 'j1' },
            { phone_id: 'c', job_id: '' },
            { phone_id: 'd', job_id: 7 },
          ],
        },
        ['a', 'b', 'c', 'd'],
      );
      expect(result.jobs).to.deep.equal([{ phoneId: 'a', jobId: 'j1' }]);
      expect(result.errors).to.deep.equal([]);
      expect(result.unconfirmed).to.deep.equal([
        { phoneId: 'c', reason: 'noJobOrError' },
        { phoneId: 'd', reason: 'noJobOrError' },
        { phoneId: 'b', reason: 'notAnswered' },
      ]);
    });

    it('keeps the jobs of an answer without request_id', () => {
      const result = parseTrafficResponse({ jobs: [{ phone_id: 'a', job_id: 'j1' }] }, ['a']);
      expect(result).to.deep.equal({
        requestId: undefined,
        jobs: [{ phoneId: 'a', jobId: 'j1' }],
        errors: [],
        unconfirmed: [],
      });
    });

    it('ignores an entry it cannot attribute (no phone_id, not an object), and refuses only an unusable jobs', () => {
      const result = parseTrafficResponse(
        { request_id: 'r', jobs: [{ job_id: 'j' }, 'x', null, { phone_id: 'a', job_id: 'j2' }] },
        ['a'],
      );
      expect(result.jobs).to.deep.equal([{ phoneId: 'a', jobId: 'j2' }]);
      expect(result.unconfirmed).to.deep.equal([]);
      expect(parseErrorOf(() => parseTrafficResponse({ request_id: 'r' })).field).to.equal('jobs');
      expect(parseErrorOf(() => parseTrafficResponse({ request_id: 'r', jobs: {} })).field).to.equal('jobs');
    });
  });

  describe('jobs', () => {
    it('ShowJob: null error fields read as undefined; status codes get names', () => {
      const job = parseShowJob({
        request_id: 'r',
        job_id: 'j',
        begin_time: '2024-01-01T00:00:00Z',
        end_time: null,
        status: 1,
        phone_id: 'p',
        server_id: 's',
        error_code: null,
        error_msg: null,
        execute_msg: null,
      });
      expect(job).to.include({
        jobId: 'j',
        status: 'running',
        statusCode: 1,
        errorCode: undefined,
        errorMessage: undefined,
        endTime: undefined,
      });
      // ShowJob's request_id is read as the call's own ID, never as the request that created the job.
      expect(job).to.include({ requestId: undefined, callRequestId: 'r' });
    });

    it('ListJobs: "" error fields read as undefined; failed and unknown codes', () => {
      const list = parseJobList({
        request_id: 'r',
        jobs: [
          { job_id: 'a', status: 2, phone_id: 'p', error_code: '', error_msg: '', execute_msg: '' },
          { job_id: 'b', status: -1, phone_id: 'q', error_code: 'CPS.0003', error_msg: 'boom' },
          { job_id: 'c', status: 7 },
        ],
      });
      expect(list.jobs.map((j) => j.status)).to.deep.equal(['succeeded', 'failed', 'unknown']);
      expect(list.jobs[0]?.errorCode).to.equal(undefined);
      expect(list.jobs[1]).to.include({ errorCode: 'CPS.0003', errorMessage: 'boom' });
      expect(list.jobs[2]?.statusCode).to.equal(7);
      expect(list.jobs[0]).to.include({ requestId: undefined, callRequestId: 'r' });
      const withOwn = parseJobList({ request_id: 'call', jobs: [{ job_id: 'a', status: 2, request_id: 'creator' }] });
      expect(withOwn.jobs[0]).to.include({ requestId: 'creator', callRequestId: 'call' });
    });

    it('names the field: jobs[1].status as a string is refused', () => {
      expect(
        parseErrorOf(() =>
          parseJobList({
            request_id: 'r',
            jobs: [
              { job_id: 'a', status: 2 },
              { job_id: 'b', status: '2' },
            ],
          }),
        ).field,
      ).to.equal('jobs[1].status');
      expect(
        parseErrorOf(() => parseJobList({ request_id: 'r', jobs: [{ job_id: 'a', status: 2, error_code: 3 }] })).field,
      ).to.equal('jobs[0].error_code');
    });
  });

  describe('error bodies, read as the Go SDK reads them', () => {
    it('takes error_code and error_msg when both are non-empty', () => {
      expect(parseErrorBody({ request_id: 'r', error_code: 'CPS.0005', error_msg: 'not found' })).to.deep.equal({
        requestId: 'r',
        errorCode: 'CPS.0005',
        errorMessage: 'not found',
      });
    });

    it('else code and message at the top level', () => {
      expect(parseErrorBody({ code: 'CPS.0001', message: 'no permission', error_code: 'CPS.0003' })).to.deep.equal({
        errorCode: 'CPS.0001',
        errorMessage: 'no permission',
      });
    });

    it('else the pair inside a nested object, at any depth up to 8', () => {
      expect(parseErrorBody({ error: { code: 'APIGW.0301', message: 'token expires' } })).to.deep.equal({
        errorCode: 'APIGW.0301',
        errorMessage: 'token expires',
      });
      expect(parseErrorBody({ a: { b: { error_code: 'CPS.0007', error_msg: 'frozen' } } })).to.deep.equal({
        errorCode: 'CPS.0007',
        errorMessage: 'frozen',
      });
      let deep: Record<string, unknown> = { code: 'X', message: 'too deep' };
      for (let i = 0; i < 10; i++) deep = { nested: deep };
      expect(parseErrorBody(deep)).to.deep.equal({});
    });

    it('takes no lone code or message, and no number as a code', () => {
      expect(parseErrorBody({ error_code: 'CPS.0005', error_msg: '' })).to.deep.equal({});
      expect(parseErrorBody({ code: 'CPS.0005' })).to.deep.equal({});
      expect(parseErrorBody({ error: { code: 401, message: 'The username or password is wrong.' } })).to.deep.equal({});
      expect(parseErrorBody('<html>')).to.deep.equal({});
      expect(parseErrorBody(undefined)).to.deep.equal({});
    });
  });

  it('IAM token body: expires_at in the documented form', () => {
    const t = parseIamToken({
      token: { expires_at: '2020-01-04T09:05:22.701000Z', issued_at: '2020-01-03T09:05:22.701000Z' },
    });
    expect(t.expiresAt).to.equal(Date.UTC(2020, 0, 4, 9, 5, 22, 701));
    expect(t.expiresAt - (t.issuedAt ?? 0)).to.equal(86_400_000);
    expect(parseErrorOf(() => parseIamToken({ token: { expires_at: 'soon' } })).field).to.equal('token.expires_at');
    expect(parseErrorOf(() => parseIamToken({})).field).to.equal('token');
  });
});
