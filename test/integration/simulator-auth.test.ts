import { expect } from 'chai';
import { formatSdkDate, signRequest } from '../../src/cph/signer.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { admin, ManualClock, rawRequest, send } from './simulator-helpers.js';

const project = 'P';
const good = { ak: 'AK', sk: 'SK' };
const listPath = `/v1/${project}/cloud-phone/phones?limit=1`;

describe('CPH simulator: authentication', () => {
  let sim: RunningSimulator;
  const clock = new ManualClock(Date.UTC(2026, 0, 10, 12, 0, 0));
  const at = (offsetMs = 0): Date => new Date(clock.now() + offsetMs);

  before(async () => {
    sim = await startSimulator({
      phones: 50,
      seed: 3,
      projectId: project,
      ...good,
      credentials: [{ ak: 'AK-B', sk: 'SK-B' }],
      iamUser: 'ops',
      iamPassword: 'pw',
      iamDomain: 'acme',
      tokenTtlSeconds: 3600,
      clock,
    });
  });
  after(() => sim.close());
  beforeEach(() => admin(sim, 'POST', '/_sim/locks/reset'));

  it('accepts a signature dated up to 15 minutes off and refuses one more than 15 minutes off', async () => {
    for (const offset of [-14 * 60_000, 14 * 60_000, -15 * 60_000]) {
      const res = await rawRequest(sim, { path: listPath, sign: good, date: at(offset) });
      expect(res.status, `offset ${offset}`).to.equal(200);
    }
    for (const offset of [-16 * 60_000, 16 * 60_000]) {
      const res = await rawRequest(sim, { path: listPath, sign: good, date: at(offset) });
      expect(res.status, `offset ${offset}`).to.equal(401);
      expect(res.json.error_code).to.equal('APIGW.0303');
      expect(res.json.error_msg).to.contain('15 minutes');
    }
  });

  it('verifies the raw body bytes: a signature over different bytes of the same JSON fails', async () => {
    const url = new URL(`/v1/${project}/cloud-phone/phones-traffic`, sim.url);
    const signedBody = '{"traffic_type":"routing","phone_ids":[]}';
    const sentBody = '{ "traffic_type": "routing", "phone_ids": [] }';
    const headers = { 'Content-Type': 'application/json' };
    const auth = signRequest({ method: 'POST', url, headers, body: signedBody }, good, at());
    const tampered = await send(sim, url, 'POST', { ...headers, ...auth }, sentBody);
    expect(tampered.status).to.equal(401);
    expect(tampered.json.error_code).to.equal('APIGW.0301');
    // The same bytes, pretty-printed, signed as sent: accepted (and refused for the empty list).
    const auth2 = signRequest({ method: 'POST', url, headers, body: sentBody }, good, at());
    const accepted = await send(sim, url, 'POST', { ...headers, ...auth2 }, sentBody);
    expect(accepted.status).to.equal(400);
    expect(accepted.json.error_code).to.equal('CPS.0009');
  });

  it('requires x-sdk-date among the signed headers', async () => {
    const url = new URL(listPath, sim.url);
    const sdkDate = formatSdkDate(at());
    const auth = signRequest(
      { method: 'GET', url, headers: { 'Content-Type': 'application/json' }, body: '' },
      good,
      at(),
    );
    // Rewrite SignedHeaders to drop x-sdk-date: the gateway must refuse whatever the signature.
    const header = auth.Authorization.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=content-type;host');
    const res = await send(
      sim,
      url,
      'GET',
      { 'Content-Type': 'application/json', 'X-Sdk-Date': sdkDate, Authorization: header },
      '',
    );
    expect(res.status).to.equal(401);
    expect(res.json.error_code).to.equal('APIGW.0301');
  });

  it('locks an AK for 5 minutes after 5 bad signatures in a row, and not another AK', async () => {
    const bad = { ak: 'AK', sk: 'not-the-secret' };
    for (let i = 0; i < 5; i++) {
      const res = await rawRequest(sim, { path: listPath, sign: bad, date: at() });
      expect(res.status).to.equal(401);
      expect(res.json.error_msg).to.contain('verify aksk signature fail');
      expect(res.json.error_msg).not.to.contain('locked');
    }
    const locked = await rawRequest(sim, { path: listPath, sign: good, date: at() });
    expect(locked.status).to.equal(401);
    expect(locked.json.error_code).to.equal('APIGW.0301');
    expect(locked.json.error_msg).to.contain('locked');
    const other = await rawRequest(sim, { path: listPath, sign: { ak: 'AK-B', sk: 'SK-B' }, date: at() });
    expect(other.status).to.equal(200);
    const counters = await admin(sim, 'GET', '/_sim/counters');
    expect(counters.lockedAccessKeys).to.deep.equal(['AK']);

    clock.advance(5 * 60_000 - 1000);
    expect((await rawRequest(sim, { path: listPath, sign: good, date: at() })).status).to.equal(401);
    clock.advance(1000);
    expect((await rawRequest(sim, { path: listPath, sign: good, date: at() })).status).to.equal(200);
  });

  it('counts only consecutive failures: a good signature resets the count', async () => {
    const bad = { ak: 'AK', sk: 'nope' };
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++)
        expect((await rawRequest(sim, { path: listPath, sign: bad, date: at() })).status).to.equal(401);
      expect((await rawRequest(sim, { path: listPath, sign: good, date: at() })).status).to.equal(200);
    }
  });

  it('issues IAM tokens: 201, X-Subject-Token, token.expires_at, and the token opens the CPH API', async () => {
    const login = await rawRequest(sim, {
      method: 'POST',
      path: '/v3/auth/tokens',
      headers: { 'Content-Type': 'application/json;charset=utf8' },
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'ops', password: 'pw', domain: { name: 'acme' } } },
          },
          scope: { project: { name: 'cn-east-3' } },
        },
      },
    });
    expect(login.status).to.equal(201);
    const token = login.headers['x-subject-token'];
    expect(token).to.be.a('string').and.not.be.empty;
    expect(login.json.token.expires_at).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(Date.parse(login.json.token.expires_at)).to.equal(clock.now() + 3600_000);
    expect(login.headers['x-request-id']).to.match(/^[0-9a-f]{32}$/);

    const ok = await rawRequest(sim, { path: listPath, token: token as string });
    expect(ok.status).to.equal(200);

    clock.advance(3600_000);
    const expired = await rawRequest(sim, { path: listPath, token: token as string });
    expect(expired.status).to.equal(401);
    expect(expired.json).to.include({ error_code: 'APIGW.0301' });
    expect(expired.json.error_msg).to.contain('token expires');
  });

  it('refuses a wrong password with 401 and an unknown or revoked token with APIGW.0301', async () => {
    const body = (password: string) => ({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'ops', password, domain: { name: 'acme' } } } },
        scope: { project: { name: 'r' } },
      },
    });
    const wrong = await rawRequest(sim, { method: 'POST', path: '/v3/auth/tokens', body: body('bad') });
    expect(wrong.status).to.equal(401);
    expect(wrong.headers['x-subject-token']).to.equal(undefined);

    const login = await rawRequest(sim, { method: 'POST', path: '/v3/auth/tokens', body: body('pw') });
    const token = login.headers['x-subject-token'] as string;
    expect((await rawRequest(sim, { path: listPath, token })).status).to.equal(200);
    expect((await admin(sim, 'POST', '/_sim/tokens/revoke')).revoked).to.be.at.least(1);
    const revoked = await rawRequest(sim, { path: listPath, token });
    expect(revoked.status).to.equal(401);
    expect(revoked.json.error_code).to.equal('APIGW.0301');
    const unknown = await rawRequest(sim, { path: listPath, token: 'MIInot-a-token' });
    expect(unknown.status).to.equal(401);
  });

  it('refuses a path with another project ID', async () => {
    const res = await rawRequest(sim, { path: '/v1/other/cloud-phone/phones', sign: good, date: at() });
    expect(res.status).to.equal(403);
    expect(res.json.error_code).to.equal('CPS.0001');
  });
});
