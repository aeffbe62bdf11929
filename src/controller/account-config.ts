/**
 * From an account object (ClusterCloudPhoneAccount or CloudPhoneAccount) to what the operator calls CPH
 * with: the normalized endpoint, the project, the credentials and the phone scope. Pure: the Secret's data
 * is read by the caller (`secretLocation` says where) and handed in. Every refusal is an AccountError whose
 * reason is one of the condition reasons and whose message names the field or key at fault, never a value.
 * The rules that keep a tenant from borrowing what its namespace was not given:
 *   - ambient (the operator's own) credentials only for a ClusterCloudPhoneAccount;
 *   - a CloudPhoneAccount's Secret only from its own namespace, a ClusterCloudPhoneAccount's only from the
 *     operator's cluster-resource namespace;
 *   - an endpoint off the allowlist is refused before anything is sent to it.
 */
import { createHash } from 'node:crypto';
import { OperatorError } from '../errors.js';
import { Reason } from '../api/v1alpha1/conditions.js';
import { DEFAULT_ACCESS_KEY_KEY, DEFAULT_SECRET_KEY_KEY } from '../api/v1alpha1/constants.js';
import {
  CLUSTER_ACCOUNT_KIND,
  accountObjectKey,
  type CloudPhoneAccountObject,
  type PhoneScope,
} from '../api/v1alpha1/account-types.js';
import {
  cphEndpointForRegion,
  iamEndpointForRegion,
  regionOfCphEndpoint,
  type EnvCredentials,
  type MissingCredentialsError,
} from '../cph/credentials.js';
import { EndpointError, allowedEndpoint, type HostPattern } from '../cph/endpoints.js';

/** Why an account cannot be used by a route: the condition reason, and a message that names the field. */
export type AccountProblemReason =
  | typeof Reason.AccountNotFound
  | typeof Reason.AccountNotAllowed
  | typeof Reason.EndpointNotAllowed
  | typeof Reason.CredentialsInvalid
  | typeof Reason.InvalidSpec;

export class AccountError extends OperatorError {
  constructor(
    readonly reason: AccountProblemReason,
    message: string,
  ) {
    super(`Account.${reason}`, message);
  }
}

/** The credentials an account calls with; `id` tells credentials apart without holding a secret. */
export type CredentialSpec =
  | { id: string; kind: 'aksk'; ak: string; sk: string }
  | { id: string; kind: 'password'; user: string; password: string; domain: string; iamEndpoint: string };

export interface AccountConfig {
  /** ClusterCloudPhoneAccount/name or CloudPhoneAccount/namespace/name. */
  objectKey: string;
  /** Normalized, allowlisted. */
  endpoint: string;
  projectId: string;
  /** One CPH account inside the operator: normalized endpoint and project, whatever the credentials. */
  cphKey: string;
  credential: CredentialSpec;
  scope: PhoneScope;
  /** Changes whenever anything above does: routes using the account are planned again. */
  stamp: string;
}

export interface AccountEnvironment {
  /** The operator's own credentials, or why there are none. */
  ambient: EnvCredentials | MissingCredentialsError;
  /** --iam-endpoint: IAM for ambient password login when the credentials do not name one. */
  iamEndpoint: string | undefined;
  allowedHosts: readonly HostPattern[];
  /** Where ClusterCloudPhoneAccount Secrets live (--cluster-resource-namespace). */
  clusterResourceNamespace: string;
}

/** Where an account's Secret must be read, or undefined for ambient credentials. */
export function secretLocation(
  object: CloudPhoneAccountObject,
  env: Pick<AccountEnvironment, 'clusterResourceNamespace'>,
): { namespace: string; name: string } | undefined {
  const ref = object.spec.credentials.secretRef;
  if (!ref) return undefined;
  const namespace =
    object.kind === CLUSTER_ACCOUNT_KIND ? env.clusterResourceNamespace : (object.metadata.namespace ?? '');
  return { namespace, name: ref.name };
}

function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}

export function objectKeyOf(object: CloudPhoneAccountObject): string {
  return accountObjectKey(object.kind, object.metadata.name, object.metadata.namespace);
}

/**
 * The usable account, or an AccountError. `secretData` is the decoded data of the Secret at
 * `secretLocation(object)`, undefined when that Secret does not exist (ignored for ambient credentials).
 */
export function accountConfig(
  object: CloudPhoneAccountObject,
  secretData: Readonly<Record<string, string>> | undefined,
  env: AccountEnvironment,
): AccountConfig {
  const spec = object.spec;
  const objectKey = objectKeyOf(object);
  const rawEndpoint = spec.endpoint ?? (spec.region ? cphEndpointForRegion(spec.region) : undefined);
  if (!rawEndpoint) throw new AccountError(Reason.InvalidSpec, `${objectKey}: set spec.endpoint or spec.region`);
  let endpoint: string;
  try {
    endpoint = allowedEndpoint(
      rawEndpoint,
      `${objectKey} spec.${spec.endpoint ? 'endpoint' : 'region'}`,
      env.allowedHosts,
    );
  } catch (error) {
    if (!(error instanceof EndpointError)) throw error;
    throw new AccountError(
      error.endpointCode === 'EndpointNotAllowed' ? Reason.EndpointNotAllowed : Reason.InvalidSpec,
      error.message,
    );
  }
  const credential = credentialOf(object, objectKey, endpoint, secretData, env);
  const cphKey = `${endpoint}|${spec.projectId}`;
  const scope = spec.phoneScope;
  const stamp = `${objectKey}|${cphKey}|${credential.id}|${JSON.stringify(scope)}`;
  return { objectKey, endpoint, projectId: spec.projectId, cphKey, credential, scope, stamp };
}

