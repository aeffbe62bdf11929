/**
 * The IAM password-token provider against the simulator's /v3/auth/tokens, and CPH calls made with its
 * tokens: one IAM call however many callers, renewal before expiry, one re-authentication after an early
 * revocation, and a refused password that is not asked again in a loop. Time jumps come from a clock shared
 * by the simulator and the client (real sleeps, shifted `now`), never from waiting.
 */
import { expect } from 'chai';
import { IamTokenAuth } from '../../src/cph/auth.js';
import { CphError, isAuthError } from '../../src/cph/errors.js';
import { systemClock, type Clock } from '../../src/runtime/clock.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { waitFor } from '../support/wait.js';
import {
  admin,
  client,
  counters,
  iamDomain,
  iamPassword,
  iamUser,
  projectId,
  resetCounters,
  simulator,
} from './cph-client-helpers.js';

class ShiftedClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
}

const hour = 3_600_000;

function tokenAuth(sim: RunningSimulator, clock: Clock, password = iamPassword): IamTokenAuth {
  return new IamTokenAuth({
    iamEndpoint: sim.url,
    credentials: { user: iamUser, password, domain: iamDomain },
    project: { id: projectId },
    clock,
    caPem: sim.caPem,
    retryPolicy: {
      maxAttempts: 3,
      maxElapsedMs: 5_000,
      baseDelayMs: 5,
      maxDelayMs: 20,
      throttleDelayMs: { min: 5, max: 10 },
      maxRetryAfterMs: 2_000,
    },
  });
}

