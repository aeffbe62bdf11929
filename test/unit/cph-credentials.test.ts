import { expect } from 'chai';
import { credentialsFromEnv, MissingCredentialsError, regionOfCphEndpoint } from '../../src/cph/credentials.js';

describe('cph credentialsFromEnv', () => {
  it('reads AK/SK under the SDK names; the project and endpoint come from the account', () => {
    const result = credentialsFromEnv({
      HUAWEICLOUD_SDK_AK: 'AK1',
      HUAWEICLOUD_SDK_SK: ' SK1 ',
      HUAWEICLOUD_SDK_PROJECT_ID: 'P1',
      HUAWEICLOUD_SDK_REGION: 'cn-north-4',
    });
    expect(result).to.deep.equal({ ok: true, credentials: { kind: 'aksk', ak: 'AK1', sk: 'SK1' } });
  });

  it('names the missing variable, never a value', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'HUAWEICLOUD_SDK_AK'],
      [{ HUAWEICLOUD_SDK_AK: 'AK1' }, 'HUAWEICLOUD_SDK_SK'],
      [{ HUAWEICLOUD_SDK_SK: 'secret-value' }, 'HUAWEICLOUD_SDK_AK'],
      [{ HUAWEICLOUD_SDK_IAM_USER: 'u' }, 'HUAWEICLOUD_SDK_IAM_PASSWORD'],
      [{ HUAWEICLOUD_SDK_IAM_USER: 'u', HUAWEICLOUD_SDK_IAM_PASSWORD: 'secret-value' }, 'HUAWEICLOUD_SDK_IAM_DOMAIN'],
    ];
    for (const [env, variable] of cases) {
      const result = credentialsFromEnv(env);
      expect(result.ok, variable).to.equal(false);
      if (result.ok) continue;
      expect(result.error).to.be.instanceOf(MissingCredentialsError);
      expect(result.error.variable).to.equal(variable);
      expect(result.error.code).to.equal('MissingCredentials');
      expect(result.error.message).to.contain(variable);
      expect(result.error.message).to.not.contain('secret-value');
    }
  });

  it('reads an IAM user; the IAM endpoint comes from the environment or later from the account', () => {
    const result = credentialsFromEnv({
      HUAWEICLOUD_SDK_IAM_USER: 'ops',
      HUAWEICLOUD_SDK_IAM_PASSWORD: 'pw',
      HUAWEICLOUD_SDK_IAM_DOMAIN: 'acme',
    });
    expect(result).to.deep.equal({
      ok: true,
      credentials: { kind: 'password', user: 'ops', password: 'pw', domain: 'acme', iamEndpoint: undefined },
    });
    const withIam = credentialsFromEnv({
      HUAWEICLOUD_SDK_IAM_USER: 'ops',
      HUAWEICLOUD_SDK_IAM_PASSWORD: 'pw',
      HUAWEICLOUD_SDK_IAM_DOMAIN: 'acme',
      HUAWEICLOUD_SDK_IAM_ENDPOINT: 'https://iam.myhuaweicloud.com',
    });
    expect(withIam.ok && withIam.credentials.kind === 'password' && withIam.credentials.iamEndpoint).to.equal(
      'https://iam.myhuaweicloud.com',
    );
  });

  it('AK/SK wins when both kinds are set', () => {
    const result = credentialsFromEnv({
      HUAWEICLOUD_SDK_AK: 'A',
      HUAWEICLOUD_SDK_SK: 'S',
      HUAWEICLOUD_SDK_IAM_USER: 'u',
    });
    expect(result.ok && result.credentials.kind).to.equal('aksk');
  });

  it('knows the region of a Huawei Cloud CPH endpoint only', () => {
    expect(regionOfCphEndpoint('https://cph.cn-north-4.myhuaweicloud.com')).to.equal('cn-north-4');
    expect(regionOfCphEndpoint('https://cph.cn-north-4.myhuaweicloud.com.evil.example')).to.equal(undefined);
    expect(regionOfCphEndpoint('https://127.0.0.1:1')).to.equal(undefined);
  });
});
