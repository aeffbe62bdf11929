import { expect } from 'chai';
import { AccountDirectory } from '../../src/controller/account-directory.js';
import { AccountError } from '../../src/controller/account-config.js';
import { parseHostPatterns } from '../../src/cph/endpoints.js';

/** Informer caches as the directory reads them: objects by key. */
function cache(entries: Record<string, unknown>): { get(key: string): unknown } {
  return { get: (key) => entries[key] };
}

const clusterAccount = (name: string, spec: Record<string, unknown>): unknown => ({
  apiVersion: 'cloudphone.dev/v1alpha1',
  kind: 'ClusterCloudPhoneAccount',
  metadata: { name, generation: 1 },
  spec: { region: 'cn-north-4', projectId: 'p1', credentials: { ambient: true }, phoneScope: {}, ...spec },
});

function directory(defaultAccount?: string): AccountDirectory {
  return new AccountDirectory({
    clusterAccounts: cache({
      shared: clusterAccount('shared', {}),
      'team-a-only': clusterAccount('team-a-only', { namespaces: ['team-a'] }),
      labelled: clusterAccount('labelled', { namespaceSelector: { matchLabels: { tier: 'gold' } } }),
    }),
    namespacedAccounts: cache({
      'team-b/own': {
        apiVersion: 'cloudphone.dev/v1alpha1',
        kind: 'CloudPhoneAccount',
        metadata: { name: 'own', namespace: 'team-b' },
        spec: { region: 'cn-north-4', projectId: 'p2', credentials: { secretRef: { name: 'creds' } }, phoneScope: {} },
      },
    }),
    namespaces: cache({
      'team-a': { metadata: { name: 'team-a', labels: { tier: 'gold' } } },
      'team-b': { metadata: { name: 'team-b', labels: {} } },
    }),
    defaultAccount,
    env: {
      ambient: { kind: 'aksk', ak: 'AK', sk: 'SK' },
      iamEndpoint: undefined,
      allowedHosts: parseHostPatterns('*.myhuaweicloud.com'),
      clusterResourceNamespace: 'ops',
    },
    secrets: {
      read: async (namespace, name) =>
        namespace === 'team-b' && name === 'creds'
          ? { HUAWEICLOUD_SDK_AK: 'TEAMB', HUAWEICLOUD_SDK_SK: 'team-b-secret' }
          : undefined,
    },
  });
}

async function refusedWith(run: Promise<unknown>): Promise<AccountError> {
  try {
    await run;
  } catch (error) {
    expect(error).to.be.instanceOf(AccountError);
    return error as AccountError;
  }
  throw new Error('expected an AccountError');
}

describe('account directory: which account a route may use', () => {
  it('uses spec.accountRef, else the default account, else says none is set', async () => {
    expect((await directory('shared').resolve('team-b', undefined)).config.objectKey).to.equal(
      'ClusterCloudPhoneAccount/shared',
    );
    expect(
      (await directory('shared').resolve('team-b', { kind: 'CloudPhoneAccount', name: 'own' })).config.cphKey,
    ).to.equal('https://cph.cn-north-4.myhuaweicloud.com|p2');
    const none = await refusedWith(directory().resolve('team-b', undefined));
    expect(none.reason).to.equal('AccountNotFound');
    expect(none.message).to.contain('--default-account');
  });

  it("finds a CloudPhoneAccount only in the route's own namespace", async () => {
    const error = await refusedWith(directory().resolve('team-a', { kind: 'CloudPhoneAccount', name: 'own' }));
    expect(error.reason).to.equal('AccountNotFound');
    expect(error.message).to.contain('CloudPhoneAccount team-a/own does not exist');
  });

  it('admits namespaces by name or label, and says so when it does not', async () => {
    expect(
      (await directory().resolve('team-a', { kind: 'ClusterCloudPhoneAccount', name: 'team-a-only' })).object.metadata
        .name,
    ).to.equal('team-a-only');
    expect(
      (await directory().resolve('team-a', { kind: 'ClusterCloudPhoneAccount', name: 'labelled' })).object.metadata
        .name,
    ).to.equal('labelled');
    for (const name of ['team-a-only', 'labelled']) {
      const error = await refusedWith(directory().resolve('team-b', { kind: 'ClusterCloudPhoneAccount', name }));
      expect(error.reason, name).to.equal('AccountNotAllowed');
      expect(error.message).to.contain('does not admit namespace team-b');
    }
    // The default account obeys the same rule.
    expect((await refusedWith(directory('team-a-only').resolve('team-b', undefined))).reason).to.equal(
      'AccountNotAllowed',
    );
  });

  it('names the account object a route uses, for requeues when it changes', () => {
    const d = directory('shared');
    expect(d.objectKeyFor('team-b', undefined)).to.equal('ClusterCloudPhoneAccount/shared');
    expect(d.objectKeyFor('team-b', { kind: 'CloudPhoneAccount', name: 'own' })).to.equal(
      'CloudPhoneAccount/team-b/own',
    );
    expect(directory().objectKeyFor('team-b', undefined)).to.equal(undefined);
  });
});
