import { expect } from 'chai';
import {
  planRoutes,
  type ActualPhone,
  type DesiredRoute,
  type InFlightJob,
  type ResourcePlan,
  type RetryHold,
} from '../../src/controller/plan.js';
import {
  boundEntries,
  describeFailures,
  nextStatus,
  phoneStatusName,
  statusChanged,
  type PhoneEvent,
  type StatusInput,
} from '../../src/controller/status.js';
import { parseStatus } from '../../src/api/v1alpha1/parse.js';
import { CPH_UNAVAILABLE_STALL_MS } from '../../src/api/v1alpha1/conditions.js';
import type { CloudPhoneRouteStatus, Condition, PhoneStatusEntry } from '../../src/api/v1alpha1/types.js';
import type { TrafficType } from '../../src/cph/wire.js';

const T0 = Date.parse('2026-11-28T06:00:00Z');
const T1 = Date.parse('2026-11-28T06:05:00Z');
const T2 = Date.parse('2026-11-28T06:10:00Z');
const S0 = '2026-11-28T06:00:00Z';
const S1 = '2026-11-28T06:05:00Z';
const S2 = '2026-11-28T06:10:00Z';

const id = (n: number): string => n.toString(16).padStart(32, '0');

interface World {
  resources: DesiredRoute[];
  phones: Map<string, ActualPhone>;
  jobs?: InFlightJob[];
  holds?: RetryHold[];
}

function planOf(world: World, key = 'ns/a'): ResourcePlan {
  return planRoutes(world).resources.find((r) => r.key === key)!;
}

function fleet(ids: string[], trafficType: TrafficType, status = 2): Map<string, ActualPhone> {
  return new Map(ids.map((p) => [p, { trafficType, status }]));
}

function condition(status: CloudPhoneRouteStatus, type: string): Condition | undefined {
  return status.conditions?.find((c) => c.type === type);
}

/** What the API server hands back: JSON, parsed leniently as the controller will. */
function roundTrip(status: CloudPhoneRouteStatus): CloudPhoneRouteStatus {
  return parseStatus(JSON.parse(JSON.stringify(status)));
}

/** The jobs of changes just sent, as the tracker reports them in flight. */
function jobsFor(phoneIds: string[], trafficType: TrafficType, requestId = 'req-1'): InFlightJob[] {
  return phoneIds.map((phoneId) => ({ phoneId, trafficType, requestId, jobId: `job-${phoneId}` }));
}

function ended(
  phoneIds: string[],
  trafficType: TrafficType,
  state: 'succeeded' | 'failed',
  extra: { errorCode?: string; errorMessage?: string } = {},
): PhoneEvent[] {
  return phoneIds.map((phoneId) => ({
    kind: 'jobEnded',
    phoneId,
    trafficType,
    requestId: 'req-1',
    jobId: `job-${phoneId}`,
    state,
    ...extra,
  }));
}