describe('CphClient with IAM tokens against the simulator', function () {
  this.timeout(60_000);
  let sim: RunningSimulator;
  let clock: ShiftedClock;

  beforeEach(async () => {
    clock = new ShiftedClock();
    sim = await simulator({ clock, tokenTtlSeconds: 24 * 3600 });
  });

  afterEach(async () => {
    await sim.close();
  });

  it('many concurrent calls share one IAM call; the token is renewed once before expiry, and once after', async () => {
    const auth = tokenAuth(sim, clock);
    const { client: cph } = client(sim, { auth, clock });
    await resetCounters(sim);
    const burst = (n: number): Promise<unknown[]> =>
      Promise.all(Array.from({ length: n }, (_, i) => cph.listPhones({ offset: i, limit: 1 })));
    await burst(40);
    let seen = await counters(sim);
    expect(seen.num('byOperation', 'IamToken', 'total')).to.equal(1);
    expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '200')).to.equal(40);

    // 23.5 h later the 24 h token is inside its renewal hour: calls go on with it while one renewal runs.
    clock.offsetMs = 23.5 * hour;
    await burst(20);
    await waitFor(async () => (await counters(sim)).num('byOperation', 'IamToken', 'total') === 2, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the background renewal',
    });
    await burst(20);
    seen = await counters(sim);
    expect(seen.num('byOperation', 'IamToken', 'total')).to.equal(2);

    // 48 h: every token so far has expired; concurrent callers wait for one new token.
    clock.offsetMs = 48 * hour;
    await burst(20);
    seen = await counters(sim);
    expect(seen.num('byOperation', 'IamToken', 'total')).to.equal(3);
    expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '401')).to.equal(0);
    expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '200')).to.equal(100);
    cph.close();
    auth.close();
  });

  it('a token revoked early: the refused calls re-authenticate once (one IAM call for all of them) and succeed', async () => {
    const auth = tokenAuth(sim, clock);
    const { client: cph } = client(sim, { auth, clock });
    await cph.listPhones({ limit: 1 });
    await admin(sim, 'POST', '/_sim/tokens/revoke');
    await resetCounters(sim);
    const pages = await Promise.all(Array.from({ length: 10 }, (_, i) => cph.listPhones({ offset: i, limit: 1 })));
    expect(pages).to.have.length(10);
    const seen = await counters(sim);
    expect(seen.num('byOperation', 'IamToken', 'total')).to.equal(1);
    expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '401')).to.equal(10);
    expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '200')).to.equal(10);
    // A single call after another revocation: 401, one IAM call, success.
    await admin(sim, 'POST', '/_sim/tokens/revoke');
    await resetCounters(sim);
    await cph.getPhone(pages[0]?.phones[0]?.phoneId ?? '');
    const again = await counters(sim);
    expect(again.num('byOperation', 'IamToken', 'total')).to.equal(1);
    expect(again.num('byOperation', 'ShowCloudPhoneDetail', 'total')).to.equal(2);
    cph.close();
    auth.close();
  });

  it('a fresh token that CPH refuses too: exactly one re-authentication per call, then the 401 stands', async () => {
    await sim.close();
    // Tokens that expire the moment they are issued: IAM says yes, CPH says APIGW.0301 every time.
    sim = await simulator({ clock, tokenTtlSeconds: 0 });
    const auth = tokenAuth(sim, clock);
    const { client: cph } = client(sim, { auth, clock });
    await resetCounters(sim);
    const err = await cph.listPhones().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CphError);
    expect(err).to.include({ httpStatus: 401, errorCode: 'APIGW.0301', attempts: 1 });
    const seen = await counters(sim);
    expect(seen.num('byOperation', 'IamToken', 'total')).to.equal(2);
    expect(seen.num('byOperation', 'ListCloudPhones', 'total')).to.equal(2);
    cph.close();
    auth.close();
  });

  it('a wrong password fails fast: one IAM call, no CPH call, no retry loop, and the password never shows', async () => {
    const auth = tokenAuth(sim, clock, 'wrong password 123');
    const { client: cph, logs } = client(sim, { auth, clock });
    await resetCounters(sim);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => cph.listPhones()));
    const later = await Promise.allSettled([cph.listPhones(), cph.getJob('abc')]);
    for (const result of [...results, ...later]) {
      expect(result.status).to.equal('rejected');
      if (result.status !== 'rejected') continue;
      const err: unknown = result.reason;
      expect(err).to.be.instanceOf(CphError);
      expect(isAuthError(err)).to.equal(true);
      if (!(err instanceof CphError)) continue;
      expect(err).to.include({ httpStatus: 401, operation: 'KeystoneCreateUserTokenByPassword', retryable: false });
      expect(err.message).to.not.contain('wrong password 123');
    }
    const seen = await counters(sim);
    expect(seen.num('byOperation', 'IamToken', 'total')).to.equal(1);
    expect(seen.num('byOperation', 'ListCloudPhones', 'total')).to.equal(0);
    expect(logs.text()).to.not.contain('wrong password 123');
    cph.close();
    auth.close();
  });

  it('retries IAM on a server error, within its bound', async () => {
    const auth = tokenAuth(sim, clock);
    await admin(sim, 'POST', '/_sim/faults', { faultRate: 1, faultKinds: ['503'] });
    await resetCounters(sim);
    const err = await auth.token().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CphError);
    expect(err).to.include({ httpStatus: 503, attempts: 3 });
    expect((await counters(sim)).num('byOperation', 'IamToken', 'total')).to.equal(3);
    await admin(sim, 'POST', '/_sim/faults', { faultRate: 0 });
    expect(await auth.token()).to.match(/^MII/);
    auth.close();
  });

  it('scopes by project name as well as by ID', async () => {
    const auth = new IamTokenAuth({
      iamEndpoint: sim.url,
      credentials: { user: iamUser, password: iamPassword, domain: iamDomain },
      project: { name: 'cn-north-4' },
      clock,
    });
    const { client: cph } = client(sim, { auth, clock });
    expect((await cph.listPhones({ limit: 1 })).phones).to.have.length(1);
    expect(JSON.stringify(auth)).to.not.contain(iamPassword);
    cph.close();
    auth.close();
  });
});
