/**
 * Untrusted objects from the API server become typed accounts (ClusterCloudPhoneAccount, CloudPhoneAccount)
 * here, or a ParseError naming the offending field, the same way parse.ts does for routes and with the same
 * rules as crds/*cloudphoneaccounts*.yaml (test/fixtures/account-corpus.ts holds both to it). An account
 * decides where and as whom the operator acts, so nothing admission should have refused gets through: an
 * object stored under an older CRD, or written around admission, is refused here too, and a CloudPhoneAccount
 * that asks for the operator's own (ambient) credentials never becomes a typed account. The API server's
 * defaults (the Secret's key names) are filled in.
 */
import { ParseError } from '../../errors.js';
import {
  API_VERSION,
  DEFAULT_ACCESS_KEY_KEY,
  DEFAULT_SECRET_KEY_KEY,
  DNS1123_LABEL_MAX_LENGTH,
  DNS1123_LABEL_PATTERN,
  DNS1123_SUBDOMAIN_MAX_LENGTH,
  DNS1123_SUBDOMAIN_PATTERN,
  ENDPOINT_MAX_LENGTH,
  ENDPOINT_PATTERN,
  LABEL_KEY_MAX_LENGTH,
  LABEL_KEY_PATTERN,
  LABEL_VALUE_MAX_LENGTH,
  LABEL_VALUE_PATTERN,
  MAX_ACCOUNT_NAMESPACES,
  MAX_PHONE_NAME_PREFIXES,
  MAX_SELECTOR_MATCH_LABELS,
  MAX_SELECTOR_REQUIREMENTS,
  MAX_SELECTOR_VALUES,
  MAX_SERVER_IDS,
  PHONE_NAME_PREFIX_MAX_LENGTH,
  PROJECT_ID_PATTERN,
  REGION_MAX_LENGTH,
  REGION_PATTERN,
  SECRET_KEY_PATTERN,
  SERVER_ID_PATTERN,
} from './constants.js';
import {
  accountKinds,
  CLUSTER_ACCOUNT_KIND,
  NAMESPACED_ACCOUNT_KIND,
  type AccountCredentials,
  type AccountKind,
  type AccountMetadata,
  type AccountRef,
  type AccountSecretRef,
  type ClusterCloudPhoneAccountSpec,
  type CloudPhoneAccountObject,
  type CloudPhoneAccountStatus,
  type LabelSelector,
  type LabelSelectorRequirement,
  type PhoneScope,
} from './account-types.js';
import {
  absent,
  array,
  describe,
  idList,
  isObject,
  isOneOf,
  matching,
  nonEmpty,
  nonNegativeInt,
  object,
  optionalBoolean,
  optionalString,
  parseCommonMetadata,
  parseConditions,
  requiredMatching,
  string,
  stringMap,
  uniqueStrings,
  type Obj,
} from './parse-fields.js';

/** The operators of a metav1.LabelSelectorRequirement. */
export const labelSelectorOperators: readonly LabelSelectorRequirement['operator'][] = [
  'In',
  'NotIn',
  'Exists',
  'DoesNotExist',
];

/** The message of a refused `ambient` on a CloudPhoneAccount; the CRD's CEL rule says the same. */
export const AMBIENT_REFUSED_MESSAGE =
  "spec.credentials.ambient is refused: only a ClusterCloudPhoneAccount may use the operator's own credentials; a CloudPhoneAccount takes its credentials from a Secret in its namespace (spec.credentials.secretRef)";

const what = {
  secretName: 'a Secret name (a DNS-1123 subdomain)',
  secretKey: 'a Secret data key (letters, digits, -, _ or .)',
  accountName: 'an account name (a DNS-1123 subdomain)',
  namespace: 'a namespace name (a DNS-1123 label)',
  labelKey: 'a label key ([prefix/]name)',
  labelValue: 'a label value (at most 63 letters, digits, -, _ or ., starting and ending alphanumeric)',
  serverId: 'a server ID (1 to 64 letters, digits or -)',
} as const;

