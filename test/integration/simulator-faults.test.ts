import { expect } from 'chai';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { admin, ManualClock, rawRequest } from './simulator-helpers.js';

const project = 'P';
const key = { ak: 'AK', sk: 'SK' };
const listPath = `/v1/${project}/cloud-phone/phones?limit=5`;

describe('CPH simulator: faults, throttling and determinism', () => {
  const started: RunningSimulator[] = [];
  const start = async (options: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> => {
    const sim = await startSimulator({ phones: 100, seed: 5, projectId: project, ...key, ...options });
    started.push(sim);
    return sim;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((sim) => sim.close()));
  });

  it('answers 500 CPS.0003, 503 and 429 APIGW.0308 with Retry-After as the fault mix says', async () => {
    const sim = await start({ faultRate: 1, faultKinds: ['500'] });
    const e500 = await rawRequest(sim, { path: listPath, sign: key });
    expect(e500.status).to.equal(500);
    expect(e500.json).to.include({ error_code: 'CPS.0003' });
    expect(e500.json.request_id).to.equal(e500.headers['x-request-id']);
    await admin(sim, 'POST', '/_sim/faults', { faultKinds: ['503'] });
    expect((await rawRequest(sim, { path: listPath, sign: key })).status).to.equal(503);
    await admin(sim, 'POST', '/_sim/faults', { faultKinds: ['429'], retryAfterSeconds: 3 });
    const e429 = await rawRequest(sim, { path: listPath, sign: key });
    expect(e429.status).to.equal(429);
    expect(e429.json.error_code).to.equal('APIGW.0308');
    expect(e429.headers['retry-after']).to.equal('3');
    // Faults never touch the admin API.
    expect((await admin(sim, 'GET', '/_sim/health')).ok).to.equal(true);
    const counters = await admin(sim, 'GET', '/_sim/counters');
    expect(counters.byOperation.ListCloudPhones.byStatus).to.deep.equal({ '500': 1, '503': 1, '429': 1 });
    expect(counters.faults).to.deep.equal({ '500': 1, '503': 1, '429': 1 });
  });

  it('resets connections, and holds requests unanswered for the timeout fault', async () => {
    const sim = await start({ faultRate: 1, faultKinds: ['reset'] });
    const reset = await rawRequest(sim, { path: listPath, sign: key }).then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code ?? err.message,
    );
    expect(reset).to.be.oneOf(['ECONNRESET', 'socket hang up']);

    await admin(sim, 'POST', '/_sim/faults', { faultKinds: ['timeout'] });
    const abort = new AbortController();
    const pending = rawRequest(sim, { path: listPath, sign: key, signal: abort.signal }).then(
      () => 'answered',
      (err: Error) => err.name,
    );
    // Wait until the simulator holds the request, then give up as a client would.
    const deadline = Date.now() + 10_000;
    while ((await admin(sim, 'GET', '/_sim/counters')).faults.timeout !== 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    abort.abort();
    expect(await pending).to.equal('AbortError');
    const counters = await admin(sim, 'GET', '/_sim/counters');
    expect(counters.byOperation.ListCloudPhones.byStatus).to.deep.equal({ reset: 1, timeout: 1 });
  });

  it('closes cleanly while a timeout fault holds a request', async () => {
    const sim = await start({ faultRate: 1, faultKinds: ['timeout'] });
    const pending = rawRequest(sim, { path: listPath, sign: key }).then(
      () => 'answered',
      () => 'failed',
    );
    const deadline = Date.now() + 10_000;
    while ((await admin(sim, 'GET', '/_sim/counters')).faults.timeout !== 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    await sim.close();
    expect(await pending).to.equal('failed');
  });

  it('loses the answer of a request that took effect (opt-in fault kind lost)', async () => {
    const sim = await start({ jobMs: 60_000 });
    const { phones } = await admin(sim, 'GET', '/_sim/phones?limit=1');
    await admin(sim, 'POST', '/_sim/faults', { faultRate: 1, faultKinds: ['lost'] });
    const outcome = await rawRequest(sim, {
      method: 'POST',
      path: `/v1/${project}/cloud-phone/phones-traffic`,
      body: { traffic_type: 'routing', phone_ids: [phones[0].phone_id] },
      sign: key,
    }).then(
      () => 'answered',
      () => 'failed',
    );
    expect(outcome).to.equal('failed');
    const counters = await admin(sim, 'GET', '/_sim/counters');
    expect(counters.byOperation.ImportTraffic.byStatus).to.deep.equal({ lost: 1 });
    expect(counters.routeWrites.byPhone[phones[0].phone_id]).to.equal(1);
    expect((await admin(sim, 'GET', '/_sim/writes')).writes).to.have.length(1);
  });

  it('answers errors as { error: { code, message } } under the nested reading, request ID in the header', async () => {
    const sim = await start({ errorBody: 'nested' });
    const res = await rawRequest(sim, { path: `/v1/${project}/cloud-phone/phones?limit=0`, sign: key });
    expect(res.status).to.equal(400);
    expect(res.json).to.deep.equal({ error: { code: 'CPS.0002', message: res.json.error.message } });
    expect(res.headers['x-request-id']).to.match(/^[0-9a-f]{32}$/);
    const unsigned = await rawRequest(sim, { path: listPath });
    expect(unsigned.json.error.code).to.equal('APIGW.0301');
  });

  it('gives scripted faults in order, per operation, before any seeded draw', async () => {
    const sim = await start({ faultScript: [{ kind: '503', operation: 'ImportTraffic', count: 2 }] });
    const { phones } = await admin(sim, 'GET', '/_sim/phones?limit=1');
    const write = () =>
      rawRequest(sim, {
        method: 'POST',
        path: `/v1/${project}/cloud-phone/phones-traffic`,
        body: { traffic_type: 'routing', phone_ids: [phones[0].phone_id] },
        sign: key,
      });
    expect((await rawRequest(sim, { path: listPath, sign: key })).status).to.equal(200);
    expect((await write()).status).to.equal(503);
    expect((await admin(sim, 'GET', '/_sim/faults/script')).faults).to.deep.equal([
      { kind: '503', operation: 'ImportTraffic', count: 1 },
    ]);
    expect((await write()).status).to.equal(503);
    expect((await write()).status).to.equal(200);
    await admin(sim, 'POST', '/_sim/faults/script', {
      faults: [{ kind: '429' }, { kind: '500', operation: 'ListJobs' }],
    });
    expect((await rawRequest(sim, { path: listPath, sign: key })).status).to.equal(429);
    expect((await rawRequest(sim, { path: listPath, sign: key })).status).to.equal(200);
    expect(
      (await rawRequest(sim, { path: `/v1/${project}/cloud-phone/jobs?request_id=x`, sign: key })).status,
    ).to.equal(500);
    const refused = await rawRequest(sim, {
      method: 'POST',
      path: '/_sim/faults/script',
      body: { faults: [{ kind: 'meteor' }] },
    });
    expect(refused.status).to.equal(400);
  });

  it('acts unreachable on demand', async () => {
    const sim = await start();
    await admin(sim, 'POST', '/_sim/faults', { unreachable: true });
    const outcome = await rawRequest(sim, { path: listPath, sign: key }).then(
      () => 'answered',
      () => 'failed',
    );
    expect(outcome).to.equal('failed');
    await admin(sim, 'POST', '/_sim/faults', { unreachable: false });
    expect((await rawRequest(sim, { path: listPath, sign: key })).status).to.equal(200);
  });

  it('throttles each API above the rate limit with 429 APIGW.0308 and Retry-After', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 0, 0, 0, 250));
    const sim = await start({ rateLimit: 3, clock });
    const list = () => rawRequest(sim, { path: listPath, sign: key, date: new Date(clock.now()) });
    for (let i = 0; i < 3; i++) expect((await list()).status).to.equal(200);
    const throttled = await list();
    expect(throttled.status).to.equal(429);
    expect(throttled.json.error_code).to.equal('APIGW.0308');
    expect(Number(throttled.headers['retry-after'])).to.be.at.least(1);
    // Per API: another operation still passes in the same second.
    const jobs = await rawRequest(sim, {
      path: `/v1/${project}/cloud-phone/jobs?request_id=x`,
      sign: key,
      date: new Date(clock.now()),
    });
    expect(jobs.status).to.equal(200);
    clock.advance(1000);
    expect((await list()).status).to.equal(200);
    expect((await admin(sim, 'GET', '/_sim/counters')).rateLimited).to.equal(1);
  });

  it('is deterministic for a seed: phones, request IDs, job outcomes and faults', async () => {
    const options: Partial<SimulatorOptions> = {
      seed: 42,
      jobMs: 0,
      jobFailureRate: 0.5,
      faultRate: 0.3,
      faultKinds: ['500', '503', '429'],
      rateLimit: 0,
    };
    const run = async (seed: number) => {
      const sim = await start({ ...options, seed });
      const { phones } = await admin(sim, 'GET', '/_sim/phones');
      const trace: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await rawRequest(sim, {
          method: 'POST',
          path: `/v1/${project}/cloud-phone/phones-traffic`,
          body: { traffic_type: 'routing', phone_ids: [phones[i].phone_id] },
          sign: key,
        });
        trace.push(`${res.status}:${res.json.request_id}`);
        if (res.status === 200) {
          const job = await rawRequest(sim, {
            path: `/v1/${project}/cloud-phone/jobs/${res.json.jobs[0].job_id}`,
            sign: key,
          });
          trace.push(`job:${job.status}:${job.json?.status}`);
        }
      }
      return {
        ids: phones.map((p: { phone_id: string; phone_name: string }) => `${p.phone_id}/${p.phone_name}`),
        trace,
      };
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    expect(b).to.deep.equal(a);
    expect(c.ids).not.to.deep.equal(a.ids);
    expect(a.trace.some((t) => t.startsWith('200'))).to.equal(true);
    expect(a.trace.some((t) => /^(500|503|429)/.test(t))).to.equal(true);
    expect(a.trace.some((t) => t.endsWith(':-1'))).to.equal(true);
    expect(a.trace.some((t) => t.endsWith(':2'))).to.equal(true);
  });

  it('flags two identities writing the same phone while its job runs, and resets counters', async () => {
    const sim = await start({ credentials: [{ ak: 'AK2', sk: 'SK2' }], jobMs: 60_000 });
    const { phones } = await admin(sim, 'GET', '/_sim/phones?limit=1');
    const body = { traffic_type: 'routing', phone_ids: [phones[0].phone_id] };
    const path = `/v1/${project}/cloud-phone/phones-traffic`;
    await rawRequest(sim, { method: 'POST', path, body, sign: key });
    await rawRequest(sim, { method: 'POST', path, body, sign: { ak: 'AK2', sk: 'SK2' } });
    const counters = await admin(sim, 'GET', '/_sim/counters');
    expect(counters.overlappingWrites.total).to.equal(1);
    expect(counters.overlappingWrites.samples[0]).to.include({
      phoneId: phones[0].phone_id,
      runningIdentity: 'ak:AK',
      identity: 'ak:AK2',
    });
    expect(counters.routeWrites.byPhone[phones[0].phone_id]).to.equal(2);
    expect(counters.resendsWhileRunning.byPhone[phones[0].phone_id]).to.equal(1);
    expect(counters.costlyRepeats.total).to.equal(0);
    const reset = await admin(sim, 'POST', '/_sim/counters/reset');
    expect(reset.total).to.equal(0);
    expect(reset.overlappingWrites.total).to.equal(0);
    expect(reset.resendsWhileRunning.total).to.equal(0);
    expect((await admin(sim, 'GET', '/_sim/writes')).writes).to.deep.equal([]);
  });
});
