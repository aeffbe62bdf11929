import { expect } from 'chai';
import { SkippedPhonesReporter, PHONES_SKIPPED_REASON } from '../../src/controller/skipped-phones.js';
import type { SkippedPhone } from '../../src/cph/types.js';
import { FakeClock } from '../support/fake-clock.js';

describe('SkippedPhonesReporter (issue 16)', () => {
  const skipped: SkippedPhone[] = [
    { field: '(offset 0) phones[3].phone_id', reason: 'noPhoneId' },
    { field: '(offset 100) phones[7]', reason: 'notAnObject' },
    { field: '(offset 100) phones[9].phone_id', reason: 'noPhoneId' },
  ];
  const resources = [
    { apiVersion: 'cloudphone.dev/v1alpha1', kind: 'CloudPhoneRoute', name: 'a', namespace: 'ns' },
    { apiVersion: 'cloudphone.dev/v1alpha1', kind: 'CloudPhoneRoute', name: 'b', namespace: 'ns' },
  ];

  function reporter(): {
    clock: FakeClock;
    counted: Array<[string, number]>;
    events: Array<{ name: string; reason: string; note: string }>;
    report: SkippedPhonesReporter;
  } {
    const clock = new FakeClock();
    const counted: Array<[string, number]> = [];
    const events: Array<{ name: string; reason: string; note: string }> = [];
    const report = new SkippedPhonesReporter({
      clock,
      count: (reason, entries) => counted.push([reason, entries]),
      events: {
        record: (regarding, _type, reason, _action, note) => events.push({ name: regarding.name, reason, note }),
      },
    });
    return { clock, counted, events, report };
  }

  it('counts every skipped entry of every sweep, by reason', () => {
    const { counted, report } = reporter();
    report.swept('acct', 'cph.example.com project p', skipped, () => resources);
    report.swept('acct', 'cph.example.com project p', skipped, () => resources);
    expect(counted).to.deep.equal([
      ['noPhoneId', 2],
      ['notAnObject', 1],
      ['noPhoneId', 2],
      ['notAnObject', 1],
    ]);
  });

  it('warns each resource of the account once per 10 minutes, saying what was skipped', async () => {
    const { clock, events, report } = reporter();
    report.swept('acct', 'cph.example.com project p', skipped, () => resources);
    expect(events.map((e) => [e.name, e.reason])).to.deep.equal([
      ['a', PHONES_SKIPPED_REASON],
      ['b', PHONES_SKIPPED_REASON],
    ]);
    expect(events[0]?.note)
      .to.include('3 phone entries')
      .and.include('2 without a usable phone_id, 1 that are not objects')
      .and.include('(offset 0) phones[3].phone_id');
    await clock.advance(9 * 60_000);
    report.swept('acct', 'cph.example.com project p', skipped, () => resources);
    expect(events).to.have.length(2);
    report.swept('other', 'cph.example.com project q', skipped, () => resources.slice(0, 1));
    expect(events, 'another account is warned on its own').to.have.length(3);
    await clock.advance(60_000);
    report.swept('acct', 'cph.example.com project p', skipped, () => resources);
    expect(events).to.have.length(5);
  });

  it('says nothing when nothing was skipped', () => {
    const { counted, events, report } = reporter();
    report.swept('acct', 'd', [], () => resources);
    expect(counted).to.deep.equal([]);
    expect(events).to.deep.equal([]);
  });
});
