/**
 * Where the operator's default CPH account comes from: the environment, under the official Huawei Cloud SDKs'
 * names, so a Secret written for the SDKs works unchanged. AK/SK wins when HUAWEICLOUD_SDK_AK or
 * HUAWEICLOUD_SDK_SK is set; otherwise an IAM user and password are used.
 *
 *   HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK    access key ID and secret key (SDK names)
 *   HUAWEICLOUD_SDK_PROJECT_ID                the project ID the CPH paths carry (SDK name; required)
 *   HUAWEICLOUD_SDK_REGION                    region, e.g. cn-north-4 (SDK name); gives the default endpoints
 *   HUAWEICLOUD_SDK_IAM_USER                  IAM user name (ours; the SDKs have no password login)
 *   HUAWEICLOUD_SDK_IAM_PASSWORD              that user's password (ours)
 *   HUAWEICLOUD_SDK_IAM_DOMAIN                the account (domain) name the user belongs to (ours)
 *   HUAWEICLOUD_SDK_IAM_ENDPOINT              IAM endpoint (SDK name); default https://iam.{region}.myhuaweicloud.com
 *   HUAWEICLOUD_SDK_CPH_ENDPOINT              CPH endpoint (ours); default https://cph.{region}.myhuaweicloud.com
 *
 * Values are trimmed; an empty value counts as missing.
 */
import { OperatorError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import { AkSkAuth, IamTokenAuth, type CphAuth } from './auth.js';

export const credentialEnv = {
  ak: 'HUAWEICLOUD_SDK_AK',
  sk: 'HUAWEICLOUD_SDK_SK',
  projectId: 'HUAWEICLOUD_SDK_PROJECT_ID',
  region: 'HUAWEICLOUD_SDK_REGION',
  iamUser: 'HUAWEICLOUD_SDK_IAM_USER',
  iamPassword: 'HUAWEICLOUD_SDK_IAM_PASSWORD',
  iamDomain: 'HUAWEICLOUD_SDK_IAM_DOMAIN',
  iamEndpoint: 'HUAWEICLOUD_SDK_IAM_ENDPOINT',
  cphEndpoint: 'HUAWEICLOUD_SDK_CPH_ENDPOINT',
} as const;

export type EnvCredentials =
  | { kind: 'aksk'; ak: string; sk: string; projectId: string; region: string | undefined; cphEndpoint: string | undefined }
  | {
      kind: 'password';
      user: string;
      password: string;
      domain: string;
      projectId: string;
      region: string | undefined;
      iamEndpoint: string;
      cphEndpoint: string | undefined;
    };

/** A credential variable is missing (or empty). Names the variable, never a value. */
export class MissingCredentialsError extends OperatorError {
  readonly variable: string;

  constructor(variable: string, why: string) {
    super('MissingCredentials', `${variable} is not set: ${why}`);
    this.variable = variable;
  }
}

export type CredentialsResult = { ok: true; credentials: EnvCredentials } | { ok: false; error: MissingCredentialsError };

export function credentialsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): CredentialsResult {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const missing = (variable: string, why: string): CredentialsResult => ({ ok: false, error: new MissingCredentialsError(variable, why) });
  const region = read(credentialEnv.region);
  const cphEndpoint = read(credentialEnv.cphEndpoint);
  const ak = read(credentialEnv.ak);
  const sk = read(credentialEnv.sk);
  const user = read(credentialEnv.iamUser);
  if (ak !== undefined || sk !== undefined) {
    if (ak === undefined) return missing(credentialEnv.ak, `${credentialEnv.sk} is set, so the access key ID is needed too`);
    if (sk === undefined) return missing(credentialEnv.sk, `${credentialEnv.ak} is set, so the secret key is needed too`);
    const projectId = read(credentialEnv.projectId);
    if (projectId === undefined) return missing(credentialEnv.projectId, 'CPH paths carry the project ID');
    return { ok: true, credentials: { kind: 'aksk', ak, sk, projectId, region, cphEndpoint } };
  }
  if (user !== undefined) {
    const password = read(credentialEnv.iamPassword);
    if (password === undefined) return missing(credentialEnv.iamPassword, `${credentialEnv.iamUser} is set, so its password is needed`);
    const domain = read(credentialEnv.iamDomain);
    if (domain === undefined) return missing(credentialEnv.iamDomain, 'IAM password login needs the account (domain) name');
    const projectId = read(credentialEnv.projectId);
    if (projectId === undefined) return missing(credentialEnv.projectId, 'CPH paths carry the project ID');
    const iamEndpoint = read(credentialEnv.iamEndpoint) ?? (region !== undefined ? `https://iam.${region}.myhuaweicloud.com` : undefined);
    if (iamEndpoint === undefined) return missing(credentialEnv.iamEndpoint, `set it or ${credentialEnv.region} to locate IAM`);
    return { ok: true, credentials: { kind: 'password', user, password, domain, projectId, region, iamEndpoint, cphEndpoint } };
  }
  return missing(credentialEnv.ak, `no credentials: set ${credentialEnv.ak} and ${credentialEnv.sk}, or ${credentialEnv.iamUser}, ${credentialEnv.iamPassword} and ${credentialEnv.iamDomain}`);
}

/** The CPH endpoint for a region. */
export function cphEndpointForRegion(region: string): string {
  return `https://cph.${region}.myhuaweicloud.com`;
}

/**
 * The CphAuth for credentials read from the environment (or a Secret in the same shape): AK/SK signing, or
 * IAM password tokens scoped to the project.
 */
export function authFromCredentials(
  credentials: EnvCredentials,
  options: { clock: Clock; logger?: Logger | undefined; caPem?: string | undefined; userAgent?: string | undefined },
): CphAuth {
  if (credentials.kind === 'aksk') return new AkSkAuth({ ak: credentials.ak, sk: credentials.sk }, options.clock);
  return new IamTokenAuth({
    iamEndpoint: credentials.iamEndpoint,
    credentials: { user: credentials.user, password: credentials.password, domain: credentials.domain },
    project: { id: credentials.projectId },
    clock: options.clock,
    logger: options.logger,
    caPem: options.caPem,
    userAgent: options.userAgent,
  });
}
