import { expect } from 'chai';
import { Holds, holdDelayMs } from '../../src/controller/holds.js';
import { FakeClock } from '../support/fake-clock.js';

describe('holds: failed changes held back before they are tried again', () => {
  it('the delay: 30 s, doubling while the change keeps failing, at most 15 min', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(holdDelayMs)).to.deep.equal([
      30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000, 900_000,
    ]);
  });

  it('holds a phone until its delay ends; a failure in a row doubles it, another route starts again', async () => {
    const clock = new FakeClock();
    const holds = new Holds(clock);
    holds.hold({ phoneId: 'p1', trafficType: 'routing', errorCode: 'CPS.0005' });
    expect(holds.active().map((h) => h.phoneId)).to.deep.equal(['p1']);
    expect(holds.nextExpiry()).to.equal(clock.now() + 30_000);
    holds.hold({ phoneId: 'p1', trafficType: 'routing' });
    expect(holds.nextExpiry()).to.equal(clock.now() + 60_000);
    holds.hold({ phoneId: 'p1', trafficType: 'direct' });
    expect(holds.nextExpiry()).to.equal(clock.now() + 30_000);
    const before = holds.version;
    await clock.advance(30_000);
    expect(holds.active()).to.deep.equal([]);
    expect(holds.nextExpiry()).to.equal(undefined);
    expect(holds.version, 'an expiry changes the version').to.not.equal(before);
  });

  it('a succeeded change drops the hold and changes the version; dropping nothing does not', () => {
    const holds = new Holds(new FakeClock());
    holds.hold({ phoneId: 'p1', trafficType: 'routing' });
    const held = holds.version;
    holds.drop('p2');
    expect(holds.version).to.equal(held);
    holds.drop('p1');
    expect(holds.version).to.not.equal(held);
    expect(holds.active()).to.deep.equal([]);
  });
});
