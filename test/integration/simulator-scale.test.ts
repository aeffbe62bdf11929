import { expect } from 'chai';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { admin, rawRequest } from './simulator-helpers.js';

const project = 'P';
const key = { ak: 'AK', sk: 'SK' };

// 100,000 phones: checks behaviour at that size (no timing assertions; figures are in docs/cph-simulator.md).
describe('CPH simulator at 100,000 phones', () => {
  let sim: RunningSimulator;

  before(async () => {
    sim = await startSimulator({ phones: 100_000, seed: 7, projectId: project, ...key, rateLimit: 0, jobMs: 0 });
  });
  after(() => sim.close());

  it('pages to the last phone, filters by server and name, and changes a route', async () => {
    const last = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/phones?offset=99900&limit=200`, sign: key });
    expect(last.json.count).to.equal(100_000);
    expect(last.json.phones).to.have.length(100);
    expect(last.json.phones[99].phone_name).to.equal('pool-a-000001');
    const server = last.json.phones[0].server_id;
    const onServer = await rawRequest(sim, {
      path: `/v1/${project}/cloud-phone/phones?server_id=${server}`,
      sign: key,
    });
    expect(onServer.json.count).to.equal(8);
    const named = await rawRequest(sim, {
      path: `/v1/${project}/cloud-phone/phones?phone_name=pool-d-&offset=24900&limit=200`,
      sign: key,
    });
    expect(named.json.count).to.equal(25_000);
    expect(named.json.phones).to.have.length(100);
    const phoneId = named.json.phones[0].phone_id;
    const write = await rawRequest(sim, {
      method: 'POST',
      path: `/v1/${project}/cloud-phone/phones-traffic`,
      body: { traffic_type: 'routing', phone_ids: [phoneId] },
      sign: key,
    });
    expect(write.json.jobs[0].job_id).to.match(/^[0-9a-f]{32}$/);
    expect((await admin(sim, 'GET', `/_sim/phones/${phoneId}`)).traffic_type).to.equal('routing');
  });
});
