import { expect } from 'chai';
import {
  ConditionType,
  Reason,
  conditionTypes,
  findCondition,
  formatTime,
  isConditionTrue,
  reasons,
  removeCondition,
  setCondition,
  stallingReasons,
} from '../../src/api/v1alpha1/conditions.js';
import type { Condition } from '../../src/api/v1alpha1/types.js';

const T0 = Date.parse('2026-11-28T06:00:00Z');
const T1 = Date.parse('2026-11-28T06:05:00.789Z');

describe('api/v1alpha1 conditions', () => {
  it('has the three types of the kstatus convention, in order', () => {
    expect(conditionTypes).to.deep.equal(['Ready', 'Reconciling', 'Stalled']);
    expect(Object.values(ConditionType)).to.deep.equal(['Ready', 'Reconciling', 'Stalled']);
  });

  it('has every reason the issue asks for, each a CamelCase word matching the CRD pattern', () => {
    for (const wanted of [
      'InSync',
      'ApplyingRoute',
      'JobsPending',
      'JobFailed',
      'PhonesNotFound',
      'Conflict',
      'CredentialsInvalid',
      'CphUnavailable',
      'Suspended',
    ]) {
      expect(reasons).to.include(wanted);
    }
    for (const reason of reasons) expect(reason).to.match(/^[A-Z][A-Za-z]*$/);
    expect(new Set(reasons).size).to.equal(reasons.length);
    for (const [key, value] of Object.entries(Reason)) expect(key).to.equal(value);
  });

  it('stalls only on what a person must fix', () => {
    expect([...stallingReasons].sort()).to.deep.equal([
      'AccountNotAllowed',
      'AccountNotFound',
      'AccountRestricted',
      'Conflict',
      'CredentialsInvalid',
      'EndpointNotAllowed',
      'InvalidSpec',
      'PermissionDenied',
      'PhonesNotFound',
      'PhonesOutOfScope',
    ]);
    expect(stallingReasons.has(Reason.CphUnavailable)).to.equal(false);
    expect(stallingReasons.has(Reason.Throttled)).to.equal(false);
  });

  it('formats times as metav1.Time does (UTC, seconds)', () => {
    expect(formatTime(T1)).to.equal('2026-11-28T06:05:00Z');
    expect(formatTime(new Date(T0))).to.equal('2026-11-28T06:00:00Z');
  });

  describe('setCondition', () => {
    const ready = (status: 'True' | 'False', reason: Reason, message: string, observedGeneration = 1) =>
      ({ type: ConditionType.Ready, status, reason, message, observedGeneration }) as const;

    it('adds a condition stamped with now', () => {
      expect(setCondition(undefined, ready('True', Reason.InSync, 'ok'), T0)).to.deep.equal([
        {
          type: 'Ready',
          status: 'True',
          observedGeneration: 1,
          lastTransitionTime: '2026-11-28T06:00:00Z',
          reason: 'InSync',
          message: 'ok',
        },
      ]);
    });

    it('keeps lastTransitionTime when the status stays, even if reason or message change', () => {
      const first = setCondition([], ready('False', Reason.JobsPending, '3 pending'), T0);
      const second = setCondition(first, ready('False', Reason.JobFailed, '1 failed', 2), T1);
      expect(second[0]!.lastTransitionTime).to.equal('2026-11-28T06:00:00Z');
      expect(second[0]!.reason).to.equal('JobFailed');
      expect(second[0]!.observedGeneration).to.equal(2);
    });

    it('moves lastTransitionTime when the status changes', () => {
      const first = setCondition([], ready('False', Reason.JobsPending, '3 pending'), T0);
      expect(setCondition(first, ready('True', Reason.InSync, 'ok'), T1)[0]!.lastTransitionTime).to.equal(
        '2026-11-28T06:05:00Z',
      );
    });

    it('is idempotent: the same update gives a deep-equal list', () => {
      const first = setCondition([], ready('True', Reason.InSync, 'ok'), T0);
      expect(setCondition(first, ready('True', Reason.InSync, 'ok'), T1)).to.deep.equal(first);
    });

    it('does not mutate its input', () => {
      const first = setCondition([], ready('True', Reason.InSync, 'ok'), T0);
      const copy = JSON.parse(JSON.stringify(first)) as Condition[];
      setCondition(first, ready('False', Reason.JobFailed, 'x'), T1);
      expect(first).to.deep.equal(copy);
    });

    it('orders Ready, Reconciling, Stalled, then foreign types in their order', () => {
      let list: Condition[] = [
        { type: 'Zeta', status: 'True', lastTransitionTime: 't', reason: 'Z', message: '' },
        { type: 'Alpha', status: 'True', lastTransitionTime: 't', reason: 'A', message: '' },
      ];
      list = setCondition(list, { type: 'Stalled', status: 'True', reason: Reason.Conflict, message: 'c' }, T0);
      list = setCondition(list, { type: 'Reconciling', status: 'True', reason: Reason.JobsPending, message: 'p' }, T0);
      list = setCondition(list, ready('False', Reason.Conflict, 'c'), T0);
      expect(list.map((c) => c.type)).to.deep.equal(['Ready', 'Reconciling', 'Stalled', 'Zeta', 'Alpha']);
    });

    it('omits observedGeneration when not given', () => {
      expect(
        setCondition([], { type: 'Ready', status: 'True', reason: Reason.InSync, message: '' }, T0)[0],
      ).to.not.have.property('observedGeneration');
    });
  });

  it('removeCondition, findCondition, isConditionTrue', () => {
    const list = setCondition(
      setCondition([], { type: 'Ready', status: 'False', reason: Reason.Conflict, message: '' }, T0),
      { type: 'Stalled', status: 'True', reason: Reason.Conflict, message: '' },
      T0,
    );
    expect(isConditionTrue(list, 'Stalled')).to.equal(true);
    expect(isConditionTrue(list, 'Ready')).to.equal(false);
    expect(isConditionTrue(undefined, 'Ready')).to.equal(false);
    expect(findCondition(list, 'Reconciling')).to.equal(undefined);
    expect(removeCondition(list, 'Stalled').map((c) => c.type)).to.deep.equal(['Ready']);
    expect(removeCondition(undefined, 'Stalled')).to.deep.equal([]);
    expect(list.length).to.equal(2);
  });
});
