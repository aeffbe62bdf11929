import { expect } from 'chai';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { admin, ManualClock, rawRequest } from './simulator-helpers.js';

const project = 'P';
const key = { ak: 'AK', sk: 'SK' };

interface SimPhoneView {
  phone_id: string;
  phone_name: string;
  server_id: string;
  status: number;
  traffic_type: string;
}

describe('CPH simulator: phones, routes and jobs', () => {
  let sim: RunningSimulator;
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 8, 0, 0));
  let phones: SimPhoneView[];
  const get = (path: string) => rawRequest(sim, { path, sign: key, date: new Date(clock.now()) });
  const post = (path: string, body: object) =>
    rawRequest(sim, { method: 'POST', path, body, sign: key, date: new Date(clock.now()) });
  const traffic = (trafficType: string, ids: string[]) =>
    post(`/v1/${project}/cloud-phone/phones-traffic`, { traffic_type: trafficType, phone_ids: ids });

  before(async () => {
    sim = await startSimulator({ phones: 250, seed: 11, projectId: project, ...key, clock, jobMs: 6000, rateLimit: 0 });
    phones = (await admin(sim, 'GET', '/_sim/phones')).phones;
  });
  after(() => sim.close());
  beforeEach(async () => {
    await admin(sim, 'POST', '/_sim/readings', {
      jobErrorFields: 'documented',
      notFoundStatus: 404,
      maxListLimit: 200,
      restartOnRouteChange: false,
      refuseNotRunning: false,
      repeatCreatesJob: true,
    });
    await admin(sim, 'POST', '/_sim/faults', { jobFailureRate: 0, jobMs: 6000 });
    await admin(sim, 'POST', '/_sim/counters/reset');
  });

  describe('ListCloudPhones', () => {
    it('pages newest first with count = total, and accepts limit 1..200', async () => {
      const seen: string[] = [];
      for (let offset = 0; offset < 250; offset += 100) {
        const res = await get(`/v1/${project}/cloud-phone/phones?offset=${offset}&limit=100`);
        expect(res.status).to.equal(200);
        expect(res.json.count).to.equal(250);
        seen.push(...res.json.phones.map((p: { phone_id: string }) => p.phone_id));
      }
      expect(seen).to.deep.equal(phones.map((p) => p.phone_id));
      expect(new Set(seen).size).to.equal(250);
      const first = await get(`/v1/${project}/cloud-phone/phones?limit=200`);
      const times = first.json.phones.map((p: { create_time: string }) => Date.parse(p.create_time));
      expect(times).to.deep.equal([...times].sort((a, b) => b - a));
      expect((await get(`/v1/${project}/cloud-phone/phones`)).json.phones).to.have.length(100);
      expect((await get(`/v1/${project}/cloud-phone/phones?offset=300`)).json).to.include({ count: 250 });
    });

    it('refuses bad offset or limit with CPS.0002, and limit 101 under the Go SDK reading', async () => {
      for (const query of ['limit=0', 'limit=201', 'limit=abc', 'offset=-1', 'offset=1.5']) {
        const res = await get(`/v1/${project}/cloud-phone/phones?${query}`);
        expect(res.status, query).to.equal(400);
        expect(res.json.error_code, query).to.equal('CPS.0002');
      }
      await admin(sim, 'POST', '/_sim/readings', { maxListLimit: 100 });
      expect((await get(`/v1/${project}/cloud-phone/phones?limit=101`)).json.error_code).to.equal('CPS.0002');
      expect((await get(`/v1/${project}/cloud-phone/phones?limit=100`)).status).to.equal(200);
    });

    it('filters by fuzzy phone_name, server_id, status and type, counting all matches', async () => {
      const poolA = phones.filter((p) => p.phone_name.startsWith('pool-a-'));
      expect(poolA.length).to.be.greaterThan(0).and.lessThan(250);
      const byName = await get(`/v1/${project}/cloud-phone/phones?phone_name=pool-a-&limit=10`);
      expect(byName.json.count).to.equal(poolA.length);
      expect(byName.json.phones.map((p: SimPhoneView) => p.phone_id)).to.deep.equal(
        poolA.slice(0, 10).map((p) => p.phone_id),
      );
      const fuzzy = await get(`/v1/${project}/cloud-phone/phones?phone_name=${encodeURIComponent('-0012')}`);
      expect(fuzzy.json.count).to.equal(phones.filter((p) => p.phone_name.includes('-0012')).length);

      const server = phones[0]!.server_id;
      const onServer = phones.filter((p) => p.server_id === server);
      expect(onServer.length).to.be.greaterThan(1);
      const byServer = await get(`/v1/${project}/cloud-phone/phones?server_id=${server}`);
      expect(byServer.json.count).to.equal(onServer.length);

      await admin(sim, 'POST', `/_sim/phones/${phones[5]!.phone_id}/status`, { status: 8 });
      const stopped = await get(`/v1/${project}/cloud-phone/phones?status=8`);
      expect(stopped.json.phones.map((p: SimPhoneView) => p.phone_id)).to.deep.equal([phones[5]!.phone_id]);
      await admin(sim, 'POST', `/_sim/phones/${phones[5]!.phone_id}/status`, { status: 2 });
      expect((await get(`/v1/${project}/cloud-phone/phones?status=99`)).json.error_code).to.equal('CPS.0010');
      expect((await get(`/v1/${project}/cloud-phone/phones?type=1`)).json.count).to.equal(0);
      expect((await get(`/v1/${project}/cloud-phone/phones?type=0`)).json.count).to.equal(250);
      expect((await get(`/v1/${project}/cloud-phone/phones?server_id=${'x'.repeat(65)}`)).json.error_code).to.equal(
        'CPS.0016',
      );
    });
  });

  describe('ShowCloudPhoneDetail', () => {
    it('gives 404 CPS.0005 for an unknown phone (400 under the older reading) and 400 CPS.0004 for a malformed ID', async () => {
      const unknown = await get(`/v1/${project}/cloud-phone/phones/ffffffffffffffffffffffffffffffff`);
      expect(unknown.status).to.equal(404);
      expect(unknown.json.error_code).to.equal('CPS.0005');
      await admin(sim, 'POST', '/_sim/readings', { notFoundStatus: 400 });
      expect((await get(`/v1/${project}/cloud-phone/phones/ffffffffffffffffffffffffffffffff`)).status).to.equal(400);
      const malformed = await get(`/v1/${project}/cloud-phone/phones/${'a'.repeat(33)}`);
      expect(malformed.status).to.equal(400);
      expect(malformed.json.error_code).to.equal('CPS.0004');
    });
  });

  describe('ImportTraffic and jobs', () => {
    it('runs a job for jobMs, then changes the route; ShowJob and ListJobs follow it', async () => {
      const phone = phones[10]!;
      const write = await traffic('routing', [phone.phone_id]);
      const jobId = write.json.jobs[0].job_id;
      const running = await get(`/v1/${project}/cloud-phone/jobs/${jobId}`);
      expect(running.json).to.include({
        status: 1,
        end_time: null,
        phone_id: phone.phone_id,
        server_id: phone.server_id,
      });
      expect((await admin(sim, 'GET', `/_sim/phones/${phone.phone_id}`)).traffic_type).to.equal('direct');
      clock.advance(5999);
      expect((await get(`/v1/${project}/cloud-phone/jobs/${jobId}`)).json.status).to.equal(1);
      clock.advance(1);
      const done = await get(`/v1/${project}/cloud-phone/jobs/${jobId}`);
      expect(done.json.status).to.equal(2);
      expect(Date.parse(done.json.end_time) - Date.parse(done.json.begin_time)).to.equal(6000);
      const detail = await get(`/v1/${project}/cloud-phone/phones/${phone.phone_id}`);
      expect(detail.json.traffic_type).to.equal('routing');
      expect(Date.parse(detail.json.update_time)).to.equal(Math.floor(clock.now() / 1000) * 1000);
      const counters = await admin(sim, 'GET', '/_sim/counters');
      expect(counters.routeWrites.byPhone[phone.phone_id]).to.equal(1);
    });

    it('fails jobs per jobFailureRate and leaves the route unchanged', async () => {
      await admin(sim, 'POST', '/_sim/faults', { jobFailureRate: 1 });
      const phone = phones[11]!;
      const write = await traffic('routing', [phone.phone_id]);
      clock.advance(6000);
      const listed = await get(`/v1/${project}/cloud-phone/jobs?request_id=${write.json.request_id}`);
      expect(listed.json.jobs[0]).to.include({ status: -1, error_code: 'CPS.0003' });
      expect(listed.json.jobs[0].error_msg).to.be.a('string').and.not.be.empty;
      expect((await admin(sim, 'GET', `/_sim/phones/${phone.phone_id}`)).traffic_type).to.equal('direct');
    });

    it('mixes jobs and per-phone errors in one 200: unknown CPS.0005, malformed CPS.0004', async () => {
      const res = await traffic('routing', [
        phones[12]!.phone_id,
        'ffffffffffffffffffffffffffffffff',
        'not a phone id!',
      ]);
      expect(res.status).to.equal(200);
      expect(res.json.jobs.map((j: { error_code?: string }) => j.error_code ?? 'job')).to.deep.equal([
        'job',
        'CPS.0005',
        'CPS.0004',
      ]);
    });

    it('renders absent fields as null or "" everywhere under the other readings', async () => {
      await admin(sim, 'POST', '/_sim/readings', { jobErrorFields: 'null' });
      const a = await traffic('routing', [phones[13]!.phone_id, 'ffffffffffffffffffffffffffffffff']);
      expect(a.json.jobs[0]).to.include({ error_code: null, error_msg: null });
      expect(a.json.jobs[1]).to.include({ job_id: null, error_code: 'CPS.0005' });
      expect(
        (await get(`/v1/${project}/cloud-phone/jobs?request_id=${a.json.request_id}`)).json.jobs[0].error_code,
      ).to.equal(null);
      await admin(sim, 'POST', '/_sim/readings', { jobErrorFields: 'empty' });
      const shown = await get(`/v1/${project}/cloud-phone/jobs/${a.json.jobs[0].job_id}`);
      expect(shown.json).to.include({ error_code: '', error_msg: '', execute_msg: '' });
    });

    it('refuses bad bodies: invalid traffic_type, not JSON, ids not strings', async () => {
      expect((await traffic('sideways', [phones[0]!.phone_id])).status).to.equal(400);
      expect(
        (await post(`/v1/${project}/cloud-phone/phones-traffic`, { traffic_type: 'direct', phone_ids: [1] })).status,
      ).to.equal(400);
      const notJson = await rawRequest(sim, {
        method: 'POST',
        path: `/v1/${project}/cloud-phone/phones-traffic`,
        body: '{',
        sign: key,
        date: new Date(clock.now()),
      });
      expect(notJson.status).to.equal(400);
      expect(notJson.json.error_code).to.equal('APIGW.0201');
    });

    it('counts a request for the current route as a costly repeat (a real job), or finishes it at once under the other reading', async () => {
      const phone = phones[14]!;
      const repeat = await traffic('direct', [phone.phone_id]);
      let counters = await admin(sim, 'GET', '/_sim/counters');
      expect(counters.costlyRepeats.total).to.equal(1);
      expect(counters.costlyRepeats.byPhone[phone.phone_id]).to.equal(1);
      expect((await get(`/v1/${project}/cloud-phone/jobs/${repeat.json.jobs[0].job_id}`)).json.status).to.equal(1);
      clock.advance(6000);
      await admin(sim, 'POST', '/_sim/readings', { repeatCreatesJob: false });
      const instant = await traffic('direct', [phone.phone_id]);
      expect((await get(`/v1/${project}/cloud-phone/jobs/${instant.json.jobs[0].job_id}`)).json.status).to.equal(2);
      counters = await admin(sim, 'GET', '/_sim/counters');
      expect(counters.costlyRepeats.total).to.equal(2);
    });

    it('shows status 4 while a route job runs when a route change restarts the phone', async () => {
      await admin(sim, 'POST', '/_sim/readings', { restartOnRouteChange: true });
      const phone = phones[15]!;
      await traffic('routing', [phone.phone_id]);
      expect((await get(`/v1/${project}/cloud-phone/phones/${phone.phone_id}`)).json.status).to.equal(4);
      clock.advance(6000);
      const after = (await get(`/v1/${project}/cloud-phone/phones/${phone.phone_id}`)).json;
      expect(after).to.include({ status: 2, traffic_type: 'routing' });
    });

    it('refuses phones that are not running with a per-phone error when that reading is on', async () => {
      await admin(sim, 'POST', '/_sim/readings', { refuseNotRunning: true });
      const phone = phones[16]!;
      await admin(sim, 'POST', `/_sim/phones/${phone.phone_id}/status`, { status: 8 });
      const res = await traffic('routing', [phone.phone_id, phones[17]!.phone_id]);
      expect(res.status).to.equal(200);
      expect(res.json.jobs[0]).to.include({ phone_id: phone.phone_id, error_code: 'CPS.0012' });
      expect(res.json.jobs[1].job_id).to.match(/^[0-9a-f]{32}$/);
      await admin(sim, 'POST', `/_sim/phones/${phone.phone_id}/status`, { status: 2 });
    });

    it('lists jobs of up to 20 request IDs with offset and limit, and refuses 21 or none', async () => {
      const requestIds: string[] = [];
      for (let i = 0; i < 3; i++)
        requestIds.push(
          (await traffic('routing', [phones[20 + 2 * i]!.phone_id, phones[21 + 2 * i]!.phone_id])).json.request_id,
        );
      const all = await get(`/v1/${project}/cloud-phone/jobs?request_ids=${requestIds.join(',')}&request_id=ignored`);
      expect(all.json.jobs).to.have.length(6);
      const page = await get(`/v1/${project}/cloud-phone/jobs?request_ids=${requestIds.join(',')}&offset=2&limit=3`);
      expect(page.json.jobs.map((j: { job_id: string }) => j.job_id)).to.deep.equal(
        all.json.jobs.slice(2, 5).map((j: { job_id: string }) => j.job_id),
      );
      const many = Array.from({ length: 21 }, (_, i) => i.toString(16).padStart(32, '0')).join(',');
      expect((await get(`/v1/${project}/cloud-phone/jobs?request_ids=${many}`)).status).to.equal(400);
      expect((await get(`/v1/${project}/cloud-phone/jobs`)).status).to.equal(400);
      expect(
        (await get(`/v1/${project}/cloud-phone/jobs?request_id=${requestIds[0]}&limit=101`)).json.error_code,
      ).to.equal('CPS.0002');
      expect((await get(`/v1/${project}/cloud-phone/jobs/ffffffffffffffffffffffffffffffff`)).json.error_code).to.equal(
        'CPS.0005',
      );
    });
  });

  describe('admin API', () => {
    it('drifts a route out of band without a job, and the API shows it', async () => {
      const phone = phones[30]!;
      await admin(sim, 'POST', `/_sim/phones/${phone.phone_id}/traffic`, { traffic_type: 'routing' });
      expect((await get(`/v1/${project}/cloud-phone/phones/${phone.phone_id}`)).json.traffic_type).to.equal('routing');
      const counters = await admin(sim, 'GET', '/_sim/counters');
      expect(counters.byOperation.ImportTraffic.total).to.equal(0);
      expect(counters.byOperation.ShowCloudPhoneDetail).to.deep.equal({ total: 1, byStatus: { '200': 1 } });
    });

    it('drifts many phones at once by prefix or IDs', async () => {
      const byPrefix = await admin(sim, 'POST', '/_sim/traffic', {
        traffic_type: 'routing',
        phone_name_prefix: 'pool-c-',
      });
      const poolC = phones.filter((p) => p.phone_name.startsWith('pool-c-'));
      expect(byPrefix.matched).to.equal(poolC.length);
      const listed = await get(`/v1/${project}/cloud-phone/phones?phone_name=pool-c-&limit=200`);
      expect(listed.json.phones.every((p: SimPhoneView) => p.traffic_type === 'routing')).to.equal(true);
      const back = await admin(sim, 'POST', '/_sim/traffic', {
        traffic_type: 'direct',
        phone_ids: [...poolC.map((p) => p.phone_id), 'ffffffffffffffffffffffffffffffff'],
      });
      expect(back).to.deep.equal({
        matched: poolC.length,
        changed: poolC.length,
        unknown: 1,
        request_id: back.request_id,
      });
    });

    it('logs every ImportTraffic call with identity, phones and request_id, and flags overlapping writers', async () => {
      const phone = phones[40]!;
      const first = await traffic('routing', [phone.phone_id]);
      const second = await rawRequest(sim, {
        method: 'POST',
        path: `/v1/${project}/cloud-phone/phones-traffic`,
        body: { traffic_type: 'direct', phone_ids: [phone.phone_id] },
        sign: { ak: 'AK', sk: 'SK' },
        headers: { 'User-Agent': 'replica-2' },
        date: new Date(clock.now()),
      });
      const { writes } = await admin(sim, 'GET', '/_sim/writes');
      expect(writes.map((w: { requestId: string }) => w.requestId)).to.deep.equal([
        first.json.request_id,
        second.json.request_id,
      ]);
      expect(writes[0]).to.include({ identity: 'ak:AK', trafficType: 'routing', jobs: 1, errors: 0 });
      expect(writes[0].phoneIds).to.deep.equal([phone.phone_id]);
      expect(writes[1].userAgent).to.equal('replica-2');
      expect((await admin(sim, 'GET', `/_sim/writes?since=${writes[0].seq}`)).writes).to.have.length(1);
      // Same identity twice: not an overlap of two writers.
      expect((await admin(sim, 'GET', '/_sim/counters')).overlappingWrites.total).to.equal(0);
      clock.advance(6000);
    });
  });
});