describe('status', () => {
  const P = ['p1', 'p2', 'p3'];
  const routing = (extra: Partial<DesiredRoute> = {}): DesiredRoute => ({
    key: 'ns/a',
    trafficType: 'routing',
    phoneIds: P,
    suspended: false,
    ...extra,
  });

  describe('a resource converging, round by round', () => {
    // Round 1: all three drifted, changes sent: the tracker follows their jobs.
    const plan1 = planOf({ resources: [routing()], phones: fleet(P, 'direct'), jobs: jobsFor(P, 'routing') });
    const s1 = nextStatus({ generation: 1, plan: plan1, now: T0 });
    // Round 2: jobs still running (the tracker reports them in flight).
    const jobs = P.map((p) => ({ phoneId: p, jobId: `job-${p}`, requestId: 'req-1', trafficType: 'routing' as const }));
    const plan2 = planOf({ resources: [routing()], phones: fleet(P, 'direct'), jobs });
    const s2 = nextStatus({ generation: 1, previous: roundTrip(s1), plan: plan2, now: T1 });
    // Round 3: the jobs ended well; the inventory learnt the new routes.
    const plan3 = planOf({ resources: [routing()], phones: fleet(P, 'routing') });
    const s3 = nextStatus({
      generation: 1,
      previous: roundTrip(s2),
      plan: plan3,
      events: ended(P, 'routing', 'succeeded'),
      now: T2,
    });

    it('round 1 lists the jobs just started, Ready=False JobsPending, Reconciling=True', () => {
      expect(s1.observedGeneration).to.equal(1);
      expect(s1.summary).to.deep.equal({
        total: 3,
        inSync: 0,
        drifted: 0,
        pending: 3,
        failed: 0,
        conflicted: 0,
        notFound: 0,
        waiting: 0,
      });
      expect(s1.phones).to.deep.equal(
        P.map((p) => ({
          phoneId: p,
          state: 'Pending',
          actual: 'direct',
          desired: 'routing',
          jobId: `job-${p}`,
          jobStatus: 'Running',
          requestId: 'req-1',
          lastTransitionTime: S0,
        })),
      );
      expect(s1.phonesTruncated).to.equal(0);
      expect(condition(s1, 'Ready')).to.deep.equal({
        type: 'Ready',
        status: 'False',
        observedGeneration: 1,
        lastTransitionTime: S0,
        reason: 'JobsPending',
        message: '3 pending (route-change jobs running); 0 of 3 phones on routing',
      });
      expect(condition(s1, 'Reconciling')?.reason).to.equal('JobsPending');
      expect(condition(s1, 'Stalled')).to.equal(undefined);
    });

    it('round 2, nothing new: deep-equal to round 1, so no write', () => {
      expect(s2).to.deep.equal(s1);
      expect(statusChanged(roundTrip(s1), s2)).to.equal(false);
    });

    it('round 3 records the changes, Ready=True InSync, Reconciling gone', () => {
      expect(s3.summary!.inSync).to.equal(3);
      expect(s3.phones!.map((e) => [e.state, e.jobStatus, e.actual, e.lastTransitionTime])).to.deep.equal(
        P.map(() => ['Changed', 'Succeeded', 'routing', S2]),
      );
      expect(condition(s3, 'Ready')).to.deep.include({
        status: 'True',
        reason: 'InSync',
        message: 'all 3 phones on routing',
        lastTransitionTime: S2,
      });
      expect(s3.conditions!.map((c) => c.type)).to.deep.equal(['Ready']);
      expect(statusChanged(roundTrip(s2), s3)).to.equal(true);
    });

    it('steady state afterwards: the same status every round, whatever the time', () => {
      let previous = roundTrip(s3);
      for (const now of [T2 + 60_000, T2 + 3600_000, T2 + 86_400_000]) {
        const next = nextStatus({
          generation: 1,
          previous,
          plan: planOf({ resources: [routing()], phones: fleet(P, 'routing') }),
          now,
        });
        expect(next).to.deep.equal(previous);
        expect(statusChanged(previous, next)).to.equal(false);
        previous = roundTrip(next);
      }
    });

    it('a new generation moves observedGeneration but keeps the transition times', () => {
      const next = nextStatus({ generation: 2, previous: roundTrip(s3), plan: plan3, now: T2 + 60_000 });
      expect(next.observedGeneration).to.equal(2);
      expect(condition(next, 'Ready')).to.deep.include({ observedGeneration: 2, lastTransitionTime: S2 });
      expect(next.phones).to.deep.equal(s3.phones);
    });

    it('an out-of-band change is reported and corrected, then the entry records the new job', () => {
      const drifted = fleet(P, 'routing');
      drifted.set('p2', { trafficType: 'direct', status: 2 });
      const next = nextStatus({
        generation: 1,
        previous: roundTrip(s3),
        plan: planOf({ resources: [routing()], phones: drifted, jobs: jobsFor(['p2'], 'routing', 'req-2') }),
        now: T2 + 60_000,
      });
      const p2 = next.phones!.find((e) => e.phoneId === 'p2')!;
      expect(p2).to.deep.include({ state: 'Pending', requestId: 'req-2', jobStatus: 'Running', actual: 'direct' });
      expect(p2.lastTransitionTime).to.equal('2026-11-28T06:11:00Z');
      expect(next.phones!.find((e) => e.phoneId === 'p1')).to.deep.equal(s3.phones![0]);
      expect(condition(next, 'Ready')).to.deep.include({ status: 'False', reason: 'JobsPending' });
    });
  });

  describe('per-phone outcomes', () => {
    it('a phone refused inside the 200 (CPS.0005) is Failed with its code; the others go on', () => {
      const plan = planOf({
        resources: [routing()],
        phones: fleet(P, 'direct'),
        jobs: jobsFor(['p1', 'p2'], 'routing'),
        holds: [{ phoneId: 'p3', trafficType: 'routing', requestId: 'req-1', errorCode: 'CPS.0005', errorMessage: '' }],
      });
      const s = nextStatus({ generation: 1, plan, now: T0 });
      expect(s.phones!.find((e) => e.phoneId === 'p3')).to.deep.equal({
        phoneId: 'p3',
        state: 'Failed',
        actual: 'direct',
        desired: 'routing',
        requestId: 'req-1',
        errorCode: 'CPS.0005',
        errorMessage: 'phone not found',
        lastTransitionTime: S0,
      });
      expect(s.summary).to.deep.include({ pending: 2, failed: 1 });
      expect(condition(s, 'Ready')).to.deep.include({ reason: 'JobFailed' });
      expect(condition(s, 'Ready')!.message).to.equal(
        '1 of 3 phones failed: CPS.0005 phone not found (1); 2 pending (route-change jobs running); 0 of 3 phones on routing',
      );
      expect(condition(s, 'Reconciling')?.reason).to.equal('JobsPending');
    });

    it('says what failed and how often: "3 of 120 phones failed: CPS.0005 phone not found (2), job failed (1)"', () => {
      const ids = Array.from({ length: 120 }, (_, i) => id(i));
      const actual = fleet(ids, 'routing');
      for (const p of ids.slice(0, 3)) actual.set(p, { trafficType: 'direct', status: 2 });
      const holds: RetryHold[] = [
        {
          phoneId: ids[0]!,
          trafficType: 'routing',
          errorCode: 'CPS.0005',
          errorMessage: 'phone not found',
          requestId: 'r',
        },
        {
          phoneId: ids[1]!,
          trafficType: 'routing',
          errorCode: 'CPS.0005',
          errorMessage: 'phone not found',
          requestId: 'r',
        },
        { phoneId: ids[2]!, trafficType: 'routing', jobId: 'j3', requestId: 'r', errorMessage: '' },
      ];
      const s = nextStatus({
        generation: 1,
        plan: planOf({
          resources: [{ key: 'ns/a', trafficType: 'routing', phoneIds: ids, suspended: false }],
          phones: actual,
          holds,
        }),
        now: T0,
      });
      expect(condition(s, 'Ready')!.message).to.equal(
        '3 of 120 phones failed: CPS.0005 phone not found (2), job failed (1); 117 of 120 phones on routing',
      );
      expect(condition(s, 'Reconciling')).to.deep.include({ reason: 'JobFailed' });
      expect(s.phones!.find((e) => e.phoneId === ids[2])).to.deep.include({
        state: 'Failed',
        jobId: 'j3',
        jobStatus: 'Failed',
        errorMessage: 'the route-change job failed',
      });
    });

    it('a failed job is Failed with the job, its code and message', () => {
      const plan = planOf({ resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'direct') });
      const s = nextStatus({
        generation: 1,
        plan,
        events: ended(['p1'], 'routing', 'failed', {
          errorCode: 'CPS.0003',
          errorMessage: 'internal error, retry later',
        }),
        now: T0,
      });
      expect(s.phones).to.deep.equal([
        {
          phoneId: 'p1',
          state: 'Failed',
          actual: 'direct',
          desired: 'routing',
          jobId: 'job-p1',
          jobStatus: 'Failed',
          requestId: 'req-1',
          errorCode: 'CPS.0003',
          errorMessage: 'internal error, retry later',
          lastTransitionTime: S0,
        },
      ]);
      expect(condition(s, 'Ready')!.message).to.contain('1 of 1 phone failed: CPS.0003 CPH internal error (1)');
    });

    it('a failure held back next round reads exactly as the round that reported it: no write', () => {
      // p1 was refused inside the 200 (held since), p2's job ends failed in this round.
      const refused: RetryHold = {
        phoneId: 'p1',
        trafficType: 'routing',
        requestId: 'req-1',
        errorCode: 'CPS.0005',
        errorMessage: '',
      };
      const plan = planOf({
        resources: [routing({ phoneIds: ['p1', 'p2'] })],
        phones: fleet(['p1', 'p2'], 'direct'),
        holds: [refused],
      });
      const first = nextStatus({ generation: 1, plan, events: ended(['p2'], 'routing', 'failed'), now: T0 });
      // The controller now holds both phones back, with what the events said.
      const holds: RetryHold[] = [
        refused,
        { phoneId: 'p2', trafficType: 'routing', requestId: 'req-1', jobId: 'job-p2' },
      ];
      const held = planOf({
        resources: [routing({ phoneIds: ['p1', 'p2'] })],
        phones: fleet(['p1', 'p2'], 'direct'),
        holds,
      });
      const second = nextStatus({ generation: 1, previous: roundTrip(first), plan: held, now: T1 });
      expect(second).to.deep.equal(first);
      expect(first.phones!.map((e) => e.errorMessage)).to.deep.equal([
        'phone not found',
        'the route-change job failed',
      ]);
    });

    it('clips a long error message to the schema bound', () => {
      const plan = planOf({
        resources: [routing({ phoneIds: ['p1'] })],
        phones: fleet(['p1'], 'direct'),
        holds: [{ phoneId: 'p1', trafficType: 'routing', errorCode: 'X', errorMessage: 'e'.repeat(5000) }],
      });
      const s = nextStatus({ generation: 1, plan, now: T0 });
      expect(s.phones![0]!.errorMessage!.length).to.equal(1024);
    });

    it('ignores events for the other route (the spec changed since they were sent)', () => {
      const plan = planOf({ resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'routing') });
      const s = nextStatus({ generation: 2, plan, events: ended(['p1'], 'direct', 'succeeded'), now: T0 });
      expect(s.phones).to.deep.equal([]);
      expect(condition(s, 'Ready')?.status).to.equal('True');
    });

    it('a pending phone that is in sync with no word of its job keeps the job, outcome Unknown', () => {
      const previous: CloudPhoneRouteStatus = {
        phones: [
          {
            phoneId: 'p1',
            state: 'Pending',
            desired: 'routing',
            jobId: 'j',
            jobStatus: 'Running',
            requestId: 'r',
            lastTransitionTime: S0,
          },
        ],
      };
      const s = nextStatus({
        generation: 1,
        previous,
        plan: planOf({ resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'routing') }),
        now: T1,
      });
      expect(s.phones).to.deep.equal([
        {
          phoneId: 'p1',
          state: 'InSync',
          actual: 'routing',
          desired: 'routing',
          jobId: 'j',
          jobStatus: 'Unknown',
          requestId: 'r',
          lastTransitionTime: S1,
        },
      ]);
      expect(condition(s, 'Ready')?.status).to.equal('True');
    });

    it('a phone a job for the other route still holds says so', () => {
      const plan = planOf({
        resources: [routing({ trafficType: 'direct', phoneIds: ['p1'] })],
        phones: fleet(['p1'], 'direct'),
        jobs: [{ phoneId: 'p1', jobId: 'j', requestId: 'r', trafficType: 'routing' }],
      });
      const s = nextStatus({ generation: 2, plan, now: T0 });
      expect(s.phones![0]!.errorMessage).to.equal(
        'a job setting routing is still running; the route is corrected to direct once it ends',
      );
    });

    it('drops the entries of phones no longer selected', () => {
      const previous: CloudPhoneRouteStatus = {
        phones: [{ phoneId: 'gone', state: 'Failed', desired: 'routing', errorCode: 'X', lastTransitionTime: S0 }],
      };
      const s = nextStatus({
        generation: 2,
        previous,
        plan: planOf({ resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'routing') }),
        now: T1,
      });
      expect(s.phones).to.deep.equal([]);
    });

    it('forgets a problem once the phone is in line without the operator (no entry)', () => {
      const previous: CloudPhoneRouteStatus = {
        phones: [{ phoneId: 'p1', state: 'Waiting', desired: 'routing', lastTransitionTime: S0 }],
      };
      const s = nextStatus({
        generation: 1,
        previous,
        plan: planOf({ resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'routing') }),
        now: T1,
      });
      expect(s.phones).to.deep.equal([]);
    });

    it('drops a Changed entry when the wanted route changed', () => {
      const previous: CloudPhoneRouteStatus = {
        phones: [
          {
            phoneId: 'p1',
            state: 'Changed',
            desired: 'routing',
            jobId: 'j',
            jobStatus: 'Succeeded',
            lastTransitionTime: S0,
          },
        ],
      };
      const s = nextStatus({
        generation: 2,
        previous,
        plan: planOf({
          resources: [routing({ trafficType: 'direct', phoneIds: ['p1'] })],
          phones: fleet(['p1'], 'direct'),
        }),
        now: T1,
      });
      expect(s.phones).to.deep.equal([]);
    });

    it('keeps an entry time while the state and job stay, moves it when either changes', () => {
      const world = { resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'direct') };
      const plan = planOf({ ...world, jobs: jobsFor(['p1'], 'routing') });
      const first = nextStatus({ generation: 1, plan, now: T0 });
      const same = nextStatus({ generation: 1, previous: roundTrip(first), plan, now: T1 });
      expect(same.phones![0]!.lastTransitionTime).to.equal(S0);
      const resent = nextStatus({
        generation: 1,
        previous: roundTrip(first),
        plan: planOf({
          ...world,
          jobs: [{ phoneId: 'p1', trafficType: 'routing', requestId: 'req-9', jobId: 'job-9' }],
        }),
        now: T1,
      });
      expect(resent.phones![0]).to.deep.include({ jobId: 'job-9', lastTransitionTime: S1 });
    });
  });

  describe('conditions', () => {
    it('a conflict alone: Ready=False Conflict, Stalled=True, no Reconciling; the message names the other resource', () => {
      const world = {
        resources: [
          routing({ phoneIds: ['p1', 'p2'] }),
          { key: 'ns/b', trafficType: 'direct' as const, phoneIds: ['p1'], suspended: false },
        ],
        phones: fleet(['p1', 'p2'], 'routing'),
      };
      const s = nextStatus({ generation: 1, plan: planOf(world), now: T0 });
      expect(condition(s, 'Ready')).to.deep.include({ status: 'False', reason: 'Conflict' });
      expect(condition(s, 'Stalled')).to.deep.include({ status: 'True', reason: 'Conflict' });
      expect(condition(s, 'Reconciling')).to.equal(undefined);
      expect(s.phones![0]).to.deep.include({
        phoneId: 'p1',
        state: 'Conflict',
        errorMessage: 'also selected by ns/b (direct); neither resource changes the phone until one of them lets it go',
      });
      expect(s.summary).to.deep.include({ conflicted: 1, inSync: 1 });
      const b = nextStatus({ generation: 1, plan: planOf(world, 'ns/b'), now: T0 });
      expect(b.phones![0]!.errorMessage).to.contain('ns/a (routing)');
    });

    it('a conflict with a route of another namespace names the namespace\'s route only as "another namespace"', () => {
      const world = {
        resources: [
          routing({ phoneIds: ['p1'] }),
          { key: 'team-b/grab', trafficType: 'direct' as const, phoneIds: ['p1'], suspended: false },
        ],
        phones: fleet(['p1'], 'routing'),
      };
      const a = nextStatus({ generation: 1, plan: planOf(world), now: T0 });
      expect(a.phones![0]!.errorMessage).to.equal(
        'also selected by a CloudPhoneRoute in another namespace (direct); neither resource changes the phone until one of them lets it go',
      );
      expect(JSON.stringify(a)).to.not.contain('team-b').and.not.contain('grab');
      const b = nextStatus({ generation: 1, plan: planOf(world, 'team-b/grab'), now: T0 });
      expect(JSON.stringify(b)).to.not.contain('ns/a');
    });

    it('phones outside the account scope: Ready=False and Stalled PhonesOutOfScope naming them; the rest still progresses', () => {
      const world = { resources: [routing({ phoneIds: ['p1', 'p2'] })], phones: fleet(['p1', 'p2'], 'direct') };
      const s = nextStatus({
        generation: 1,
        plan: planOf({ ...world, jobs: jobsFor(['p1', 'p2'], 'routing') }),
        outOfScope: { phoneIds: ['p9'], account: 'ClusterCloudPhoneAccount shared' },
        now: T0,
      });
      expect(condition(s, 'Ready')).to.deep.include({ status: 'False', reason: 'PhonesOutOfScope' });
      expect(condition(s, 'Stalled')).to.deep.include({ status: 'True', reason: 'PhonesOutOfScope' });
      expect(condition(s, 'Stalled')?.message)
        .to.contain('p9')
        .and.contain('ClusterCloudPhoneAccount shared')
        .and.contain('never changed');
      expect(condition(s, 'Reconciling')?.reason).to.equal('JobsPending');
      const settled = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'routing') }),
        outOfScope: { phoneIds: ['p9'], account: 'a' },
        now: T0,
      });
      expect(condition(settled, 'Ready')?.reason).to.equal('PhonesOutOfScope');
      expect(condition(settled, 'Reconciling')).to.equal(undefined);
    });

    it('a conflict while other phones progress: Reconciling=True, not Stalled', () => {
      const world = {
        resources: [
          routing({ phoneIds: ['p1', 'p2'] }),
          { key: 'ns/b', trafficType: 'direct' as const, phoneIds: ['p1'], suspended: false },
        ],
        phones: fleet(['p1', 'p2'], 'direct'),
      };
      const s = nextStatus({ generation: 1, plan: planOf({ ...world, jobs: jobsFor(['p2'], 'routing') }), now: T0 });
      expect(condition(s, 'Ready')?.reason).to.equal('Conflict');
      expect(condition(s, 'Reconciling')?.reason).to.equal('JobsPending');
      expect(condition(s, 'Stalled')).to.equal(undefined);
    });

    it('unknown phones alone: Stalled=True PhonesNotFound, the message says to check spec.phoneIds', () => {
      const s = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing({ phoneIds: ['ghost', 'p1'] })], phones: fleet(['p1'], 'routing') }),
        now: T0,
      });
      expect(condition(s, 'Ready')).to.deep.include({
        status: 'False',
        reason: 'PhonesNotFound',
        message: '1 not found in CPH (check spec.phoneIds); 1 of 2 phones on routing',
      });
      expect(condition(s, 'Stalled')?.reason).to.equal('PhonesNotFound');
      expect(s.phones![0]).to.deep.equal({
        phoneId: 'ghost',
        state: 'NotFound',
        desired: 'routing',
        errorCode: 'CPS.0005',
        errorMessage: 'CPH does not know this phone in the project; check spec.phoneIds',
        lastTransitionTime: S0,
      });
    });

    it('phones not running: Reconciling=True PhonesNotRunning, the entry names the CPH status', () => {
      const s = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'direct', 8) }),
        now: T0,
      });
      expect(condition(s, 'Ready')?.reason).to.equal('PhonesNotRunning');
      expect(condition(s, 'Reconciling')?.reason).to.equal('PhonesNotRunning');
      expect(s.phones![0]!.errorMessage).to.equal(
        'the phone is stopped (CPH status 8); its route is changed once it is running',
      );
      expect(phoneStatusName(-7)).to.equal('abnormal');
      expect(phoneStatusName(42)).to.equal('status 42');
    });

    it('drifted phones not sent (round cut short): Ready=False ApplyingRoute, Reconciling=True', () => {
      const s = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing({ phoneIds: ['p1'] })], phones: fleet(['p1'], 'direct') }),
        now: T0,
      });
      expect(condition(s, 'Ready')?.reason).to.equal('ApplyingRoute');
      expect(condition(s, 'Reconciling')?.reason).to.equal('ApplyingRoute');
      expect(s.phones![0]).to.deep.include({
        state: 'Drifted',
        errorMessage: 'on direct, wanted routing; the change has not been sent yet',
      });
    });

    it('suspended: Ready=False Suspended with the counts, nothing else', () => {
      const s = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing({ suspended: true })], phones: fleet(P, 'direct') }),
        now: T0,
      });
      expect(s.conditions).to.deep.equal([
        {
          type: 'Ready',
          status: 'False',
          observedGeneration: 1,
          lastTransitionTime: S0,
          reason: 'Suspended',
          message: 'suspended (spec.suspend): the operator changes nothing; 3 drifted; 0 of 3 phones on routing',
        },
      ]);
      expect(s.phones![0]).to.deep.include({ state: 'Drifted', errorMessage: 'suspended: the route is not corrected' });
    });

    it('deleting with Revert: Reconciling=True Deleting until settled', () => {
      const world = { resources: [routing({ deleting: 'Revert' as const })], phones: fleet(P, 'routing') };
      const s = nextStatus({ generation: 1, plan: planOf({ ...world, jobs: jobsFor(P, 'direct') }), now: T0 });
      expect(condition(s, 'Ready')).to.deep.include({ status: 'False', reason: 'Deleting' });
      expect(condition(s, 'Reconciling')?.reason).to.equal('Deleting');
      const done = nextStatus({
        generation: 1,
        previous: roundTrip(s),
        plan: planOf({ ...world, phones: fleet(P, 'direct') }),
        events: ended(P, 'direct', 'succeeded'),
        now: T1,
      });
      expect(condition(done, 'Reconciling')).to.equal(undefined);
      expect(condition(done, 'Ready')!.message).to.contain('every phone is back on direct');
    });

    it('deleting with Retain says the phones keep their route', () => {
      const s = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing({ deleting: 'Retain' })], phones: fleet(P, 'routing') }),
        now: T0,
      });
      expect(condition(s, 'Ready')).to.deep.include({
        reason: 'Deleting',
        message: 'deleting: the phones keep their route (deletionPolicy Retain)',
      });
    });

    it('no phone selected: Ready=True NoPhonesSelected', () => {
      const s = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing({ phoneIds: [] })], phones: new Map() }),
        now: T0,
      });
      expect(condition(s, 'Ready')).to.deep.include({ status: 'True', reason: 'NoPhonesSelected' });
      expect(s.summary!.total).to.equal(0);
    });

    for (const reason of ['CredentialsInvalid', 'PermissionDenied', 'AccountRestricted', 'InvalidSpec'] as const) {
      it(`a round failing with ${reason} stalls and keeps what was known`, () => {
        const previous = roundTrip(
          nextStatus({ generation: 1, plan: planOf({ resources: [routing()], phones: fleet(P, 'routing') }), now: T0 }),
        );
        const s = nextStatus({
          generation: 1,
          previous,
          desired: 'routing',
          failure: {
            reason,
            message: 'CPH refused the AK/SK of Secret ns/cph (APIGW.0301); fix the Secret',
            stalled: true,
          },
          now: T1,
        });
        expect(condition(s, 'Ready')).to.deep.include({ status: 'False', reason, lastTransitionTime: S1 });
        expect(condition(s, 'Ready')!.message).to.equal(
          'CPH refused the AK/SK of Secret ns/cph (APIGW.0301); fix the Secret. Last known: 3 of 3 phones on routing',
        );
        expect(condition(s, 'Stalled')).to.deep.include({ status: 'True', reason });
        expect(condition(s, 'Reconciling')).to.equal(undefined);
        expect(s.summary).to.deep.equal(previous.summary);
        expect(s.phones).to.deep.equal(previous.phones);
        // The same failure next round changes nothing; the fix clears Stalled.
        expect(
          nextStatus({
            generation: 1,
            previous: roundTrip(s),
            desired: 'routing',
            failure: {
              reason,
              message: 'CPH refused the AK/SK of Secret ns/cph (APIGW.0301); fix the Secret',
              stalled: true,
            },
            now: T2,
          }),
        ).to.deep.equal(s);
        const fixed = nextStatus({
          generation: 1,
          previous: roundTrip(s),
          plan: planOf({ resources: [routing()], phones: fleet(P, 'routing') }),
          now: T2,
        });
        expect(fixed.conditions!.map((c) => [c.type, c.status, c.reason])).to.deep.equal([['Ready', 'True', 'InSync']]);
      });
    }

    for (const reason of ['CphUnavailable', 'Throttled'] as const) {
      it(`a round failing with ${reason} is retried: Reconciling=True, not Stalled`, () => {
        const s = nextStatus({
          generation: 1,
          failure: { reason, message: 'CPH answered 503 (CPS.0003)', stalled: false },
          now: T0,
        });
        expect(condition(s, 'Ready')).to.deep.include({
          status: 'False',
          reason,
          message: 'CPH answered 503 (CPS.0003)',
        });
        expect(condition(s, 'Reconciling')).to.deep.include({
          reason,
          message: 'retrying with backoff: CPH answered 503 (CPS.0003)',
        });
        expect(condition(s, 'Stalled')).to.equal(undefined);
        expect(s.summary).to.deep.equal({
          total: 0,
          inSync: 0,
          drifted: 0,
          pending: 0,
          failed: 0,
          conflicted: 0,
          notFound: 0,
          waiting: 0,
        });
        expect(s.phones).to.deep.equal([]);
        expect(s.phonesTruncated).to.equal(0);
      });
    }

    it('a CphUnavailable failure that stalls (a long outage: src/controller/failure.ts) says Stalled; recovery clears it', () => {
      const message = 'could not connect (ECONNRESET)';
      const short = nextStatus({
        generation: 1,
        failure: { reason: 'CphUnavailable', message, stalled: false },
        now: T0 + CPH_UNAVAILABLE_STALL_MS - 1000,
      });
      expect(condition(short, 'Reconciling')).to.deep.include({ status: 'True', reason: 'CphUnavailable' });
      expect(condition(short, 'Stalled')).to.equal(undefined);
      const long = nextStatus({
        generation: 1,
        previous: roundTrip(short),
        failure: { reason: 'CphUnavailable', message, stalled: true },
        now: T0 + CPH_UNAVAILABLE_STALL_MS,
      });
      expect(condition(long, 'Stalled')).to.deep.include({ status: 'True', reason: 'CphUnavailable' });
      expect(condition(long, 'Stalled')!.message).to.include(message);
      expect(condition(long, 'Reconciling')).to.equal(undefined);
      expect(condition(long, 'Ready')).to.deep.include({ status: 'False', reason: 'CphUnavailable' });
      // Recovery without a restart: the next good round clears Stalled.
      const healed = nextStatus({
        generation: 1,
        previous: roundTrip(long),
        plan: planOf({ resources: [routing()], phones: fleet(P, 'routing') }),
        now: T2,
      });
      expect(healed.conditions!.map((c) => [c.type, c.status, c.reason])).to.deep.equal([['Ready', 'True', 'InSync']]);
    });

    it('a failure with a plan reports the plan counts', () => {
      const s = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing()], phones: fleet(P, 'direct') }),
        failure: { reason: 'CphUnavailable', message: 'phones-traffic timed out', stalled: false },
        now: T0,
      });
      expect(condition(s, 'Ready')!.message).to.equal(
        'phones-traffic timed out. Last known: 3 drifted; 0 of 3 phones on routing',
      );
      expect(s.summary!.drifted).to.equal(3);
    });

    it('keeps foreign condition types another tool added', () => {
      const previous: CloudPhoneRouteStatus = {
        conditions: [
          { type: 'example.com/Audited', status: 'True', lastTransitionTime: S0, reason: 'Ok', message: '' },
        ],
      };
      const s = nextStatus({
        generation: 1,
        previous,
        plan: planOf({ resources: [routing()], phones: fleet(P, 'routing') }),
        now: T1,
      });
      expect(s.conditions!.map((c) => c.type)).to.deep.equal(['Ready', 'example.com/Audited']);
    });
  });

  describe('bounds', () => {
    const entry = (phoneId: string, state: PhoneStatusEntry['state'], lastTransitionTime = S0): PhoneStatusEntry => ({
      phoneId,
      state,
      lastTransitionTime,
    });

    it('keeps failures first, then not found, conflicts, pending, waiting, drifted, then the most recent changes', () => {
      const entries = [
        entry('a-changed-old', 'Changed', S0),
        entry('b-changed-new', 'Changed', S2),
        entry('c-drifted', 'Drifted'),
        entry('d-waiting', 'Waiting'),
        entry('e-pending', 'Pending'),
        entry('f-conflict', 'Conflict'),
        entry('g-notfound', 'NotFound'),
        entry('h-failed', 'Failed'),
        entry('i-insync', 'InSync', S1),
      ];
      const keep = (n: number): string[] => boundEntries(entries, n).kept.map((e) => e.phoneId);
      expect(keep(1)).to.deep.equal(['h-failed']);
      expect(keep(3)).to.deep.equal(['f-conflict', 'g-notfound', 'h-failed']);
      expect(keep(7)).to.deep.equal(
        ['c-drifted', 'd-waiting', 'e-pending', 'f-conflict', 'g-notfound', 'h-failed', 'b-changed-new'].sort(),
      );
      expect(keep(8)).to.deep.equal([
        'b-changed-new',
        'c-drifted',
        'd-waiting',
        'e-pending',
        'f-conflict',
        'g-notfound',
        'h-failed',
        'i-insync',
      ]);
      expect(boundEntries(entries, 3).truncated).to.equal(6);
      expect(boundEntries(entries, 100)).to.deep.equal({
        kept: [...entries].sort((x, y) => (x.phoneId < y.phoneId ? -1 : 1)),
        truncated: 0,
      });
    });

    it('describeFailures groups, orders by count and caps the list', () => {
      const failed: PhoneStatusEntry[] = [
        ...Array.from({ length: 3 }, (_, i) => ({ phoneId: `a${i}`, state: 'Failed' as const, errorCode: 'CPS.0005' })),
        { phoneId: 'b', state: 'Failed', jobStatus: 'Failed' },
        { phoneId: 'c', state: 'Failed', errorCode: 'CPS.9999', errorMessage: 'something odd; more detail' },
        ...['X1', 'X2', 'X3', 'X4'].map((code) => ({ phoneId: code, state: 'Failed' as const, errorCode: code })),
      ];
      expect(describeFailures(failed)).to.equal(
        'CPS.0005 phone not found (3), CPS.9999 something odd (1), X1 error (1), X2 error (1), X3 error (1), 2 more kinds',
      );
    });

    it('10,000 phones, 3,000 of them failing: the status stays small and stable', () => {
      const ids = Array.from({ length: 10_000 }, (_, i) => id(i));
      const actual = fleet(ids, 'routing');
      const holds: RetryHold[] = [];
      for (const p of ids.slice(0, 3000)) {
        actual.set(p, { trafficType: 'direct', status: 2 });
        holds.push({
          phoneId: p,
          trafficType: 'routing',
          errorCode: 'CPS.0003',
          errorMessage: 'internal error, retry later',
          jobId: `job-${p}`,
          requestId: 'req-00000000000000000000000000000000',
        });
      }
      const world = {
        resources: [{ key: 'ns/a', trafficType: 'routing' as const, phoneIds: ids, suspended: false }],
        phones: actual,
        holds,
      };
      const s = nextStatus({ generation: 7, plan: planOf(world), now: T0 });
      expect(s.summary).to.deep.include({ total: 10_000, inSync: 7000, failed: 3000 });
      expect(s.phones).to.have.length(100);
      expect(s.phonesTruncated).to.equal(2900);
      expect(s.phones!.every((e) => e.state === 'Failed')).to.equal(true);
      expect(s.phones!.map((e) => e.phoneId)).to.deep.equal(ids.slice(0, 100));
      const bytes = Buffer.byteLength(JSON.stringify(s));
      expect(bytes, `${bytes} bytes`).to.be.below(64 * 1024);
      expect(condition(s, 'Ready')!.message).to.equal(
        '3000 of 10000 phones failed: CPS.0003 CPH internal error (3000); 7000 of 10000 phones on routing',
      );
      // Next round, same world: no write.
      expect(
        statusChanged(
          roundTrip(s),
          nextStatus({ generation: 7, previous: roundTrip(s), plan: planOf(world), now: T2 }),
        ),
      ).to.equal(false);
    });

    it('10,000 phones converged after a change of all of them: 20 recent changes listed, stable at once', () => {
      const ids = Array.from({ length: 10_000 }, (_, i) => id(i));
      const world = {
        resources: [{ key: 'ns/a', trafficType: 'routing' as const, phoneIds: ids, suspended: false }],
        phones: fleet(ids, 'routing'),
      };
      const s = nextStatus({ generation: 1, plan: planOf(world), events: ended(ids, 'routing', 'succeeded'), now: T0 });
      expect(s.phones).to.have.length(20);
      expect(s.phones!.every((e) => e.state === 'Changed' && e.jobStatus === 'Succeeded' && e.jobId)).to.equal(true);
      // Successes past the 20 listed are counted in sync, not as entries that did not fit.
      expect(s.phonesTruncated).to.equal(0);
      expect(s.summary).to.include({ total: 10_000, inSync: 10_000 });
      expect(Buffer.byteLength(JSON.stringify(s))).to.be.below(8 * 1024);
      const next = nextStatus({ generation: 1, previous: roundTrip(s), plan: planOf(world), now: T1 });
      expect(statusChanged(roundTrip(s), next), 'the round after converging writes nothing').to.equal(false);
      expect(nextStatus({ generation: 1, previous: roundTrip(next), plan: planOf(world), now: T2 })).to.deep.equal(
        next,
      );
    });

    it('samples running jobs: 100 pending phones and 5 failed list the 5 and 20 pending, all counted', () => {
      const entries: PhoneStatusEntry[] = [
        ...Array.from({ length: 100 }, (_, i) => ({
          phoneId: id(i),
          state: 'Pending' as const,
          jobId: `j${i}`,
          jobStatus: 'Running' as const,
        })),
        ...Array.from({ length: 5 }, (_, i) => ({
          phoneId: id(200 + i),
          state: 'Failed' as const,
          errorCode: 'CPS.0003',
        })),
      ];
      const { kept, truncated } = boundEntries(entries, 100, { pending: 20, changed: 20 });
      expect(kept.filter((e) => e.state === 'Failed')).to.have.length(5);
      expect(kept.filter((e) => e.state === 'Pending').map((e) => e.phoneId)).to.deep.equal(
        Array.from({ length: 20 }, (_, i) => id(i)),
      );
      expect(truncated).to.equal(0);
      // Without sampling, the bound alone decides.
      expect(boundEntries(entries, 100).kept).to.have.length(100);
      expect(boundEntries(entries, 100).truncated).to.equal(5);
    });

    it('lists problems before successes: 90 failed and 30 changed phones keep 90 + 10; the 10 changes with no room are truncated', () => {
      const ids = Array.from({ length: 120 }, (_, i) => id(i));
      const world = {
        resources: [{ key: 'ns/a', trafficType: 'routing' as const, phoneIds: ids, suspended: false }],
        phones: fleet(ids, 'direct'),
      };
      const events = [...ended(ids.slice(0, 90), 'routing', 'failed'), ...ended(ids.slice(90), 'routing', 'succeeded')];
      const s = nextStatus({
        generation: 1,
        plan: planOf({
          ...world,
          phones: new Map([...fleet(ids.slice(0, 90), 'direct'), ...fleet(ids.slice(90), 'routing')]),
        }),
        events,
        now: T0,
      });
      expect(s.phones!.filter((e) => e.state === 'Failed')).to.have.length(90);
      expect(s.phones!.filter((e) => e.state === 'Changed')).to.have.length(10);
      expect(s.phonesTruncated).to.equal(10);
    });

    it('10,000 phones in sync: a status of a few hundred bytes', () => {
      const ids = Array.from({ length: 10_000 }, (_, i) => id(i));
      const s = nextStatus({
        generation: 1,
        plan: planOf({
          resources: [{ key: 'ns/a', trafficType: 'routing', phoneIds: ids, suspended: false }],
          phones: fleet(ids, 'routing'),
        }),
        now: T0,
      });
      expect(Buffer.byteLength(JSON.stringify(s))).to.be.below(1024);
    });

    it('honours a smaller bound', () => {
      const s = nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing()], phones: fleet(P, 'direct'), jobs: jobsFor(P, 'routing') }),
        now: T0,
        maxPhones: 2,
      });
      expect(s.phones!.map((e) => e.phoneId)).to.deep.equal(['p1', 'p2']);
      expect(s.phonesTruncated).to.equal(1);
    });
  });

  describe('statusChanged', () => {
    const status: CloudPhoneRouteStatus = {
      observedGeneration: 1,
      summary: { total: 1, inSync: 1, drifted: 0, pending: 0, failed: 0, conflicted: 0, notFound: 0, waiting: 0 },
      phones: [],
    };
    it('ignores key order and undefined fields', () => {
      const reordered = JSON.parse(
        '{"phones":[],"summary":{"waiting":0,"notFound":0,"conflicted":0,"failed":0,"pending":0,"drifted":0,"inSync":1,"total":1},"observedGeneration":1}',
      );
      expect(statusChanged(status, reordered)).to.equal(false);
      expect(statusChanged(status, { ...status, phonesTruncated: undefined })).to.equal(false);
    });
    it('sees any change of value or array order', () => {
      expect(statusChanged(status, { ...status, observedGeneration: 2 })).to.equal(true);
      expect(statusChanged(undefined, status)).to.equal(true);
      expect(statusChanged(undefined, {})).to.equal(false);
      const a: PhoneStatusEntry = { phoneId: 'a', state: 'Failed' };
      const b: PhoneStatusEntry = { phoneId: 'b', state: 'Failed' };
      expect(statusChanged({ phones: [a, b] }, { phones: [b, a] })).to.equal(true);
    });
  });

  it('is pure: the same input twice gives deep-equal output and the input is left alone', () => {
    const previous = roundTrip(
      nextStatus({
        generation: 1,
        plan: planOf({ resources: [routing()], phones: fleet(P, 'direct'), jobs: jobsFor(P, 'routing') }),
        now: T0,
      }),
    );
    const input: StatusInput = {
      generation: 1,
      previous,
      plan: planOf({ resources: [routing()], phones: fleet(P, 'routing') }),
      events: ended(P, 'routing', 'succeeded'),
      now: T1,
    };
    const frozen = JSON.stringify(input);
    expect(nextStatus(input)).to.deep.equal(nextStatus(input));
    expect(JSON.stringify(input)).to.equal(frozen);
  });
});

