/**
 * The two admission rules of an account, as pure functions over parsed specs: which namespaces may use a
 * ClusterCloudPhoneAccount (namespaceAdmitted) and which phones any account lets its routes act on
 * (phoneInScope). They fail closed: a phone the operator knows too little about, or a selector apimachinery
 * would refuse, admits nothing.
 */
import type {
  ClusterCloudPhoneAccountSpec,
  LabelSelector,
  LabelSelectorRequirement,
  PhoneScope,
} from './account-types.js';

/** What namespaceAdmitted needs of a Namespace object. */
export interface NamespaceFacts {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** What phoneInScope needs of a phone: CPH's server_id and phone_name, when known. */
export interface PhoneFacts {
  serverId?: string;
  phoneName?: string;
}

const has = (labels: Readonly<Record<string, string>>, key: string): boolean => Object.hasOwn(labels, key);

function requirementMatches(requirement: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case 'In':
      // apimachinery refuses In/NotIn without values, and values with Exists/DoesNotExist: such a selector
      // is an error there, so it admits nothing here.
      return values.length > 0 && has(labels, requirement.key) && values.includes(labels[requirement.key]!);
    case 'NotIn':
      return values.length > 0 && (!has(labels, requirement.key) || !values.includes(labels[requirement.key]!));
    case 'Exists':
      return values.length === 0 && has(labels, requirement.key);
    case 'DoesNotExist':
      return values.length === 0 && !has(labels, requirement.key);
    default:
      return false;
  }
}

/**
 * metav1.LabelSelector semantics (apimachinery's LabelSelectorAsSelector): every matchLabels entry and every
 * matchExpressions requirement must hold; an empty selector ({}) matches every set of labels. NotIn and
 * DoesNotExist hold for labels without the key.
 */
export function labelSelectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(labels, key) || labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((requirement) => requirementMatches(requirement, labels));
}

/**
 * Whether routes in `namespace` may use the ClusterCloudPhoneAccount of `spec`: its name is in
 * spec.namespaces, or its labels match spec.namespaceSelector. With neither field set, every namespace may.
 * A field that is set but admits nothing (namespaces: [] without a selector) admits nothing.
 */
export function namespaceAdmitted(
  spec: Pick<ClusterCloudPhoneAccountSpec, 'namespaceSelector' | 'namespaces'>,
  namespace: NamespaceFacts,
): boolean {
  if (spec.namespaces === undefined && spec.namespaceSelector === undefined) return true;
  if (spec.namespaces?.includes(namespace.name)) return true;
  return spec.namespaceSelector !== undefined && labelSelectorMatches(spec.namespaceSelector, namespace.labels);
}

/**
 * A predicate for the phones inside `scope`, for checking many phones against one scope (sets, not lists).
 * serverIds empty or absent: any server; otherwise the phone's serverId must be one of them (a phone without
 * one is outside). phoneNamePrefixes likewise, on the start of the phone's name. Both set: both must hold.
 */
export function phoneScopeMatcher(scope: PhoneScope): (phone: PhoneFacts) => boolean {
  const servers = scope.serverIds !== undefined && scope.serverIds.length > 0 ? new Set(scope.serverIds) : undefined;
  const prefixes =
    scope.phoneNamePrefixes !== undefined && scope.phoneNamePrefixes.length > 0
      ? [...scope.phoneNamePrefixes]
      : undefined;
  return (phone) => {
    if (servers && (phone.serverId === undefined || !servers.has(phone.serverId))) return false;
    if (prefixes) {
      const name = phone.phoneName;
      if (name === undefined || !prefixes.some((prefix) => name.startsWith(prefix))) return false;
    }
    return true;
  };
}

/** Whether `phone` is inside `scope` (see phoneScopeMatcher). */
export function phoneInScope(scope: PhoneScope, phone: PhoneFacts): boolean {
  return phoneScopeMatcher(scope)(phone);
}
