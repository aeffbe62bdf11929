import { expect } from 'chai';
import type { Summary } from '../../src/api/v1alpha1/types.js';
import { emptySummary } from '../../src/controller/plan.js';
import { PhoneTotals, type PhoneState } from '../../src/runtime/phone-totals.js';

const summary = (counts: Partial<Summary>): Summary => ({ ...emptySummary(), ...counts });

describe('PhoneTotals: the phones gauge over every route', () => {
  it('adds each route once, replaces its summary on the next round, and drops it when it goes', () => {
    let published: Record<PhoneState, number> | undefined;
    const totals = new PhoneTotals((t) => (published = { ...t }));
    totals.route('ns/a', summary({ total: 10, inSync: 7, pending: 3 }));
    totals.route('ns/b', summary({ total: 5, inSync: 4, failed: 1 }));
    expect(published).to.deep.include({ inSync: 11, pending: 3, failed: 1 });
    totals.route('ns/a', summary({ total: 10, inSync: 10 }));
    expect(published).to.deep.include({ inSync: 14, pending: 0, failed: 1 });
    totals.route('ns/b', undefined);
    totals.route('ns/gone', undefined);
    expect(published).to.deep.equal({
      inSync: 10,
      drifted: 0,
      pending: 0,
      failed: 0,
      conflicted: 0,
      notFound: 0,
      waiting: 0,
    });
  });
});