/** A route's spec.accountRef: {kind, name}. Throws ParseError naming the field. */
export function parseAccountRef(value: unknown, field = 'spec.accountRef'): AccountRef {
  const obj = object(value, field);
  if (absent(obj, 'kind')) throw new ParseError(`${field}.kind`, `is required (${accountKinds.join(' or ')})`);
  if (!isOneOf(accountKinds, obj.kind))
    throw new ParseError(`${field}.kind`, `must be ${accountKinds.join(' or ')}, got ${describe(obj.kind)}`);
  return {
    kind: obj.kind,
    name: requiredMatching(
      obj,
      'name',
      `${field}.name`,
      DNS1123_SUBDOMAIN_PATTERN,
      DNS1123_SUBDOMAIN_MAX_LENGTH,
      what.accountName,
    ),
  };
}

function parseSecretRef(value: unknown, field: string): AccountSecretRef {
  const obj = object(value, field);
  const key = (name: 'accessKeyKey' | 'secretKeyKey', fallback: string): string => {
    const text = optionalString(obj, name, `${field}.${name}`) ?? fallback;
    return matching(text, SECRET_KEY_PATTERN, DNS1123_SUBDOMAIN_MAX_LENGTH, `${field}.${name}`, what.secretKey);
  };
  return {
    name: requiredMatching(
      obj,
      'name',
      `${field}.name`,
      DNS1123_SUBDOMAIN_PATTERN,
      DNS1123_SUBDOMAIN_MAX_LENGTH,
      what.secretName,
    ),
    accessKeyKey: key('accessKeyKey', DEFAULT_ACCESS_KEY_KEY),
    secretKeyKey: key('secretKeyKey', DEFAULT_SECRET_KEY_KEY),
  };
}

function parseCredentials(value: unknown, field: string, kind: AccountKind): AccountCredentials {
  if (value === undefined || value === null)
    throw new ParseError(field, 'is required: set secretRef (or, on a ClusterCloudPhoneAccount, ambient: true)');
  const obj = object(value, field);
  const ambient = optionalBoolean(obj, 'ambient', `${field}.ambient`);
  if (ambient !== undefined && kind === NAMESPACED_ACCOUNT_KIND)
    throw new ParseError(`${field}.ambient`, AMBIENT_REFUSED_MESSAGE);
  if (ambient === false)
    throw new ParseError(
      `${field}.ambient`,
      'must be true when set: to use a Secret, leave ambient out and set secretRef',
    );
  const hasSecretRef = !absent(obj, 'secretRef');
  if (hasSecretRef && ambient === true)
    throw new ParseError(field, `${field}.secretRef and ${field}.ambient are mutually exclusive: set one`);
  if (ambient === true) return { ambient: true };
  if (!hasSecretRef && kind === NAMESPACED_ACCOUNT_KIND) throw new ParseError(`${field}.secretRef`, 'is required');
  if (!hasSecretRef) throw new ParseError(field, `${field} must set secretRef or ambient: true`);
  return { secretRef: parseSecretRef(obj.secretRef, `${field}.secretRef`) };
}

function parsePhoneScope(value: unknown, field: string): PhoneScope {
  if (value === undefined || value === null)
    throw new ParseError(field, 'is required ({} admits every phone of the project)');
  const obj = object(value, field);
  const scope: PhoneScope = {};
  if (!absent(obj, 'serverIds'))
    scope.serverIds = idList(obj.serverIds, `${field}.serverIds`, MAX_SERVER_IDS, SERVER_ID_PATTERN, 64, what.serverId);
  if (!absent(obj, 'phoneNamePrefixes')) {
    scope.phoneNamePrefixes = uniqueStrings(
      obj.phoneNamePrefixes,
      `${field}.phoneNamePrefixes`,
      MAX_PHONE_NAME_PREFIXES,
      (text, itemField) => nonEmpty(text, itemField, PHONE_NAME_PREFIX_MAX_LENGTH),
    );
  }
  return scope;
}

const labelValue = (text: string, field: string): string =>
  matching(text, LABEL_VALUE_PATTERN, LABEL_VALUE_MAX_LENGTH, field, what.labelValue);

