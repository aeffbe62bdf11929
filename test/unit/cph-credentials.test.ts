import { expect } from 'chai';
import { AkSkAuth, IamTokenAuth } from '../../src/cph/auth.js';
import { authFromCredentials, credentialsFromEnv, MissingCredentialsError } from '../../src/cph/credentials.js';
import { systemClock } from '../../src/runtime/clock.js';

describe('cph credentialsFromEnv', () => {
  it('reads AK/SK and project under the SDK names', () => {
    const result = credentialsFromEnv({ HUAWEICLOUD_SDK_AK: 'AK1', HUAWEICLOUD_SDK_SK: ' SK1 ', HUAWEICLOUD_SDK_PROJECT_ID: 'P1', HUAWEICLOUD_SDK_REGION: 'cn-north-4' });
    expect(result).to.deep.equal({ ok: true, credentials: { kind: 'aksk', ak: 'AK1', sk: 'SK1', projectId: 'P1', region: 'cn-north-4', cphEndpoint: undefined } });
  });

  it('names the missing variable, never a value', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'HUAWEICLOUD_SDK_AK'],
      [{ HUAWEICLOUD_SDK_AK: 'AK1' }, 'HUAWEICLOUD_SDK_SK'],
      [{ HUAWEICLOUD_SDK_SK: 'secret-value' }, 'HUAWEICLOUD_SDK_AK'],
      [{ HUAWEICLOUD_SDK_AK: 'AK1', HUAWEICLOUD_SDK_SK: 'secret-value', HUAWEICLOUD_SDK_PROJECT_ID: '  ' }, 'HUAWEICLOUD_SDK_PROJECT_ID'],
      [{ HUAWEICLOUD_SDK_IAM_USER: 'u' }, 'HUAWEICLOUD_SDK_IAM_PASSWORD'],
      [{ HUAWEICLOUD_SDK_IAM_USER: 'u', HUAWEICLOUD_SDK_IAM_PASSWORD: 'secret-value' }, 'HUAWEICLOUD_SDK_IAM_DOMAIN'],
      [{ HUAWEICLOUD_SDK_IAM_USER: 'u', HUAWEICLOUD_SDK_IAM_PASSWORD: 'secret-value', HUAWEICLOUD_SDK_IAM_DOMAIN: 'd', HUAWEICLOUD_SDK_PROJECT_ID: 'P' }, 'HUAWEICLOUD_SDK_IAM_ENDPOINT'],
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

  it('reads an IAM user, with the IAM endpoint from the region by default', () => {
    const result = credentialsFromEnv({
      HUAWEICLOUD_SDK_IAM_USER: 'ops',
      HUAWEICLOUD_SDK_IAM_PASSWORD: 'pw',
      HUAWEICLOUD_SDK_IAM_DOMAIN: 'acme',
      HUAWEICLOUD_SDK_PROJECT_ID: 'P',
      HUAWEICLOUD_SDK_REGION: 'ap-southeast-1',
    });
    expect(result.ok).to.equal(true);
    if (!result.ok || result.credentials.kind !== 'password') throw new Error('expected password credentials');
    expect(result.credentials).to.include({ user: 'ops', password: 'pw', domain: 'acme', projectId: 'P', iamEndpoint: 'https://iam.ap-southeast-1.myhuaweicloud.com' });
  });

  it('AK/SK wins when both kinds are set', () => {
    const result = credentialsFromEnv({ HUAWEICLOUD_SDK_AK: 'A', HUAWEICLOUD_SDK_SK: 'S', HUAWEICLOUD_SDK_PROJECT_ID: 'P', HUAWEICLOUD_SDK_IAM_USER: 'u' });
    expect(result.ok && result.credentials.kind).to.equal('aksk');
  });

  it('authFromCredentials builds the matching auth, which never serialises a secret', () => {
    const aksk = credentialsFromEnv({ HUAWEICLOUD_SDK_AK: 'A', HUAWEICLOUD_SDK_SK: 'secret-sk', HUAWEICLOUD_SDK_PROJECT_ID: 'P' });
    const password = credentialsFromEnv({ HUAWEICLOUD_SDK_IAM_USER: 'u', HUAWEICLOUD_SDK_IAM_PASSWORD: 'secret-pw', HUAWEICLOUD_SDK_IAM_DOMAIN: 'd', HUAWEICLOUD_SDK_PROJECT_ID: 'P', HUAWEICLOUD_SDK_IAM_ENDPOINT: 'http://127.0.0.1:1' });
    if (!aksk.ok || !password.ok) throw new Error('expected credentials');
    const a = authFromCredentials(aksk.credentials, { clock: systemClock });
    const t = authFromCredentials(password.credentials, { clock: systemClock });
    expect(a).to.be.instanceOf(AkSkAuth);
    expect(t).to.be.instanceOf(IamTokenAuth);
    expect(JSON.stringify([a, t])).to.not.match(/secret-/);
    if (t instanceof IamTokenAuth) t.close();
  });
});
