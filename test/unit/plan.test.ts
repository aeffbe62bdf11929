import { expect } from 'chai';
import {
  planRoutes,
  summaryKeyOf,
  type ActualPhone,
  type DesiredRoute,
  type InFlightJob,
  type Plan,
  type PlanInput,
  type ResourcePlan,
} from '../../src/controller/plan.js';
import type { TrafficType } from '../../src/cph/wire.js';

const RUNNING = 2;
const STOPPED = 8;

function phones(spec: Record<string, [TrafficType, number?]>): Map<string, ActualPhone> {
  return new Map(
    Object.entries(spec).map(([id, [trafficType, status]]) => [id, { trafficType, status: status ?? RUNNING }]),
  );
}

function route(
  key: string,
  trafficType: TrafficType,
  phoneIds: string[],
  extra: Partial<DesiredRoute> = {},
): DesiredRoute {
  return { key, trafficType, phoneIds, suspended: false, ...extra };
}

function resource(plan: Plan, key: string): ResourcePlan {
  const found = plan.resources.find((r) => r.key === key);
  if (!found) throw new Error(`no plan for ${key}`);
  return found;
}

function states(plan: Plan, key: string): Record<string, string> {
  return Object.fromEntries(resource(plan, key).phones.map((p) => [p.phoneId, p.state]));
}

const id = (n: number): string => n.toString(16).padStart(32, '0');

/** What the plan changes: per route (direct first), the phones and the resources that want them, sorted. */
function changesOf(plan: Plan): Array<{ trafficType: TrafficType; phoneIds: string[]; resourceKeys: string[] }> {
  const changes: Array<{ trafficType: TrafficType; phoneIds: string[]; resourceKeys: string[] }> = [];
  for (const trafficType of ['direct', 'routing'] as const) {
    const wanting = plan.resources.filter((r) => r.desired === trafficType && r.toChange.length > 0);
    const phoneIds = [...new Set(wanting.flatMap((r) => r.toChange))].sort();
    if (phoneIds.length > 0) changes.push({ trafficType, phoneIds, resourceKeys: wanting.map((r) => r.key).sort() });
  }
  return changes;
}

/** The phones some resource reports in conflict, sorted. */
function conflictsOf(plan: Plan): string[] {
  const phones = plan.resources.flatMap((r) => r.phones.filter((p) => p.state === 'Conflict').map((p) => p.phoneId));
  return [...new Set(phones)].sort();
}

