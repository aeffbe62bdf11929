import { expect } from 'chai';
import { signRequest } from '../../src/cph/signer.js';
import { Authenticator } from '../../src/simulator/auth.js';
import { Fleet, type SimPhone } from '../../src/simulator/fleet.js';
import { DueQueue, JobStore, type SimJob } from '../../src/simulator/jobs.js';
import { defaultReadings, noQuirks, type RuntimeSettings } from '../../src/simulator/options.js';
import { SeededRandom, unitFor } from '../../src/simulator/random.js';
import { applyQuirks, applyReadings, applySettings } from '../../src/simulator/admin.js';

describe('simulator fleet', () => {
  it('is the same for a seed and different for another', () => {
    const ids = (seed: number) =>
      new Fleet({ phones: 50, seed }).phones.map((p) => `${p.phoneId} ${p.phoneName} ${p.serverId}`);
    expect(ids(9)).to.deep.equal(ids(9));
    expect(ids(9)).not.to.deep.equal(ids(10));
  });

  it('makes unique 32-hex IDs, pool-prefixed names by server, several phones per server, newest first', () => {
    const fleet = new Fleet({ phones: 100, seed: 1, phonesPerServer: 5, pools: ['a', 'b'] });
    expect(new Set(fleet.phones.map((p) => p.phoneId)).size).to.equal(100);
    for (const phone of fleet.phones) {
      expect(phone.phoneId).to.match(/^[0-9a-f]{32}$/);
      expect(phone.phoneName).to.match(/^pool-[ab]-\d{5}$/);
      expect(phone.phoneName.startsWith(`pool-${phone.pool}-`)).to.equal(true);
      expect(phone.status).to.equal(2);
      expect(phone.trafficType).to.equal('direct');
    }
    const servers = new Map<string, SimPhone[]>();
    for (const phone of fleet.phones) servers.set(phone.serverId, [...(servers.get(phone.serverId) ?? []), phone]);
    expect(servers.size).to.equal(20);
    for (const onServer of servers.values()) {
      expect(onServer).to.have.length(5);
      expect(new Set(onServer.map((p) => p.pool)).size).to.equal(1);
    }
    const created = fleet.phones.map((p) => p.createTime);
    expect(created).to.deep.equal([...created].sort((a, b) => b - a));
    expect(fleet.phones[0]?.phoneName).to.equal('pool-b-00100');
  });

  it('gives fixed IDs to the newest phones and keeps every other ID', () => {
    const plain = new Fleet({ phones: 20, seed: 4 }).phones.map((p) => p.phoneId);
    const fixed = new Fleet({
      phones: 20,
      seed: 4,
      fixedPhoneIds: ['631056bfb66b4f4ea02ba25f04830cb4', 'abc'],
    }).phones.map((p) => p.phoneId);
    expect(fixed.slice(0, 2)).to.deep.equal(['631056bfb66b4f4ea02ba25f04830cb4', 'abc']);
    expect(fixed.slice(2)).to.deep.equal(plain.slice(2));
    expect(() => new Fleet({ phones: 3, seed: 1, fixedPhoneIds: ['a', 'a'] })).to.throw('twice');
    expect(() => new Fleet({ phones: 3, seed: 1, fixedPhoneIds: ['not valid'] })).to.throw('not 1..32');
  });

  it('starts with the configured route', () => {
    expect(
      new Fleet({ phones: 3, seed: 1, initialTrafficType: 'routing' }).phones.every((p) => p.trafficType === 'routing'),
    ).to.equal(true);
  });

  it('pages a filter exactly like a naive filter, resuming scans and forgetting them on status changes', () => {
    const fleet = new Fleet({ phones: 1000, seed: 2 });
    const naive = (pred: (p: SimPhone) => boolean) => fleet.phones.filter(pred).map((p) => p.phoneId);
    const sweep = (filter: Parameters<Fleet['list']>[0], size: number) => {
      const out: string[] = [];
      let count = -1;
      for (let offset = 0; count < 0 || offset < count; offset += size) {
        const page = fleet.list(filter, offset, size);
        count = page.count;
        out.push(...page.page.map((p) => p.phoneId));
      }
      return { count, out };
    };
    const poolA = sweep({ phoneName: 'pool-a-' }, 7);
    expect(poolA.out).to.deep.equal(naive((p) => p.phoneName.includes('pool-a-')));
    expect(poolA.count).to.equal(poolA.out.length).and.to.be.greaterThan(200);
    // Again, now from the remembered cursors.
    expect(sweep({ phoneName: 'pool-a-' }, 7).out).to.deep.equal(poolA.out);
    // A jump to an offset never seen falls back to a full scan.
    expect(fleet.list({ phoneName: 'pool-a-' }, 13, 5).page.map((p) => p.phoneId)).to.deep.equal(
      poolA.out.slice(13, 18),
    );

    const server = fleet.phones[3]!.serverId;
    expect(sweep({ serverId: server }, 3).out).to.deep.equal(naive((p) => p.serverId === server));

    const stopped = fleet.phones.filter((p) => p.phoneName.includes('pool-a-')).slice(0, 4);
    expect(sweep({ phoneName: 'pool-a-', status: 2 }, 10).count).to.equal(poolA.count);
    for (const phone of stopped) fleet.setStatus(phone, 8);
    const running = sweep({ phoneName: 'pool-a-', status: 2 }, 10);
    expect(running.count).to.equal(poolA.count - 4);
    expect(running.out).to.deep.equal(naive((p) => p.phoneName.includes('pool-a-') && p.status === 2));
    expect(sweep({ status: 8 }, 2).out).to.deep.equal(stopped.map((p) => p.phoneId));
    expect(fleet.list({ type: 1 }, 0, 100).count).to.equal(0);
  });

  it('renders every documented phone field', () => {
    const fleet = new Fleet({ phones: 1, seed: 1 });
    const wire = fleet.render(fleet.phones[0]!);
    expect(wire.create_time).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(wire.vnc_enable).to.equal('false');
    expect(wire.metadata).to.have.keys(['order_id', 'product_id']);
  });
});

