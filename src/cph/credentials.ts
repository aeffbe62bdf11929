/**
 * The operator's own ("ambient") CPH credentials: the environment, under the official Huawei Cloud SDKs'
 * names, so a Secret written for the SDKs works unchanged. Only a ClusterCloudPhoneAccount with
 * `credentials.ambient: true` uses them; the account says which endpoint and project. AK/SK wins when
 * HUAWEICLOUD_SDK_AK or HUAWEICLOUD_SDK_SK is set; otherwise an IAM user and password are used.
 *
 *   HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK    access key ID and secret key (SDK names)
 *   HUAWEICLOUD_SDK_IAM_USER                  IAM user name (ours; the SDKs have no password login)
 *   HUAWEICLOUD_SDK_IAM_PASSWORD              that user's password (ours)
 *   HUAWEICLOUD_SDK_IAM_DOMAIN                the account (domain) name the user belongs to (ours)
 *   HUAWEICLOUD_SDK_IAM_ENDPOINT              IAM endpoint (SDK name); default https://iam.{region}.myhuaweicloud.com
 *                                             from the account's region (or --iam-endpoint)
 *
 * Values are trimmed; an empty value counts as missing.
 */
import { OperatorError } from '../errors.js';

export const credentialEnv = {
  ak: 'HUAWEICLOUD_SDK_AK',
  sk: 'HUAWEICLOUD_SDK_SK',
  iamUser: 'HUAWEICLOUD_SDK_IAM_USER',
  iamPassword: 'HUAWEICLOUD_SDK_IAM_PASSWORD',
  iamDomain: 'HUAWEICLOUD_SDK_IAM_DOMAIN',
  iamEndpoint: 'HUAWEICLOUD_SDK_IAM_ENDPOINT',
} as const;

export type EnvCredentials =
  | { kind: 'aksk'; ak: string; sk: string }
  | {
      kind: 'password';
      user: string;
      password: string;
      domain: string;
      /** undefined: derived from the account's region. */
      iamEndpoint: string | undefined;
    };

/** A credential variable is missing (or empty). Names the variable, never a value. */
export class MissingCredentialsError extends OperatorError {
  readonly variable: string;

  constructor(variable: string, why: string) {
    super('MissingCredentials', `${variable} is not set: ${why}`);
    this.variable = variable;
  }
}

export type CredentialsResult =
  | { ok: true; credentials: EnvCredentials }
  | { ok: false; error: MissingCredentialsError };

export function credentialsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): CredentialsResult {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const missing = (variable: string, why: string): CredentialsResult => ({
    ok: false,
    error: new MissingCredentialsError(variable, why),
  });
  const ak = read(credentialEnv.ak);
  const sk = read(credentialEnv.sk);
  const user = read(credentialEnv.iamUser);
  if (ak !== undefined || sk !== undefined) {
    if (ak === undefined)
      return missing(credentialEnv.ak, `${credentialEnv.sk} is set, so the access key ID is needed too`);
    if (sk === undefined)
      return missing(credentialEnv.sk, `${credentialEnv.ak} is set, so the secret key is needed too`);
    return { ok: true, credentials: { kind: 'aksk', ak, sk } };
  }
  if (user !== undefined) {
    const password = read(credentialEnv.iamPassword);
    if (password === undefined)
      return missing(credentialEnv.iamPassword, `${credentialEnv.iamUser} is set, so its password is needed`);
    const domain = read(credentialEnv.iamDomain);
    if (domain === undefined)
      return missing(credentialEnv.iamDomain, 'IAM password login needs the account (domain) name');
    return {
      ok: true,
      credentials: { kind: 'password', user, password, domain, iamEndpoint: read(credentialEnv.iamEndpoint) },
    };
  }
  return missing(
    credentialEnv.ak,
    `no credentials: set ${credentialEnv.ak} and ${credentialEnv.sk}, or ${credentialEnv.iamUser}, ${credentialEnv.iamPassword} and ${credentialEnv.iamDomain}`,
  );
}

/** The CPH endpoint for a region. */
export function cphEndpointForRegion(region: string): string {
  return `https://cph.${region}.myhuaweicloud.com`;
}

/** The IAM endpoint of a region. */
export function iamEndpointForRegion(region: string): string {
  return `https://iam.${region}.myhuaweicloud.com`;
}

/** The region of a Huawei Cloud CPH endpoint (https://cph.{region}.myhuaweicloud.com), if it is one. */
export function regionOfCphEndpoint(endpoint: string): string | undefined {
  return /^https:\/\/cph\.([a-z0-9]+(?:-[a-z0-9]+)*)\.myhuaweicloud\.com$/.exec(endpoint)?.[1];
}
