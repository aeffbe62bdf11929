import { expect } from 'chai';
import {
  AccountError,
  accountConfig,
  secretLocation,
  type AccountEnvironment,
} from '../../src/controller/account-config.js';
import type { CloudPhoneAccountObject, ClusterCloudPhoneAccountSpec } from '../../src/api/v1alpha1/account-types.js';
import { MissingCredentialsError } from '../../src/cph/credentials.js';
import { parseHostPatterns } from '../../src/cph/endpoints.js';

const env: AccountEnvironment = {
  ambient: { kind: 'aksk', ak: 'AMBIENTAK', sk: 'ambient-secret' },
  iamEndpoint: undefined,
  allowedHosts: parseHostPatterns('*.myhuaweicloud.com,127.0.0.1'),
  clusterResourceNamespace: 'operator-system',
};

function account(
  kind: CloudPhoneAccountObject['kind'],
  spec: Partial<ClusterCloudPhoneAccountSpec>,
  namespace?: string,
): CloudPhoneAccountObject {
  return {
    apiVersion: 'cloudphone.dev/v1alpha1',
    kind,
    metadata: { name: 'acct', ...(namespace ? { namespace } : {}) },
    spec: { projectId: 'p1', credentials: { secretRef: { name: 'creds' } }, phoneScope: {}, ...spec },
  };
}

function refusal(run: () => unknown): AccountError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(AccountError);
    return error as AccountError;
  }
  throw new Error('expected an AccountError');
}

describe('account config: from an account object to endpoint, project and credentials', () => {
  const secret = { HUAWEICLOUD_SDK_AK: 'TEAMAK', HUAWEICLOUD_SDK_SK: 'team-secret' };

  it('reads a CloudPhoneAccount Secret in its own namespace, and a ClusterCloudPhoneAccount Secret in the operator namespace', () => {
    expect(secretLocation(account('CloudPhoneAccount', {}, 'team-a'), env)).to.deep.equal({
      namespace: 'team-a',
      name: 'creds',
    });
    expect(secretLocation(account('ClusterCloudPhoneAccount', {}), env)).to.deep.equal({
      namespace: 'operator-system',
      name: 'creds',
    });
    expect(secretLocation(account('ClusterCloudPhoneAccount', { credentials: { ambient: true } }), env)).to.equal(
      undefined,
    );
  });

  it('keys the CPH account by normalized endpoint and project only, whatever the credentials', () => {
    const a = accountConfig(account('CloudPhoneAccount', { region: 'cn-north-4' }, 'team-a'), secret, env);
    const b = accountConfig(
      account('ClusterCloudPhoneAccount', {
        endpoint: 'https://CPH.cn-north-4.myhuaweicloud.com.:443/',
        credentials: { ambient: true },
      }),
      undefined,
      env,
    );
    expect(a.cphKey).to.equal('https://cph.cn-north-4.myhuaweicloud.com|p1');
    expect(b.cphKey).to.equal(a.cphKey);
    expect(a.credential.id).to.not.equal(b.credential.id);
    expect(JSON.stringify([a.credential.id, b.credential.id, a.stamp, b.stamp])).to.not.match(
      /team-secret|ambient-secret/,
    );
    expect(a.objectKey).to.equal('CloudPhoneAccount/team-a/acct');
    expect(b.objectKey).to.equal('ClusterCloudPhoneAccount/acct');
  });

  it("refuses the operator's own credentials to a CloudPhoneAccount", () => {
    const error = refusal(() =>
      accountConfig(
        account('CloudPhoneAccount', { region: 'cn-north-4', credentials: { ambient: true } }, 'team-b'),
        undefined,
        env,
      ),
    );
    expect(error.reason).to.equal('CredentialsInvalid');
    expect(error.message).to.contain('spec.credentials.ambient').and.contain('only a ClusterCloudPhoneAccount');
  });

  it('refuses an endpoint off the allowlist before anything is made', () => {
    const error = refusal(() =>
      accountConfig(account('CloudPhoneAccount', { endpoint: 'https://127.0.0.2:9443' }, 'team-b'), secret, env),
    );
    expect(error.reason).to.equal('EndpointNotAllowed');
    expect(error.message).to.contain('spec.endpoint').and.contain('127.0.0.2');
    const tricky = refusal(() =>
      accountConfig(
        account('CloudPhoneAccount', { endpoint: 'https://cph.cn-north-4.myhuaweicloud.com@127.0.0.2' }, 'team-b'),
        secret,
        env,
      ),
    );
    expect(tricky.reason).to.equal('InvalidSpec');
  });

  it('names the Secret and key at fault, never a value', () => {
    const cases: Array<[Record<string, string> | undefined, RegExp]> = [
      [undefined, /Secret team-a\/creds does not exist/],
      [{}, /has no non-empty key HUAWEICLOUD_SDK_AK/],
      [{ HUAWEICLOUD_SDK_AK: 'TEAMAK' }, /has no non-empty key HUAWEICLOUD_SDK_SK/],
      [
        { HUAWEICLOUD_SDK_AK: 'not an ak', HUAWEICLOUD_SDK_SK: 'team-secret' },
        /key HUAWEICLOUD_SDK_AK is not an access key ID/,
      ],
      [{ HUAWEICLOUD_SDK_AK: 'x'.repeat(200), HUAWEICLOUD_SDK_SK: 'team-secret' }, /is not an access key ID/],
    ];
    for (const [data, message] of cases) {
      const error = refusal(() =>
        accountConfig(account('CloudPhoneAccount', { region: 'cn-north-4' }, 'team-a'), data, env),
      );
      expect(error.reason).to.equal('CredentialsInvalid');
      expect(error.message).to.match(message).and.not.contain('team-secret').and.not.contain('not an ak');
    }
  });

  it('gives ambient IAM password login an allowed IAM endpoint from the region, or refuses', () => {
    const password: AccountEnvironment = {
      ...env,
      ambient: { kind: 'password', user: 'u', password: 'pw-secret', domain: 'd', iamEndpoint: undefined },
    };
    const config = accountConfig(
      account('ClusterCloudPhoneAccount', { region: 'ap-southeast-1', credentials: { ambient: true } }),
      undefined,
      password,
    );
    expect(config.credential).to.include({
      kind: 'password',
      iamEndpoint: 'https://iam.ap-southeast-1.myhuaweicloud.com',
    });
    const foreignIam: AccountEnvironment = { ...password, iamEndpoint: 'https://iam.evil.example' };
    expect(
      refusal(() =>
        accountConfig(
          account('ClusterCloudPhoneAccount', { region: 'ap-southeast-1', credentials: { ambient: true } }),
          undefined,
          foreignIam,
        ),
      ).reason,
    ).to.equal('EndpointNotAllowed');
    const none: AccountEnvironment = {
      ...env,
      ambient: new MissingCredentialsError('HUAWEICLOUD_SDK_AK', 'no credentials'),
    };
    expect(
      refusal(() =>
        accountConfig(
          account('ClusterCloudPhoneAccount', { region: 'ap-southeast-1', credentials: { ambient: true } }),
          undefined,
          none,
        ),
      ).message,
    ).to.contain('no credentials of its own');
  });
});