describe('simulator job due queue', () => {
  it('pops jobs in due order and only when due', () => {
    const queue = new DueQueue();
    const due = [50, 10, 40, 10, 30, 20, 60, 0];
    for (const [i, dueTime] of due.entries()) queue.push({ jobId: String(i), dueTime } as SimJob);
    expect(queue.popDue(-1)).to.equal(undefined);
    const popped: number[] = [];
    for (let job = queue.popDue(35); job; job = queue.popDue(35)) popped.push(job.dueTime);
    expect(popped).to.deep.equal([0, 10, 10, 20, 30]);
    expect(queue.size).to.equal(3);
    for (let job = queue.popDue(100); job; job = queue.popDue(100)) popped.push(job.dueTime);
    expect(popped).to.deep.equal([0, 10, 10, 20, 30, 40, 50, 60]);
  });
});

describe('simulator job store', () => {
  it('forgets the oldest finished requests past its bound, never a running job', () => {
    const store = new JobStore(10);
    const job = (n: number, status: 1 | 2): SimJob =>
      ({
        jobId: `j${n}`,
        requestId: `r${n}`,
        phoneId: 'p',
        serverId: 's',
        trafficType: 'routing',
        beginTime: 0,
        dueTime: 0,
        willFail: false,
        repeat: false,
        status,
      }) as SimJob;
    store.add(job(0, 1));
    for (let n = 1; n <= 12; n++) store.add(job(n, 2));
    expect(store.size).to.be.at.most(10);
    expect(store.created).to.equal(13);
    expect(store.get('j0')?.status).to.equal(1);
    expect(store.get('j1')).to.equal(undefined);
    expect(store.forRequest('r1')).to.deep.equal([]);
    expect(store.get('j12')?.jobId).to.equal('j12');
  });
});

describe('simulator randomness', () => {
  it('is a pure function of seed and key, in [0, 1)', () => {
    expect(unitFor(1, 'a')).to.equal(unitFor(1, 'a'));
    expect(unitFor(1, 'a')).not.to.equal(unitFor(2, 'a'));
    const draws = Array.from({ length: 10_000 }, (_, i) => unitFor(7, `k${i}`));
    expect(Math.min(...draws)).to.be.at.least(0);
    expect(Math.max(...draws)).to.be.below(1);
    const share = draws.filter((d) => d < 0.3).length / draws.length;
    expect(share).to.be.within(0.27, 0.33);
    expect(new SeededRandom(3).hex(32))
      .to.equal(new SeededRandom(3).hex(32))
      .and.to.match(/^[0-9a-f]{32}$/);
  });
});

