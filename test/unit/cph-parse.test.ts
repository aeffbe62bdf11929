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
      expect(p).to.include({ phoneId: '631056bfb66b4f4ea02ba25f04830cb4', phoneName: 'pool-a-1', serverId: 'srv1', status: 2, trafficType: 'routing', vncEnable: true, hasEncrypt: false, type: 0 });
      expect(p?.metadata).to.deep.equal({ orderId: 'o', productId: 'p' });
    });

    it('tolerates extra fields and missing optional ones', () => {
      const list = parsePhoneList({ count: 1, phones: [{ phone_id: 'a', phone_name: 'n', server_id: 's', status: 8, extra: { x: 1 } }], new_top_level: true });
      expect(list.requestId).to.equal(undefined);
      expect(list.phones[0]?.trafficType).to.equal(undefined);
      expect(list.phones[0]?.metadata).to.equal(undefined);
    });

    it('names the field of the phone with a wrong type', () => {
      const err = parseErrorOf(() => parsePhoneList({ count: 2, phones: [phone(), phone({ status: '2' })] }));
      expect(err.field).to.equal('phones[1].status');
    });

    it('refuses an unknown traffic_type, naming the field', () => {
      expect(parseErrorOf(() => parsePhoneList({ count: 1, phones: [phone({ traffic_type: 'tunnel' })] })).field).to.equal('phones[0].traffic_type');
    });

    it('refuses a missing phone_id, a missing count, a non-array phones, a non-object body', () => {
      expect(parseErrorOf(() => parsePhoneList({ count: 1, phones: [phone({ phone_id: undefined })] })).field).to.equal('phones[0].phone_id');
      expect(parseErrorOf(() => parsePhoneList({ phones: [] })).field).to.equal('count');
      expect(parseErrorOf(() => parsePhoneList({ count: 0, phones: {} })).field).to.equal('phones');
      expect(parseErrorOf(() => parsePhoneList([])).field).to.equal('(body)');
      expect(parseErrorOf(() => parsePhoneList({ count: 1.5, phones: [] })).field).to.equal('count');
    });

    it('refuses vnc_enable that is neither "true" nor "false", and a non-object metadata', () => {
      expect(parseErrorOf(() => parsePhoneList({ count: 1, phones: [phone({ vnc_enable: 'yes' })] })).field).to.equal('phones[0].vnc_enable');
      expect(parseErrorOf(() => parsePhoneList({ count: 1, phones: [phone({ metadata: 'x' })] })).field).to.equal('phones[0].metadata');
      expect(parseErrorOf(() => parsePhoneList({ count: 1, phones: [phone({ metadata: { order_id: 5 } })] })).field).to.equal('phones[0].metadata.order_id');
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

    it('reports a sent phone the answer left out as NoJobReturned', () => {
      const result = parseTrafficResponse({ request_id: 'req', jobs: [{ phone_id: 'a', job_id: 'j1' }] }, ['a', 'b']);
      expect(result.errors).to.deep.equal([{ phoneId: 'b', errorCode: 'NoJobReturned', errorMessage: 'the phone was sent but the answer holds no job or error for it' }]);
    });

    it('names jobs[i].job_id when an entry has neither job nor error', () => {
      const err = parseErrorOf(() => parseTrafficResponse({ request_id: 'r', jobs: [{ phone_id: 'a', job_id: 'j' }, { phone_id: 'b', job_id: 'j' }, { phone_id: 'c', job_id: 'j' }, { phone_id: 'd', job_id: '' }] }));
      expect(err.field).to.equal('jobs[3].job_id');
    });

    it('refuses a wrong type for job_id and a missing request_id', () => {
      expect(parseErrorOf(() => parseTrafficResponse({ request_id: 'r', jobs: [{ phone_id: 'a', job_id: 7 }] })).field).to.equal('jobs[0].job_id');
      expect(parseErrorOf(() => parseTrafficResponse({ jobs: [] })).field).to.equal('request_id');
      expect(parseErrorOf(() => parseTrafficResponse({ request_id: 'r', jobs: [{ job_id: 'j' }] })).field).to.equal('jobs[0].phone_id');
    });
  });

  describe('jobs', () => {
    it('ShowJob: null error fields read as undefined; status codes get names', () => {
      const job = parseShowJob({ request_id: 'r', job_id: 'j', begin_time: '2024-01-01T00:00:00Z', end_time: null, status: 1, phone_id: 'p', server_id: 's', error_code: null, error_msg: null, execute_msg: null });
      expect(job).to.include({ jobId: 'j', status: 'running', statusCode: 1, errorCode: undefined, errorMessage: undefined, endTime: undefined });
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
      expect(parseErrorOf(() => parseJobList({ request_id: 'r', jobs: [{ job_id: 'a', status: 2 }, { job_id: 'b', status: '2' }] })).field).to.equal('jobs[1].status');
      expect(parseErrorOf(() => parseJobList({ request_id: 'r', jobs: [{ job_id: 'a', status: 2, error_code: 3 }] })).field).to.equal('jobs[0].error_code');
    });
  });

  it('error bodies: CPH form, the Go SDK nested form, garbage', () => {
    expect(parseErrorBody({ request_id: 'r', error_code: 'CPS.0005', error_msg: 'not found' })).to.deep.equal({ requestId: 'r', errorCode: 'CPS.0005', errorMessage: 'not found' });
    expect(parseErrorBody({ error: { code: 'APIGW.0301', message: 'token expires' } })).to.deep.equal({ errorCode: 'APIGW.0301', errorMessage: 'token expires' });
    expect(parseErrorBody({ error: { code: 401, message: 'The username or password is wrong.', title: 'Unauthorized' } })).to.deep.equal({ errorCode: '401', errorMessage: 'The username or password is wrong.' });
    expect(parseErrorBody('<html>')).to.deep.equal({});
    expect(parseErrorBody(undefined)).to.deep.equal({});
  });

  it('IAM token body: expires_at in the documented form', () => {
    const t = parseIamToken({ token: { expires_at: '2020-01-04T09:05:22.701000Z', issued_at: '2020-01-03T09:05:22.701000Z' } });
    expect(t.expiresAt).to.equal(Date.UTC(2020, 0, 4, 9, 5, 22, 701));
    expect(t.expiresAt - (t.issuedAt ?? 0)).to.equal(86_400_000);
    expect(parseErrorOf(() => parseIamToken({ token: { expires_at: 'soon' } })).field).to.equal('token.expires_at');
    expect(parseErrorOf(() => parseIamToken({})).field).to.equal('token');
  });
});
