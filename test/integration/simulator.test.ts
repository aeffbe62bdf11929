import { expect } from 'chai';
import { createRequire } from 'node:module';
import type { AkSkCredentials } from '../../src/cph/signer.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { admin, rawRequest, send } from './simulator-helpers.js';

// Huawei's own signer, from the official Node SDK (CommonJS).
const require = createRequire(import.meta.url);
const { AKSKSigner } = require('@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner') as {
  AKSKSigner: { sign(request: object, credential: object): Record<string, string> };
};
const { BasicCredentials } = require('@huaweicloud/huaweicloud-sdk-core') as {
  BasicCredentials: new () => { withAk(ak: string): { withSk(sk: string): object } };
};

const credentials: AkSkCredentials = { ak: 'AK', sk: 'SK' };
const project = 'P';

/** Documented field sets (../shared/cph-api.md sections 1 to 4, and the published examples). */
const phoneFields = [
  'availability_zone',
  'create_time',
  'has_encrypt',
  'image_id',
  'image_version',
  'imei',
  'metadata',
  'phone_id',
  'phone_model_name',
  'phone_name',
  'server_id',
  'status',
  'traffic_type',
  'type',
  'update_time',
  'vnc_enable',
  'volume_mode',
].sort();
const detailFields = [...phoneFields, 'access_infos', 'phone_data_volume', 'property', 'request_id'].sort();
const jobFields = [
  'begin_time',
  'end_time',
  'error_code',
  'error_msg',
  'execute_msg',
  'job_id',
  'phone_id',
  'server_id',
  'status',
].sort();
const cphTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Signs with the official SDK and sends exactly the bytes it hashed (JSON.stringify of `data`). */
async function sdkCall(
  sim: RunningSimulator,
  method: string,
  path: string,
  query?: Record<string, string>,
  data?: object,
) {
  const credential = new BasicCredentials().withAk(credentials.ak).withSk(credentials.sk);
  const headers = AKSKSigner.sign(
    { endpoint: sim.url + path, method, headers: { 'content-type': 'application/json' }, queryParams: query, data },
    credential,
  );
  const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
  return send(sim, new URL(path + qs, sim.url), method, headers, data === undefined ? '' : JSON.stringify(data));
}

