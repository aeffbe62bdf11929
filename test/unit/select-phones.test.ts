import { expect } from 'chai';
import { selectPhones } from '../../src/controller/account-plans.js';
import type { InventorySnapshot } from '../../src/controller/inventory.js';
import type { ObservedPhone } from '../../src/controller/ports.js';
import type { CloudPhoneRoute, CloudPhoneRouteSpec } from '../../src/api/v1alpha1/types.js';
import type { PhoneScope } from '../../src/api/v1alpha1/account-types.js';

function snapshot(phones: ObservedPhone[]): InventorySnapshot {
  return { takenAt: 0, complete: true, skipped: [], phones: new Map(phones.map((p) => [p.phoneId, p])) };
}

/** The phones a spec selects over the inventory, with an account scope that admits every phone. */
function select(spec: CloudPhoneRouteSpec, inventory: InventorySnapshot, scope: PhoneScope = {}): string[] {
  const route: CloudPhoneRoute = {
    apiVersion: 'cloudphone.dev/v1alpha1',
    kind: 'CloudPhoneRoute',
    metadata: { name: 'r', namespace: 'ns' },
    spec,
  };
  return selectPhones({ route, scope }, inventory.phones).phoneIds;
}

const phone = (phoneId: string, phoneName: string | undefined, serverId: string | undefined): ObservedPhone => ({
  phoneId,
  phoneName,
  serverId,
  status: 2,
  trafficType: 'direct',
});

describe('selectPhones: selectors over phones CPH lists without some fields (issue 16)', () => {
  const inventory = snapshot([
    phone('a', 'pool-a-1', 's1'),
    phone('b', undefined, 's1'),
    phone('c', 'pool-a-2', undefined),
    phone('d', undefined, undefined),
  ]);

  it('a phone without server_id never matches a server selector', () => {
    expect(select({ trafficType: 'routing', selector: { serverIds: ['s1'] } }, inventory).sort()).to.deep.equal([
      'a',
      'b',
    ]);
  });

  it('a phone without phone_name never matches a name prefix', () => {
    expect(
      select({ trafficType: 'routing', selector: { phoneNamePrefix: 'pool-a-' } }, inventory).sort(),
    ).to.deep.equal(['a', 'c']);
  });

  it('both: needs both fields; explicit IDs are selected whatever the phone lacks', () => {
    expect(
      select({ trafficType: 'routing', selector: { serverIds: ['s1'], phoneNamePrefix: 'pool-' } }, inventory),
    ).to.deep.equal(['a']);
    expect(select({ trafficType: 'routing', phoneIds: ['d'] }, inventory)).to.deep.equal(['d']);
  });

  it('a scope by server or name admits no phone that lacks the field; an explicit ID outside it comes back apart', () => {
    expect(
      select({ trafficType: 'routing', selector: { phoneNamePrefix: 'pool-' } }, inventory, { serverIds: ['s1'] }),
    ).to.deep.equal(['a']);
    const route: CloudPhoneRoute = {
      apiVersion: 'cloudphone.dev/v1alpha1',
      kind: 'CloudPhoneRoute',
      metadata: { name: 'r', namespace: 'ns' },
      spec: { trafficType: 'routing', phoneIds: ['a', 'c', 'ghost'] },
    };
    expect(selectPhones({ route, scope: { serverIds: ['s1'] } }, inventory.phones)).to.deep.equal({
      phoneIds: ['a', 'ghost'],
      outOfScope: ['c'],
    });
  });
});