describe('status.pendingRequests', () => {
  const plan = planRoutes({
    resources: [{ key: 'ns/a', trafficType: 'routing', phoneIds: ['p1'], suspended: false }],
    phones: new Map([['p1', { trafficType: 'direct', status: 2 }]]),
  }).resources[0]!;

  it('lists the running requests sorted and once, so a restarted operator can follow them', () => {
    const s = nextStatus({ generation: 1, plan, pendingRequests: ['r2', 'r1', 'r2'], now: T0 });
    expect(s.pendingRequests).to.deep.equal(['r1', 'r2']);
    expect(parseStatus(JSON.parse(JSON.stringify(s))).pendingRequests).to.deep.equal(['r1', 'r2']);
  });

  it('keeps the previous list when the round does not know it, and empties it when told', () => {
    const previous = nextStatus({ generation: 1, plan, pendingRequests: ['r1'], now: T0 });
    expect(nextStatus({ generation: 1, previous, now: T0 }).pendingRequests).to.deep.equal(['r1']);
    expect(nextStatus({ generation: 1, previous, plan, pendingRequests: [], now: T0 }).pendingRequests).to.deep.equal(
      [],
    );
  });

  describe('phones CPH reports oddly (issue 16)', () => {
    const routing: DesiredRoute = { key: 'ns/a', trafficType: 'routing', phoneIds: ['p1'], suspended: false };

    it('shows a route value CPH sent that is neither direct nor routing, and says why the phone is changed', () => {
      const plan = planOf({
        resources: [routing],
        phones: new Map([['p1', { trafficType: undefined, unknownTrafficType: 'tunnel', status: 2 }]]),
      });
      const s = roundTrip(nextStatus({ generation: 1, plan, now: T0 }));
      expect(s.phones![0]).to.deep.include({
        state: 'Drifted',
        actual: 'tunnel',
        errorMessage:
          'CPH reports the route as "tunnel", which is neither direct nor routing, wanted routing; the change has not been sent yet',
      });
    });

    it('says that a phone without a status is not known to run', () => {
      const plan = planOf({
        resources: [routing],
        phones: new Map([['p1', { trafficType: 'direct', status: undefined }]]),
      });
      const s = nextStatus({ generation: 1, plan, now: T0 });
      expect(s.phones![0]).to.deep.include({ state: 'Waiting', actual: 'direct' });
      expect(s.phones![0]!.errorMessage).to.match(/^CPH reported no status for the phone, so it is not known to run/);
    });

    it('a change of unknown outcome is Pending, job status Unknown, with the IDs CPH gave', () => {
      const plan = planOf({
        resources: [routing],
        phones: new Map([
          ['p1', { trafficType: 'direct', status: 2, unconfirmed: { trafficType: 'routing', jobId: 'j1' } }],
        ]),
      });
      const s = nextStatus({ generation: 1, plan, now: T0 });
      expect(s.phones![0]).to.deep.include({ state: 'Pending', jobId: 'j1', jobStatus: 'Unknown' });
      expect(s.phones![0]!.errorMessage).to.match(/no request ID to follow it by/);
      expect(s.summary).to.include({ pending: 1 });
    });
  });
});