function parseRequirement(value: unknown, field: string): LabelSelectorRequirement {
  const obj = object(value, field);
  const key = requiredMatching(obj, 'key', `${field}.key`, LABEL_KEY_PATTERN, LABEL_KEY_MAX_LENGTH, what.labelKey);
  if (absent(obj, 'operator'))
    throw new ParseError(`${field}.operator`, 'is required (In, NotIn, Exists or DoesNotExist)');
  const operator = obj.operator;
  if (!isOneOf(labelSelectorOperators, operator))
    throw new ParseError(`${field}.operator`, `must be In, NotIn, Exists or DoesNotExist, got ${describe(operator)}`);
  const values = absent(obj, 'values')
    ? []
    : array(obj.values, `${field}.values`, MAX_SELECTOR_VALUES).map((v, i) =>
        labelValue(string(v, `${field}.values[${i}]`), `${field}.values[${i}]`),
      );
  const needsValues = operator === 'In' || operator === 'NotIn';
  if (needsValues && values.length === 0)
    throw new ParseError(`${field}.values`, `must hold at least one value for operator ${operator}`);
  if (!needsValues && values.length > 0)
    throw new ParseError(`${field}.values`, `must be empty for operator ${operator}`);
  return needsValues ? { key, operator, values } : { key, operator };
}

/** A metav1.LabelSelector, with apimachinery's rules for keys, values and operators. */
export function parseLabelSelector(value: unknown, field: string): LabelSelector {
  const obj = object(value, field);
  const selector: LabelSelector = {};
  if (!absent(obj, 'matchLabels')) {
    const matchLabels = stringMap(obj.matchLabels, `${field}.matchLabels`, labelValue);
    const keys = Object.keys(matchLabels);
    if (keys.length > MAX_SELECTOR_MATCH_LABELS)
      throw new ParseError(
        `${field}.matchLabels`,
        `must hold at most ${MAX_SELECTOR_MATCH_LABELS} labels, got ${keys.length}`,
      );
    for (const key of keys)
      matching(key, LABEL_KEY_PATTERN, LABEL_KEY_MAX_LENGTH, `${field}.matchLabels`, what.labelKey);
    selector.matchLabels = matchLabels;
  }
  if (!absent(obj, 'matchExpressions')) {
    selector.matchExpressions = array(obj.matchExpressions, `${field}.matchExpressions`, MAX_SELECTOR_REQUIREMENTS).map(
      (r, i) => parseRequirement(r, `${field}.matchExpressions[${i}]`),
    );
  }
  return selector;
}

/**
 * The spec of an account of `kind`. A CloudPhoneAccount's spec never carries namespaceSelector or namespaces
 * (its CRD has neither; the API server prunes them, and so does this step). Throws ParseError naming the field.
 */
export function parseAccountSpec(value: unknown, kind: AccountKind, field = 'spec'): ClusterCloudPhoneAccountSpec {
  const obj = object(value, field);
  const endpoint = optionalString(obj, 'endpoint', `${field}.endpoint`);
  const region = optionalString(obj, 'region', `${field}.region`);
  if (endpoint !== undefined && region !== undefined)
    throw new ParseError(`${field}.endpoint`, `${field}.endpoint and ${field}.region are mutually exclusive: set one`);
  if (endpoint === undefined && region === undefined)
    throw new ParseError(`${field}.endpoint`, `${field}.endpoint or ${field}.region is required`);
  const where: Pick<ClusterCloudPhoneAccountSpec, 'endpoint' | 'region'> =
    endpoint !== undefined
      ? {
          endpoint: matching(
            endpoint,
            ENDPOINT_PATTERN,
            ENDPOINT_MAX_LENGTH,
            `${field}.endpoint`,
            'https://host[:port] (http only to localhost, 127.0.0.1 or [::1]), with no user info, path, query or fragment',
          ),
        }
      : {
          region: matching(
            region ?? '',
            REGION_PATTERN,
            REGION_MAX_LENGTH,
            `${field}.region`,
            'a region name like cn-east-3',
          ),
        };
  const spec: ClusterCloudPhoneAccountSpec = {
    ...where,
    projectId: requiredMatching(
      obj,
      'projectId',
      `${field}.projectId`,
      PROJECT_ID_PATTERN,
      64,
      'a project ID (1 to 64 letters, digits or -)',
    ),
    credentials: parseCredentials(obj.credentials, `${field}.credentials`, kind),
    phoneScope: parsePhoneScope(obj.phoneScope, `${field}.phoneScope`),
  };
  if (kind === CLUSTER_ACCOUNT_KIND) {
    if (!absent(obj, 'namespaceSelector'))
      spec.namespaceSelector = parseLabelSelector(obj.namespaceSelector, `${field}.namespaceSelector`);
    if (!absent(obj, 'namespaces')) {
      const names = idList(
        obj.namespaces,
        `${field}.namespaces`,
        MAX_ACCOUNT_NAMESPACES,
        DNS1123_LABEL_PATTERN,
        DNS1123_LABEL_MAX_LENGTH,
        what.namespace,
      );
      if (names.length === 0)
        throw new ParseError(
          `${field}.namespaces`,
          `must name at least one namespace when set (leave ${field}.namespaces out to admit by ${field}.namespaceSelector, or every namespace)`,
        );
      spec.namespaces = names;
    }
  }
  return spec;
}