describe('CPH simulator over HTTPS: acceptance and contract', () => {
  let sim: RunningSimulator;

  before(async () => {
    sim = await startSimulator({ tls: true, phones: 1000, seed: 7, projectId: project, ...credentials, jobMs: 50 });
  });
  after(() => sim.close());

  it('serves HTTPS with a CA it hands out', () => {
    expect(sim.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.caPem).to.contain('BEGIN CERTIFICATE');
  });

  it('accepts a ListCloudPhones, ImportTraffic, ListJobs round trip signed by the official Huawei SDK signer', async () => {
    const list = await sdkCall(sim, 'GET', `/v1/${project}/cloud-phone/phones`, { offset: '0', limit: '100' });
    expect(list.status, list.text).to.equal(200);
    expect(list.json.count).to.equal(1000);
    expect(list.json.phones).to.have.length(100);
    const phoneId: string = list.json.phones[0].phone_id;

    const write = await sdkCall(sim, 'POST', `/v1/${project}/cloud-phone/phones-traffic`, undefined, {
      traffic_type: 'routing',
      phone_ids: [phoneId],
    });
    expect(write.status, write.text).to.equal(200);
    expect(write.json.jobs).to.have.length(1);
    expect(write.json.jobs[0].phone_id).to.equal(phoneId);
    expect(write.json.jobs[0].job_id).to.match(/^[0-9a-f]{32}$/);

    const jobs = await sdkCall(sim, 'GET', `/v1/${project}/cloud-phone/jobs`, { request_id: write.json.request_id });
    expect(jobs.status, jobs.text).to.equal(200);
    expect(jobs.json.jobs.map((j: { job_id: string }) => j.job_id)).to.deep.equal([write.json.jobs[0].job_id]);

    const detail = await sdkCall(sim, 'GET', `/v1/${project}/cloud-phone/phones/${phoneId}`);
    expect(detail.status, detail.text).to.equal(200);
  });

  it('verifies SDK signatures over queries that need escaping (space, +, unicode, repeated keys)', async () => {
    for (const phoneName of ['pool a', 'pool+a', 'pölé', '-0001*~']) {
      const res = await sdkCall(sim, 'GET', `/v1/${project}/cloud-phone/phones`, { phone_name: phoneName, limit: '5' });
      expect(res.status, `${phoneName}: ${res.text}`).to.equal(200);
    }
    const ours = await rawRequest(sim, {
      path: `/v1/${project}/cloud-phone/jobs?request_ids=b,a&request_id=x&request_id=a%20b`,
      sign: credentials,
    });
    expect(ours.status, ours.text).to.equal(200);
  });

  it('refuses an unsigned request with 401 APIGW.0301', async () => {
    const res = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/phones` });
    expect(res.status).to.equal(401);
    expect(res.json.error_code).to.equal('APIGW.0301');
    expect(res.json.error_msg).to.contain('x-auth-token not found');
  });

  it('refuses a badly signed request with 401 APIGW.0301', async () => {
    const res = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/phones`, sign: { ak: 'AK2', sk: 'wrong' } });
    expect(res.status).to.equal(401);
    expect(res.json.error_code).to.equal('APIGW.0301');
    expect(res.json.error_msg).to.contain('verify aksk signature fail');
  });

  it('refuses 101 IDs with 400 and 0 IDs with CPS.0009', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => i.toString(16).padStart(32, '0'));
    const tooMany = await rawRequest(sim, {
      method: 'POST',
      path: `/v1/${project}/cloud-phone/phones-traffic`,
      body: { traffic_type: 'routing', phone_ids: ids },
      sign: credentials,
    });
    expect(tooMany.status).to.equal(400);
    expect(tooMany.json).to.include({ error_code: 'APIGW.0201' });
    expect(tooMany.json.error_msg).to.contain('at most 100');
    const none = await rawRequest(sim, {
      method: 'POST',
      path: `/v1/${project}/cloud-phone/phones-traffic`,
      body: { traffic_type: 'routing', phone_ids: [] },
      sign: credentials,
    });
    expect(none.status).to.equal(400);
    expect(none.json.error_code).to.equal('CPS.0009');
  });

  it('reports an unknown phone as a per-phone CPS.0005 entry inside a 200', async () => {
    const res = await rawRequest(sim, {
      method: 'POST',
      path: `/v1/${project}/cloud-phone/phones-traffic`,
      body: { traffic_type: 'routing', phone_ids: ['0123456789abcdef0123456789abcdef'] },
      sign: credentials,
    });
    expect(res.status).to.equal(200);
    expect(res.json.jobs).to.deep.equal([
      {
        phone_id: '0123456789abcdef0123456789abcdef',
        error_code: 'CPS.0005',
        error_msg: 'Phone 0123456789abcdef0123456789abcdef not found',
      },
    ]);
  });

  it('renders ListCloudPhones with exactly the documented fields', async () => {
    const res = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/phones?limit=3`, sign: credentials });
    expect(Object.keys(res.json).sort()).to.deep.equal(['count', 'phones', 'request_id']);
    expect(res.json.request_id).to.equal(res.headers['x-request-id']);
    for (const phone of res.json.phones) {
      expect(Object.keys(phone).sort()).to.deep.equal(phoneFields);
      expect(phone.phone_id).to.match(/^[0-9a-f]{32}$/);
      expect(phone.phone_name.length).to.be.at.most(65);
      expect(phone.vnc_enable).to.be.oneOf(['true', 'false']);
      expect(phone.status).to.equal(2);
      expect(phone.type).to.be.a('number');
      expect(phone.volume_mode).to.be.oneOf([0, 1]);
      expect(phone.has_encrypt).to.be.a('boolean');
      expect(Object.keys(phone.metadata).sort()).to.deep.equal(['order_id', 'product_id']);
      expect(phone.create_time).to.match(cphTime);
      expect(phone.update_time).to.match(cphTime);
    }
  });

  it('renders ShowCloudPhoneDetail with the phone fields plus request_id, access_infos, property, phone_data_volume', async () => {
    const list = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/phones?limit=1`, sign: credentials });
    const res = await rawRequest(sim, {
      path: `/v1/${project}/cloud-phone/phones/${list.json.phones[0].phone_id}`,
      sign: credentials,
    });
    expect(res.status).to.equal(200);
    expect(Object.keys(res.json).sort()).to.deep.equal(detailFields);
    expect(res.json.request_id).to.equal(res.headers['x-request-id']);
    expect(res.json.access_infos).to.be.an('array').that.is.not.empty;
    expect(() => JSON.parse(res.json.property)).not.to.throw();
  });

  it('renders ImportTraffic like the published example: request_id and jobs of phone_id and job_id', async () => {
    const list = await rawRequest(sim, {
      path: `/v1/${project}/cloud-phone/phones?limit=1&offset=500`,
      sign: credentials,
    });
    const phoneId = list.json.phones[0].phone_id;
    const res = await rawRequest(sim, {
      method: 'POST',
      path: `/v1/${project}/cloud-phone/phones-traffic`,
      body: { traffic_type: 'routing', phone_ids: [phoneId] },
      sign: credentials,
    });
    expect(Object.keys(res.json).sort()).to.deep.equal(['jobs', 'request_id']);
    expect(res.json.request_id).to.equal(res.headers['x-request-id']);
    expect(Object.keys(res.json.jobs[0]).sort()).to.deep.equal(['job_id', 'phone_id']);
  });

  it('renders ShowJob with null and ListJobs with "" for absent error fields, as the two examples do', async () => {
    const list = await rawRequest(sim, {
      path: `/v1/${project}/cloud-phone/phones?limit=1&offset=600`,
      sign: credentials,
    });
    const phoneId = list.json.phones[0].phone_id;
    const write = await rawRequest(sim, {
      method: 'POST',
      path: `/v1/${project}/cloud-phone/phones-traffic`,
      body: { traffic_type: 'routing', phone_ids: [phoneId] },
      sign: credentials,
    });
    const jobId = write.json.jobs[0].job_id;
    const deadline = Date.now() + 10_000;
    let shown = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/jobs/${jobId}`, sign: credentials });
    while (shown.json.status === 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      shown = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/jobs/${jobId}`, sign: credentials });
    }
    expect(Object.keys(shown.json).sort()).to.deep.equal([...jobFields, 'request_id'].sort());
    expect(shown.json).to.include({
      job_id: jobId,
      phone_id: phoneId,
      status: 2,
      error_code: null,
      error_msg: null,
      execute_msg: null,
    });
    expect(shown.json.begin_time).to.match(cphTime);
    expect(shown.json.end_time).to.match(cphTime);

    const listed = await rawRequest(sim, {
      path: `/v1/${project}/cloud-phone/jobs?request_id=${write.json.request_id}`,
      sign: credentials,
    });
    expect(Object.keys(listed.json).sort()).to.deep.equal(['jobs', 'request_id']);
    expect(Object.keys(listed.json.jobs[0]).sort()).to.deep.equal(jobFields);
    expect(listed.json.jobs[0]).to.include({ status: 2, error_code: '', error_msg: '', execute_msg: '' });

    const phone = await admin(sim, 'GET', `/_sim/phones/${phoneId}`);
    expect(phone.traffic_type).to.equal('routing');
  });

  it('answers the published ImportTraffic example request with a job for its phone', async () => {
    const example = await startSimulator({
      phones: 10,
      seed: 1,
      projectId: project,
      ...credentials,
      fixedPhoneIds: ['631056bfb66b4f4ea02ba25f04830cb4'],
    });
    try {
      // The request body exactly as published, bytes included.
      const body = '{\n  "traffic_type" : "routing",\n  "phone_ids" : [ "631056bfb66b4f4ea02ba25f04830cb4" ]\n}';
      const res = await rawRequest(example, {
        method: 'POST',
        path: `/v1/${project}/cloud-phone/phones-traffic`,
        body,
        sign: credentials,
      });
      expect(res.status).to.equal(200);
      expect(Object.keys(res.json).sort()).to.deep.equal(['jobs', 'request_id']);
      expect(res.json.jobs).to.have.length(1);
      expect(Object.keys(res.json.jobs[0]).sort()).to.deep.equal(['job_id', 'phone_id']);
      expect(res.json.jobs[0].phone_id).to.equal('631056bfb66b4f4ea02ba25f04830cb4');
      expect(res.json.request_id).to.match(/^[0-9a-f]{32}$/);
    } finally {
      await example.close();
    }
  });

  it('renders errors as { request_id, error_code, error_msg } with the same X-Request-Id', async () => {
    const res = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/phones?limit=0`, sign: credentials });
    expect(res.status).to.equal(400);
    expect(Object.keys(res.json).sort()).to.deep.equal(['error_code', 'error_msg', 'request_id']);
    expect(res.json.error_code).to.equal('CPS.0002');
    expect(res.json.request_id).to.equal(res.headers['x-request-id']);
  });
});