describe('simulator run-time settings', () => {
  const settings = (): RuntimeSettings => ({
    latencyMs: 0,
    jobMs: 1,
    jobFailureRate: 0,
    faultRate: 0,
    faultKinds: ['500'],
    rateLimit: 200,
    retryAfterSeconds: 1,
    unreachable: false,
    failJobsForPhones: [],
  });

  it('applies valid settings and refuses invalid ones without a partial change', () => {
    const s = settings();
    expect(applySettings(s, { faultRate: 0.5, faultKinds: ['reset', 'timeout'], unreachable: true })).to.equal(
      undefined,
    );
    expect(s).to.include({ faultRate: 0.5, unreachable: true });
    expect(applySettings(s, { latencyMs: 5, faultRate: 2 })).to.contain('faultRate');
    expect(s.latencyMs).to.equal(0);
    expect(applySettings(s, { faultKinds: ['meteor'] })).to.contain('faultKinds');
    expect(applySettings(s, { bogus: 1 })).to.contain('unknown');
  });

  it('applies readings', () => {
    const r = { ...defaultReadings };
    expect(applyReadings(r, { notFoundStatus: 400, maxListLimit: 100, refuseNotRunning: true })).to.equal(undefined);
    expect(r).to.include({ notFoundStatus: 400, maxListLimit: 100, refuseNotRunning: true });
    expect(applyReadings(r, { notFoundStatus: 418 })).to.contain('notFoundStatus');
    expect(applyReadings(r, { jobErrorFields: 'maybe' })).to.contain('jobErrorFields');
    expect(applyReadings(r, { errorBody: 'top' })).to.equal(undefined);
  });

  it('applies quirks, all or nothing, and clears a refusal with null', () => {
    const q = noQuirks();
    expect(
      applyQuirks(q, {
        phones: { p1: { omit: ['phone_id', 'status'] }, p2: { trafficType: 7 } },
        noJobFor: ['p3'],
        trafficRequestId: 'none',
      }),
    ).to.equal(undefined);
    expect(q.phones).to.deep.equal({ p1: { omit: ['phone_id', 'status'] }, p2: { trafficType: 7 } });
    expect(q).to.include({ trafficRequestId: 'none' });
    expect(applyQuirks(q, { refuse: { httpStatus: 400, errorCode: 'CPS.0001' } })).to.equal(undefined);
    expect(q.refuse).to.deep.equal({ httpStatus: 400, errorCode: 'CPS.0001', errorMsg: 'refused (CPS.0001)' });
    expect(applyQuirks(q, { noJobFor: [], refuse: { httpStatus: 200, errorCode: 'X' } })).to.contain(
      'refuse.httpStatus',
    );
    expect(q.noJobFor, 'nothing applied from a refused body').to.deep.equal(['p3']);
    expect(applyQuirks(q, { phones: { p1: { omit: ['imei'] } } })).to.contain('omit');
    expect(applyQuirks(q, { bogus: true })).to.contain('unknown quirk');
    expect(applyQuirks(q, { refuse: null })).to.equal(undefined);
    expect(q.refuse).to.equal(undefined);
  });
});

describe('simulator authenticator', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const auth = new Authenticator([{ ak: 'AK', sk: 'SK' }]);
  const request = (headers: Record<string, string>, body = '') => {
    const url = new URL('https://cph.example.com/v1/P/cloud-phone/phones-traffic?b=2&a=1');
    const signed = signRequest({ method: 'POST', url, headers, body }, { ak: 'AK', sk: 'SK' }, new Date(now));
    const lower: Record<string, string> = { host: url.host };
    for (const [k, v] of Object.entries({ ...headers, ...signed })) lower[k.toLowerCase()] = v;
    return { method: 'POST', rawUrl: url.pathname + url.search, headers: lower, body: Buffer.from(body) };
  };

  it('accepts the Go SDK style (X-Project-Id signed) over the raw body and names the AK', () => {
    const result = auth.authenticate(
      request({ 'Content-Type': 'application/json', 'X-Project-Id': 'P' }, '{"a": 1}\n'),
      now,
    );
    expect(result).to.deep.equal({ ok: true, identity: 'ak:AK' });
  });

  it('refuses a changed body byte, header or query', () => {
    const base = request({ 'Content-Type': 'application/json' }, '{"a":1}');
    expect(auth.authenticate({ ...base, body: Buffer.from('{"a":2}') }, now).ok).to.equal(false);
    expect(auth.authenticate({ ...base, headers: { ...base.headers, 'content-type': 'text/plain' } }, now).ok).to.equal(
      false,
    );
    expect(auth.authenticate({ ...base, rawUrl: base.rawUrl.replace('b=2', 'b=3') }, now).ok).to.equal(false);
    // Unsigned headers may change.
    expect(auth.authenticate({ ...base, headers: { ...base.headers, 'user-agent': 'x' } }, now).ok).to.equal(true);
  });

  it('tokens expire and can be revoked', () => {
    const { token } = auth.issueToken('u', 'd', now, 1000);
    expect(
      auth.authenticate(
        { method: 'GET', rawUrl: '/', headers: { 'x-auth-token': token }, body: Buffer.alloc(0) },
        now + 999,
      ),
    ).to.deep.equal({
      ok: true,
      identity: 'token:u@d',
    });
    expect(
      auth.authenticate(
        { method: 'GET', rawUrl: '/', headers: { 'x-auth-token': token }, body: Buffer.alloc(0) },
        now + 1000,
      ).ok,
    ).to.equal(false);
    const second = auth.issueToken('u', 'd', now, 1000).token;
    auth.revokeTokens();
    expect(
      auth.authenticate({ method: 'GET', rawUrl: '/', headers: { 'x-auth-token': second }, body: Buffer.alloc(0) }, now)
        .ok,
    ).to.equal(false);
  });
});