// Long on purpose: one refusal per way a credential can be wrong, each naming its field; together they are the rule
// of who may use which credentials.
function credentialOf(
  object: CloudPhoneAccountObject,
  objectKey: string,
  endpoint: string,
  secretData: Readonly<Record<string, string>> | undefined,
  env: AccountEnvironment,
): CredentialSpec {
  const { credentials } = object.spec;
  if (credentials.ambient === true) {
    if (object.kind !== CLUSTER_ACCOUNT_KIND)
      throw new AccountError(
        Reason.CredentialsInvalid,
        `${objectKey} spec.credentials.ambient: only a ClusterCloudPhoneAccount may use the operator's own credentials`,
      );
    const ambient = env.ambient;
    if (!('kind' in ambient))
      throw new AccountError(
        Reason.CredentialsInvalid,
        `${objectKey} spec.credentials.ambient: the operator has no credentials of its own (${ambient.message})`,
      );
    if (ambient.kind === 'aksk')
      return {
        id: `ambient-aksk:${fingerprint(ambient.ak, ambient.sk)}`,
        kind: 'aksk',
        ak: ambient.ak,
        sk: ambient.sk,
      };
    const region = object.spec.region ?? regionOfCphEndpoint(endpoint);
    const rawIam = ambient.iamEndpoint ?? env.iamEndpoint ?? (region ? iamEndpointForRegion(region) : undefined);
    if (!rawIam)
      throw new AccountError(
        Reason.CredentialsInvalid,
        `${objectKey}: IAM password login needs an IAM endpoint: set spec.region, or start the operator with --iam-endpoint`,
      );
    let iamEndpoint: string;
    try {
      // The password and the token go only to an allowed host.
      iamEndpoint = allowedEndpoint(
        rawIam,
        'the IAM endpoint (--iam-endpoint, HUAWEICLOUD_SDK_IAM_ENDPOINT or the region)',
        env.allowedHosts,
      );
    } catch (error) {
      if (!(error instanceof EndpointError)) throw error;
      throw new AccountError(Reason.EndpointNotAllowed, error.message);
    }
    return {
      id: `ambient-iam:${fingerprint(iamEndpoint, ambient.domain, ambient.user, ambient.password)}`,
      kind: 'password',
      user: ambient.user,
      password: ambient.password,
      domain: ambient.domain,
      iamEndpoint,
    };
  }
  const ref = credentials.secretRef;
  const where = secretLocation(object, env);
  if (!ref || !where)
    throw new AccountError(
      Reason.InvalidSpec,
      `${objectKey}: set spec.credentials.secretRef or spec.credentials.ambient`,
    );
  const secret = `Secret ${where.namespace}/${where.name}`;
  const field = `${objectKey} spec.credentials.secretRef`;
  if (!secretData) throw new AccountError(Reason.CredentialsInvalid, `${field}: ${secret} does not exist`);
  const akKey = ref.accessKeyKey ?? DEFAULT_ACCESS_KEY_KEY;
  const skKey = ref.secretKeyKey ?? DEFAULT_SECRET_KEY_KEY;
  const ak = secretData[akKey]?.trim();
  const sk = secretData[skKey]?.trim();
  if (!ak)
    throw new AccountError(
      Reason.CredentialsInvalid,
      `${field}: ${secret} has no non-empty key ${akKey} (the access key ID)`,
    );
  if (!sk)
    throw new AccountError(
      Reason.CredentialsInvalid,
      `${field}: ${secret} has no non-empty key ${skKey} (the secret key)`,
    );
  // The AK travels in the Authorization header: a value that cannot be a header (control or non-ASCII
  // characters, spaces) would fail as a network error; say what is wrong instead, never the value. An AK is
  // 20 upper-case letters and digits in practice; anything much longer is no key (and would carry another
  // key's value out in the header, a way to read Secrets without `get secrets`).
  if (!/^[A-Za-z0-9]{1,128}$/.test(ak))
    throw new AccountError(
      Reason.CredentialsInvalid,
      `${field}: ${secret} key ${akKey} is not an access key ID (letters and digits only, at most 128)`,
    );
  if (!/^[\x20-\x7e]+$/.test(sk))
    throw new AccountError(
      Reason.CredentialsInvalid,
      `${field}: ${secret} key ${skKey} is not a secret key (it holds control or non-ASCII characters)`,
    );
  return { id: `secret:${where.namespace}/${where.name}:${fingerprint(ak, sk)}`, kind: 'aksk', ak, sk };
}
