import { expect } from 'chai';
import { selectPhones } from '../../src/controller/account-plans.js';
import type { InventorySnapshot } from '../../src/controller/inventory.js';
import type { ObservedPhone } from '../../src/controller/ports.js';

function snapshot(phones: ObservedPhone[]): InventorySnapshot {
  return { takenAt: 0, complete: true, skipped: [], phones: new Map(phones.map((p) => [p.phoneId, p])) };
}

const phone = (phoneId: string, phoneName: string | undefined, serverId: string | undefined): ObservedPhone => ({ phoneId, phoneName, serverId, status: 2, trafficType: 'direct' });

describe('selectPhones: selectors over phones CPH lists without some fields (issue 16)', () => {
  const inventory = snapshot([phone('a', 'pool-a-1', 's1'), phone('b', undefined, 's1'), phone('c', 'pool-a-2', undefined), phone('d', undefined, undefined)]);

  it('a phone without server_id never matches a server selector', () => {
    expect(selectPhones({ trafficType: 'routing', selector: { serverIds: ['s1'] } }, inventory).sort()).to.deep.equal(['a', 'b']);
  });

  it('a phone without phone_name never matches a name prefix', () => {
    expect(selectPhones({ trafficType: 'routing', selector: { phoneNamePrefix: 'pool-a-' } }, inventory).sort()).to.deep.equal(['a', 'c']);
  });

  it('both: needs both fields; explicit IDs are selected whatever the phone lacks', () => {
    expect(selectPhones({ trafficType: 'routing', selector: { serverIds: ['s1'], phoneNamePrefix: 'pool-' } }, inventory)).to.deep.equal(['a']);
    expect(selectPhones({ trafficType: 'routing', phoneIds: ['d'] }, inventory)).to.deep.equal(['d']);
  });
});
