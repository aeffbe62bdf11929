/**
 * The client over HTTPS: the simulator's generated CA passed as caPem is trusted in addition to the system
 * CAs, and without it the handshake fails, whatever NODE_TLS_REJECT_UNAUTHORIZED says: verification cannot
 * be switched off.
 */
import { expect } from 'chai';
import { IamTokenAuth } from '../../src/cph/auth.js';
import { CphError } from '../../src/cph/errors.js';
import { systemClock } from '../../src/runtime/clock.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { waitFor } from '../support/wait.js';
import {
  client,
  counters,
  iamDomain,
  iamPassword,
  iamUser,
  projectId,
  requestIdOf,
  resetCounters,
  simPhoneIds,
  simulator,
} from './cph-client-helpers.js';

describe('CphClient against the simulator over HTTPS', function () {
  this.timeout(60_000);
  let sim: RunningSimulator;

  before(async () => {
    sim = await simulator({ tls: true });
    expect(sim.url).to.match(/^https:/);
    expect(sim.caPem).to.contain('BEGIN CERTIFICATE');
  });

  after(async () => {
    await sim.close();
  });

  it('round trip with the simulator CA: list, change 101 routes, follow the jobs, show one', async () => {
    const { client: cph } = client(sim);
    const sweep = await cph.listAllPhones();
    expect(sweep.phones).to.have.length(250);
    const phones = (await simPhoneIds(sim, 101)).map((p) => p.phoneId);
    const result = await cph.setTrafficType('routing', phones);
    expect(result.complete).to.equal(true);
    expect(result.jobs).to.have.length(101);
    const requestIds = result.batches.flatMap((b) => (b.state === 'sent' ? [requestIdOf(b)] : []));
    const jobs = await waitFor(
      async () => {
        const list = await cph.listJobs({ requestIds });
        return list.jobs.length === 101 && list.jobs.every((j) => j.status === 'succeeded') ? list.jobs : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: 'the jobs to succeed' },
    );
    const job = await cph.getJob(jobs[0]?.jobId ?? '');
    expect(job.status).to.equal('succeeded');
    const detail = await cph.getPhone(phones[0] ?? '');
    expect(detail.trafficType).to.equal('routing');
    cph.close();
  });

  it('without the CA the handshake fails (TlsError, not retried, nothing reaches the API)', async () => {
    const { client: cph } = client(sim, { caPem: undefined });
    await resetCounters(sim);
    const err = await cph.listPhones().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CphError);
    expect(err).to.include({ errorCode: 'TlsError', retryable: false, attempts: 1 });
    expect((await counters(sim)).num('total')).to.equal(0);
    cph.close();
  });

  it('NODE_TLS_REJECT_UNAUTHORIZED=0 does not switch verification off', async () => {
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    const warnings = process.listeners('warning');
    process.removeAllListeners('warning');
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const { client: cph } = client(sim, { caPem: undefined });
      const err = await cph.listPhones().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.include({ errorCode: 'TlsError' });
      cph.close();
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
      for (const listener of warnings) process.on('warning', listener);
    }
  });

  it('IAM tokens over HTTPS: trusted with the CA, refused without it', async () => {
    const withCa = new IamTokenAuth({
      iamEndpoint: sim.url,
      credentials: { user: iamUser, password: iamPassword, domain: iamDomain },
      project: { id: projectId },
      clock: systemClock,
      caPem: sim.caPem,
    });
    const { client: cph } = client(sim, { auth: withCa });
    expect((await cph.listPhones({ limit: 1 })).phones).to.have.length(1);
    cph.close();
    withCa.close();
    const withoutCa = new IamTokenAuth({
      iamEndpoint: sim.url,
      credentials: { user: iamUser, password: iamPassword, domain: iamDomain },
      project: { id: projectId },
      clock: systemClock,
    });
    const err = await withoutCa.token().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.include({ errorCode: 'TlsError', operation: 'KeystoneCreateUserTokenByPassword' });
    withoutCa.close();
  });
});