describe('plan', () => {
  describe('one resource', () => {
    it('finds drift and sends one change for the drifted phones only', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p3', 'p1', 'p2'])],
        phones: phones({ p1: ['routing'], p2: ['direct'], p3: ['direct'] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'InSync', p2: 'Drifted', p3: 'Drifted' });
      expect(changesOf(plan)).to.deep.equal([
        { trafficType: 'routing', phoneIds: ['p2', 'p3'], resourceKeys: ['ns/a'] },
      ]);
      const a = resource(plan, 'ns/a');
      expect(a.toChange).to.deep.equal(['p2', 'p3']);
      expect(a.counts).to.deep.equal({
        total: 3,
        inSync: 1,
        drifted: 2,
        pending: 0,
        failed: 0,
        conflicted: 0,
        notFound: 0,
        waiting: 0,
      });
      expect(a.settled).to.equal(false);
      expect(a.acting).to.equal(true);
      expect(a.phones.map((p) => p.phoneId)).to.deep.equal(['p1', 'p2', 'p3']);
      expect(a.phones[1]).to.deep.equal({
        phoneId: 'p2',
        state: 'Drifted',
        desired: 'routing',
        actual: 'direct',
        phoneStatus: RUNNING,
      });
    });

    it('sends nothing when everything is in sync', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'direct', ['p1', 'p2'])],
        phones: phones({ p1: ['direct'], p2: ['direct'] }),
      });
      expect(changesOf(plan)).to.deep.equal([]);
      expect(resource(plan, 'ns/a').settled).to.equal(true);
      expect(resource(plan, 'ns/a').counts.inSync).to.equal(2);
    });

    it('counts a phone listed twice once', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1', 'p1'])],
        phones: phones({ p1: ['direct'] }),
      });
      expect(resource(plan, 'ns/a').counts.total).to.equal(1);
      expect(changesOf(plan)[0]!.phoneIds).to.deep.equal(['p1']);
    });

    it('reports phones the inventory does not know as NotFound and never sends them', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['ghost', 'p1'])],
        phones: phones({ p1: ['routing'] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ ghost: 'NotFound', p1: 'InSync' });
      expect(changesOf(plan)).to.deep.equal([]);
      const ghost = resource(plan, 'ns/a').phones[0]!;
      expect(ghost).to.not.have.property('actual');
      expect(resource(plan, 'ns/a').settled).to.equal(true);
    });

    it('does not send to phones that are not running, and marks them Waiting', () => {
      for (const status of [0, 1, 3, 4, 6, 7, 8, -5, -6, -7, -8, -9]) {
        const plan = planRoutes({
          resources: [route('ns/a', 'routing', ['p1'])],
          phones: phones({ p1: ['direct', status] }),
        });
        expect(states(plan, 'ns/a'), `status ${status}`).to.deep.equal({ p1: 'Waiting' });
        expect(changesOf(plan)).to.deep.equal([]);
      }
    });

    it('a phone that is not running but already on route is in sync', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'])],
        phones: phones({ p1: ['routing', STOPPED] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'InSync' });
    });
  });

  describe('jobs in flight', () => {
    const job = (phoneId: string, trafficType: TrafficType, jobId = `j-${phoneId}`): InFlightJob => ({
      phoneId,
      jobId,
      requestId: 'r1',
      trafficType,
    });

    it('never re-sends a change for a phone whose job for the same route runs', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1', 'p2'])],
        phones: phones({ p1: ['direct'], p2: ['direct'] }),
        jobs: [job('p1', 'routing')],
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Pending', p2: 'Drifted' });
      expect(changesOf(plan)).to.deep.equal([{ trafficType: 'routing', phoneIds: ['p2'], resourceKeys: ['ns/a'] }]);
      expect(resource(plan, 'ns/a').phones[0]!.job).to.deep.equal(job('p1', 'routing'));
    });

    it('waits for a job setting the other route to end before correcting (spec changed while jobs ran)', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'direct', ['p1'])],
        phones: phones({ p1: ['direct'] }),
        jobs: [job('p1', 'routing')],
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Pending' });
      expect(changesOf(plan)).to.deep.equal([]);
      expect(resource(plan, 'ns/a').settled).to.equal(false);
    });

    it('picks one job deterministically when several are given for a phone', () => {
      const jobs = [
        { phoneId: 'p1', jobId: 'j2', requestId: 'r2', trafficType: 'routing' as const },
        { phoneId: 'p1', jobId: 'j1', requestId: 'r1', trafficType: 'routing' as const },
      ];
      const a = planRoutes({ resources: [route('ns/a', 'routing', ['p1'])], phones: phones({ p1: ['direct'] }), jobs });
      const b = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'])],
        phones: phones({ p1: ['direct'] }),
        jobs: [...jobs].reverse(),
      });
      expect(a).to.deep.equal(b);
      expect(resource(a, 'ns/a').phones[0]!.job!.jobId).to.equal('j1');
    });

    it('a job in flight makes a phone pending even when suspended', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'], { suspended: true })],
        phones: phones({ p1: ['direct'] }),
        jobs: [job('p1', 'routing')],
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Pending' });
    });
  });

  describe('holds (retry backoff after a failure)', () => {
    it('marks a held phone Failed and does not send it', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1', 'p2'])],
        phones: phones({ p1: ['direct'], p2: ['direct'] }),
        holds: [{ phoneId: 'p1', trafficType: 'routing', errorCode: 'CPS.0003', errorMessage: 'internal error' }],
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Failed', p2: 'Drifted' });
      expect(changesOf(plan)[0]!.phoneIds).to.deep.equal(['p2']);
      expect(resource(plan, 'ns/a').phones[0]!.hold!.errorCode).to.equal('CPS.0003');
    });

    it('ignores a hold for the other route (the spec changed since)', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'direct', ['p1'])],
        phones: phones({ p1: ['routing'] }),
        holds: [{ phoneId: 'p1', trafficType: 'routing' }],
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Drifted' });
    });

    it('ignores a hold for a phone already on route', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'])],
        phones: phones({ p1: ['routing'] }),
        holds: [{ phoneId: 'p1', trafficType: 'routing' }],
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'InSync' });
    });
  });

  describe('several resources of one account', () => {
    it('coalesces the changes of all resources into shared batches', () => {
      const plan = planRoutes({
        resources: [
          route('ns/b', 'routing', ['p3', 'p4']),
          route('ns/a', 'routing', ['p1', 'p2']),
          route('ns/c', 'direct', ['p5']),
        ],
        phones: phones({ p1: ['direct'], p2: ['routing'], p3: ['direct'], p4: ['direct'], p5: ['routing'] }),
      });
      expect(plan.resources.map((r) => r.key)).to.deep.equal(['ns/a', 'ns/b', 'ns/c']);
      expect(changesOf(plan)).to.deep.equal([
        { trafficType: 'direct', phoneIds: ['p5'], resourceKeys: ['ns/c'] },
        { trafficType: 'routing', phoneIds: ['p1', 'p3', 'p4'], resourceKeys: ['ns/a', 'ns/b'] },
      ]);
    });

    it('sends a phone two resources want on the same route once', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1']), route('ns/b', 'routing', ['p1'])],
        phones: phones({ p1: ['direct'] }),
      });
      expect(changesOf(plan)).to.deep.equal([
        { trafficType: 'routing', phoneIds: ['p1'], resourceKeys: ['ns/a', 'ns/b'] },
      ]);
      expect(conflictsOf(plan)).to.deep.equal([]);
      expect(resource(plan, 'ns/a').toChange).to.deep.equal(['p1']);
      expect(resource(plan, 'ns/b').toChange).to.deep.equal(['p1']);
    });

    it('reports a conflict on both resources and changes neither', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1', 'p2']), route('ns/b', 'direct', ['p1', 'p3'])],
        phones: phones({ p1: ['direct'], p2: ['direct'], p3: ['routing'] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Conflict', p2: 'Drifted' });
      expect(states(plan, 'ns/b')).to.deep.equal({ p1: 'Conflict', p3: 'Drifted' });
      expect(changesOf(plan)).to.deep.equal([
        { trafficType: 'direct', phoneIds: ['p3'], resourceKeys: ['ns/b'] },
        { trafficType: 'routing', phoneIds: ['p2'], resourceKeys: ['ns/a'] },
      ]);
      expect(conflictsOf(plan)).to.deep.equal(['p1']);
      expect(resource(plan, 'ns/a').phones[0]!.claimedBy).to.deep.equal([{ key: 'ns/b', trafficType: 'direct' }]);
      expect(resource(plan, 'ns/b').phones[0]!.claimedBy).to.deep.equal([{ key: 'ns/a', trafficType: 'routing' }]);
      expect(resource(plan, 'ns/a').counts.conflicted).to.equal(1);
    });

    it('a conflict holds even when the phone is on one of the routes (never flip-flop, never bless one side)', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1']), route('ns/b', 'direct', ['p1'])],
        phones: phones({ p1: ['routing'] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Conflict' });
      expect(states(plan, 'ns/b')).to.deep.equal({ p1: 'Conflict' });
      expect(resource(plan, 'ns/a').settled).to.equal(false);
    });

    it('a three-way claim: every acting resource on the phone reports the conflict', () => {
      const plan = planRoutes({
        resources: [
          route('ns/a', 'routing', ['p1']),
          route('ns/b', 'routing', ['p1']),
          route('ns/c', 'direct', ['p1']),
        ],
        phones: phones({ p1: ['direct'] }),
      });
      for (const key of ['ns/a', 'ns/b', 'ns/c']) expect(states(plan, key)).to.deep.equal({ p1: 'Conflict' });
      expect(resource(plan, 'ns/a').phones[0]!.claimedBy).to.deep.equal([{ key: 'ns/c', trafficType: 'direct' }]);
      expect(resource(plan, 'ns/c').phones[0]!.claimedBy).to.deep.equal([
        { key: 'ns/a', trafficType: 'routing' },
        { key: 'ns/b', trafficType: 'routing' },
      ]);
      expect(changesOf(plan)).to.deep.equal([]);
    });

    it('a conflict on an unknown phone is still NotFound', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['ghost']), route('ns/b', 'direct', ['ghost'])],
        phones: phones({}),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ ghost: 'NotFound' });
      expect(states(plan, 'ns/b')).to.deep.equal({ ghost: 'NotFound' });
      expect(changesOf(plan)).to.deep.equal([]);
    });

    it('the conflict ends when one resource lets the phone go, and the other acts', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1']), route('ns/b', 'direct', ['p2'])],
        phones: phones({ p1: ['direct'], p2: ['direct'] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Drifted' });
      expect(conflictsOf(plan)).to.deep.equal([]);
    });

    it('refuses the same resource twice', () => {
      expect(() =>
        planRoutes({ resources: [route('ns/a', 'routing', []), route('ns/a', 'direct', [])], phones: phones({}) }),
      ).to.throw(/twice/);
    });
  });

  describe('suspend', () => {
    it('a suspended resource reports drift and sends nothing', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1', 'p2'], { suspended: true })],
        phones: phones({ p1: ['direct'], p2: ['routing'] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Drifted', p2: 'InSync' });
      expect(resource(plan, 'ns/a').acting).to.equal(false);
      expect(resource(plan, 'ns/a').suspended).to.equal(true);
      expect(changesOf(plan)).to.deep.equal([]);
    });

    it('a suspended resource neither causes nor sees a conflict: the acting one wins', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'], { suspended: true }), route('ns/b', 'direct', ['p1'])],
        phones: phones({ p1: ['routing'] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'InSync' });
      expect(states(plan, 'ns/b')).to.deep.equal({ p1: 'Drifted' });
      expect(conflictsOf(plan)).to.deep.equal([]);
      expect(changesOf(plan)).to.deep.equal([{ trafficType: 'direct', phoneIds: ['p1'], resourceKeys: ['ns/b'] }]);
    });
  });

  describe('deletion', () => {
    it('Revert wants every phone back on direct', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1', 'p2'], { deleting: 'Revert' })],
        phones: phones({ p1: ['routing'], p2: ['direct'] }),
      });
      expect(resource(plan, 'ns/a').desired).to.equal('direct');
      expect(resource(plan, 'ns/a').deleting).to.equal('Revert');
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Drifted', p2: 'InSync' });
      expect(changesOf(plan)).to.deep.equal([{ trafficType: 'direct', phoneIds: ['p1'], resourceKeys: ['ns/a'] }]);
    });

    it('Revert leaves phones another live resource selects (Released), suspended or not', () => {
      const plan = planRoutes({
        resources: [
          route('ns/a', 'routing', ['p1', 'p2', 'p3'], { deleting: 'Revert' }),
          route('ns/b', 'routing', ['p1']),
          route('ns/c', 'routing', ['p2'], { suspended: true }),
        ],
        phones: phones({ p1: ['routing'], p2: ['routing'], p3: ['routing'] }),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Released', p2: 'Released', p3: 'Drifted' });
      expect(resource(plan, 'ns/a').phones[0]!.claimedBy).to.deep.equal([{ key: 'ns/b', trafficType: 'routing' }]);
      expect(states(plan, 'ns/b')).to.deep.equal({ p1: 'InSync' });
      expect(changesOf(plan)).to.deep.equal([{ trafficType: 'direct', phoneIds: ['p3'], resourceKeys: ['ns/a'] }]);
      expect(conflictsOf(plan)).to.deep.equal([]);
      expect(resource(plan, 'ns/a').counts.inSync).to.equal(2);
    });

    it('Revert is settled when every phone is direct, released or unknown', () => {
      const plan = planRoutes({
        resources: [
          route('ns/a', 'routing', ['p1', 'p2', 'ghost'], { deleting: 'Revert' }),
          route('ns/b', 'routing', ['p2']),
        ],
        phones: phones({ p1: ['direct'], p2: ['routing'] }),
      });
      expect(resource(plan, 'ns/a').settled).to.equal(true);
    });

    it('two resources reverting one phone send it once', () => {
      const plan = planRoutes({
        resources: [
          route('ns/a', 'routing', ['p1'], { deleting: 'Revert' }),
          route('ns/b', 'routing', ['p1'], { deleting: 'Revert' }),
        ],
        phones: phones({ p1: ['routing'] }),
      });
      expect(changesOf(plan)).to.deep.equal([
        { trafficType: 'direct', phoneIds: ['p1'], resourceKeys: ['ns/a', 'ns/b'] },
      ]);
    });

    it('a suspended resource being deleted with Revert does not revert', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'], { deleting: 'Revert', suspended: true })],
        phones: phones({ p1: ['routing'] }),
      });
      expect(changesOf(plan)).to.deep.equal([]);
      expect(resource(plan, 'ns/a').acting).to.equal(false);
    });

    it('Retain changes nothing and claims nothing', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'], { deleting: 'Retain' }), route('ns/b', 'direct', ['p1'])],
        phones: phones({ p1: ['routing'] }),
      });
      expect(resource(plan, 'ns/a').acting).to.equal(false);
      expect(states(plan, 'ns/b')).to.deep.equal({ p1: 'Drifted' });
      expect(conflictsOf(plan)).to.deep.equal([]);
      expect(changesOf(plan)).to.deep.equal([{ trafficType: 'direct', phoneIds: ['p1'], resourceKeys: ['ns/b'] }]);
    });
  });

  describe('changes', () => {
    // Cutting the changes into calls of 100 is the route writer's job (test/integration/controller-parts.test.ts).
    it('lists 250 drifted phones once each, sorted', () => {
      const ids = Array.from({ length: 250 }, (_, i) => id(i)).reverse();
      const actual = new Map(ids.map((p) => [p, { trafficType: 'direct' as const, status: RUNNING }]));
      const plan = planRoutes({ resources: [route('ns/a', 'routing', [...ids, ids[0]!])], phones: actual });
      expect(resource(plan, 'ns/a').toChange).to.deep.equal([...ids].sort());
    });
  });

  describe('determinism and scale', () => {
    it('gives the same plan whatever the order of its input', () => {
      const input: PlanInput = {
        resources: [route('ns/b', 'direct', ['p1', 'p4', 'p5']), route('ns/a', 'routing', ['p3', 'p2', 'p1'])],
        phones: phones({ p5: ['routing', STOPPED], p4: ['routing'], p3: ['direct'], p2: ['direct'], p1: ['direct'] }),
        jobs: [{ phoneId: 'p2', jobId: 'j', requestId: 'r', trafficType: 'routing' }],
      };
      const shuffled: PlanInput = {
        resources: [...input.resources].reverse().map((r) => ({ ...r, phoneIds: [...r.phoneIds].reverse() })),
        phones: new Map([...input.phones].reverse()),
        jobs: input.jobs,
      };
      expect(planRoutes(shuffled)).to.deep.equal(planRoutes(input));
    });

    it('does not mutate its input', () => {
      const resources = [route('ns/b', 'direct', ['p2', 'p1']), route('ns/a', 'routing', ['p1'])];
      const copy = JSON.parse(JSON.stringify(resources));
      planRoutes({ resources, phones: phones({ p1: ['direct'], p2: ['routing'] }) });
      expect(resources).to.deep.equal(copy);
    });

    it('every state counts under one summary key, and the counts add up to the total', () => {
      const plan = planRoutes({
        resources: [
          route('ns/a', 'routing', ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'ghost']),
          route('ns/b', 'direct', ['p6']),
        ],
        phones: phones({
          p1: ['routing'],
          p2: ['direct'],
          p3: ['direct'],
          p4: ['direct', STOPPED],
          p5: ['direct'],
          p6: ['direct'],
        }),
        jobs: [{ phoneId: 'p3', jobId: 'j', requestId: 'r', trafficType: 'routing' }],
        holds: [{ phoneId: 'p5', trafficType: 'routing' }],
      });
      expect(resource(plan, 'ns/a').counts).to.deep.equal({
        total: 7,
        inSync: 1,
        drifted: 1,
        pending: 1,
        failed: 1,
        conflicted: 1,
        notFound: 1,
        waiting: 1,
      });
      for (const state of [
        'InSync',
        'Drifted',
        'Pending',
        'Failed',
        'NotFound',
        'Conflict',
        'Waiting',
        'Released',
      ] as const) {
        expect(summaryKeyOf(state)).to.be.a('string');
      }
    });

    it('plans 10,000 phones across 4 resources, changing exactly the drifted ones', () => {
      const ids = Array.from({ length: 10_000 }, (_, i) => id(i));
      const actual = new Map(
        ids.map((p, i) => [p, { trafficType: (i % 3 === 0 ? 'routing' : 'direct') as TrafficType, status: RUNNING }]),
      );
      const resources = [0, 1, 2, 3].map((k) => route(`ns/r${k}`, 'routing', ids.slice(k * 2500, (k + 1) * 2500)));
      const plan = planRoutes({ resources, phones: actual });
      const drifted = ids.filter((_, i) => i % 3 !== 0).length;
      expect(plan.resources.reduce((n, r) => n + r.toChange.length, 0)).to.equal(drifted);
      expect(plan.resources.reduce((n, r) => n + r.counts.total, 0)).to.equal(10_000);
    });
  });

  describe('phones CPH reports oddly (issue 16)', () => {
    it('a route that is absent or neither direct nor routing is off route: the phone is changed, its value shown', () => {
      const odd = new Map<string, ActualPhone>([
        ['p1', { trafficType: undefined, unknownTrafficType: 'tunnel', status: RUNNING }],
        ['p2', { trafficType: undefined, status: RUNNING }],
        ['p3', { trafficType: 'routing', status: RUNNING }],
      ]);
      const plan = planRoutes({ resources: [route('ns/a', 'routing', ['p1', 'p2', 'p3'])], phones: odd });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Drifted', p2: 'Drifted', p3: 'InSync' });
      expect(resource(plan, 'ns/a').toChange).to.deep.equal(['p1', 'p2']);
      const [p1, p2] = resource(plan, 'ns/a').phones;
      expect(p1?.actual).to.equal('tunnel');
      expect(p2?.actual).to.equal(undefined);
    });

    it('a phone without a status is not known to run: Waiting, not changed', () => {
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'])],
        phones: new Map([['p1', { trafficType: 'direct', status: undefined }]]),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Waiting' });
      expect(changesOf(plan)).to.deep.equal([]);
      expect(resource(plan, 'ns/a').phones[0]?.phoneStatus).to.equal(undefined);
    });

    it('a change of unknown outcome is pending until the phone is read again: nothing is sent', () => {
      const unconfirmed = { trafficType: 'routing' as const, requestId: 'r1' };
      const plan = planRoutes({
        resources: [route('ns/a', 'routing', ['p1'])],
        phones: new Map([['p1', { trafficType: 'direct', status: RUNNING, unconfirmed }]]),
      });
      expect(states(plan, 'ns/a')).to.deep.equal({ p1: 'Pending' });
      expect(resource(plan, 'ns/a').phones[0]?.unconfirmed).to.deep.equal(unconfirmed);
      expect(changesOf(plan)).to.deep.equal([]);
    });
  });
});