function parseAccountMetadata(value: unknown, kind: AccountKind): AccountMetadata {
  const obj: Obj = object(value, 'metadata');
  const meta: AccountMetadata = parseCommonMetadata(obj);
  const namespace = optionalString(obj, 'namespace', 'metadata.namespace') ?? '';
  if (kind === NAMESPACED_ACCOUNT_KIND) {
    if (namespace === '') throw new ParseError('metadata.namespace', 'must not be empty');
    meta.namespace = namespace;
  } else if (namespace !== '') {
    throw new ParseError(
      'metadata.namespace',
      `must be empty: a ${CLUSTER_ACCOUNT_KIND} is cluster-scoped, got ${describe(namespace)}`,
    );
  }
  return meta;
}

/**
 * An account of `kind` from an object the API server sent (a watch event, a get, a list item without
 * apiVersion and kind). Throws ParseError naming the first offending field; the status is parsed leniently
 * (parseAccountStatus).
 */
export function parseAccountObject(value: unknown, kind: AccountKind): CloudPhoneAccountObject {
  const obj = object(value, '(object)');
  if (!absent(obj, 'apiVersion') && obj.apiVersion !== API_VERSION)
    throw new ParseError('apiVersion', `must be ${API_VERSION}, got ${describe(obj.apiVersion)}`);
  if (!absent(obj, 'kind') && obj.kind !== kind)
    throw new ParseError('kind', `must be ${kind}, got ${describe(obj.kind)}`);
  const account: CloudPhoneAccountObject = {
    apiVersion: API_VERSION,
    kind,
    metadata: parseAccountMetadata(obj.metadata, kind),
    spec: parseAccountSpec(obj.spec, kind, 'spec'),
  };
  if (!absent(obj, 'status')) account.status = parseAccountStatus(obj.status);
  return account;
}

/**
 * An account's status as an earlier round wrote it, leniently: parts that do not fit are dropped, a repeated
 * condition type keeps the first; never throws. The result is in canonical form (canonicalAccountStatus).
 */
export function parseAccountStatus(value: unknown): CloudPhoneAccountStatus {
  if (!isObject(value)) return {};
  const conditions = parseConditions(value.conditions);
  return canonicalAccountStatus({
    observedGeneration: nonNegativeInt(value.observedGeneration),
    conditions,
    phonesInScope: nonNegativeInt(value.phonesInScope),
    phonesObservedAt:
      typeof value.phonesObservedAt === 'string' && value.phonesObservedAt !== '' ? value.phonesObservedAt : undefined,
  });
}

/**
 * The status with its keys in the one order the operator writes them and undefined ones left out (conditions
 * keep their order; parseAccountStatus orders each condition's keys), so that a status read back from the API
 * server deep-equals the one the operator built when nothing changed.
 */
export function canonicalAccountStatus(status: CloudPhoneAccountStatus): CloudPhoneAccountStatus {
  const out: CloudPhoneAccountStatus = {};
  if (status.observedGeneration !== undefined) out.observedGeneration = status.observedGeneration;
  if (status.conditions !== undefined) out.conditions = status.conditions;
  if (status.phonesInScope !== undefined) out.phonesInScope = status.phonesInScope;
  if (status.phonesObservedAt !== undefined) out.phonesObservedAt = status.phonesObservedAt;
  return out;
}
