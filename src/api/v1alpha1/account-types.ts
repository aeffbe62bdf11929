/**
 * The account kinds, ClusterCloudPhoneAccount (cluster-scoped, admins) and CloudPhoneAccount (namespaced):
 * where and as whom the operator acts for the routes that name them. A route says what (phones, route); an
 * account says which CPH endpoint and project, with which credentials, on which phones, for which namespaces,
 * as cert-manager's Issuer/ClusterIssuer and External Secrets' SecretStore/ClusterSecretStore do. Field for
 * field the schemas of crds/*cloudphoneaccounts*.yaml; objects read from the API server become these types
 * only through src/api/v1alpha1/account-parse.ts.
 */
import { GROUP } from './constants.js';
import type { Condition } from './types.js';

export const CLUSTER_ACCOUNT_KIND = 'ClusterCloudPhoneAccount';
export const NAMESPACED_ACCOUNT_KIND = 'CloudPhoneAccount';
export type AccountKind = typeof CLUSTER_ACCOUNT_KIND | typeof NAMESPACED_ACCOUNT_KIND;
export const accountKinds: readonly AccountKind[] = [CLUSTER_ACCOUNT_KIND, NAMESPACED_ACCOUNT_KIND];

export const CLUSTER_ACCOUNT_PLURAL = 'clustercloudphoneaccounts';
export const NAMESPACED_ACCOUNT_PLURAL = 'cloudphoneaccounts';
export const CLUSTER_ACCOUNT_SHORT_NAME = 'ccpa';
export const NAMESPACED_ACCOUNT_SHORT_NAME = 'cpa';
export const CLUSTER_ACCOUNT_SINGULAR = 'clustercloudphoneaccount';
export const NAMESPACED_ACCOUNT_SINGULAR = 'cloudphoneaccount';
export const CLUSTER_ACCOUNT_LIST_KIND = 'ClusterCloudPhoneAccountList';
export const NAMESPACED_ACCOUNT_LIST_KIND = 'CloudPhoneAccountList';
export const CLUSTER_ACCOUNT_CRD_NAME = `${CLUSTER_ACCOUNT_PLURAL}.${GROUP}`;
export const NAMESPACED_ACCOUNT_CRD_NAME = `${NAMESPACED_ACCOUNT_PLURAL}.${GROUP}`;

export interface AccountSecretRef {
  /**
   * A Secret in the account's namespace (CloudPhoneAccount), or in the operator's cluster-resource namespace
   * (ClusterCloudPhoneAccount, flag --cluster-resource-namespace).
   */
  name: string;
  /** Key of the AK; defaults to HUAWEICLOUD_SDK_AK. */
  accessKeyKey?: string;
  /** Key of the SK; defaults to HUAWEICLOUD_SDK_SK. */
  secretKeyKey?: string;
}

/** Exactly one of the two. `ambient` is refused at admission on a CloudPhoneAccount. */
export interface AccountCredentials {
  secretRef?: AccountSecretRef;
  /** The operator's own credentials from its environment (AK/SK or IAM password). */
  ambient?: boolean;
}

/** Which phones of the project routes using the account may act on; {} admits every phone of the project. */
export interface PhoneScope {
  /** Only phones on these CPH servers. */
  serverIds?: string[];
  /** Only phones whose name starts with one of these. */
  phoneNamePrefixes?: string[];
}

/** metav1.LabelSelector. */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface CloudPhoneAccountSpec {
  /** https://host[:port]; exactly one of endpoint and region. */
  endpoint?: string;
  /** The endpoint is then https://cph.{region}.myhuaweicloud.com. */
  region?: string;
  projectId: string;
  credentials: AccountCredentials;
  phoneScope: PhoneScope;
}

export interface ClusterCloudPhoneAccountSpec extends CloudPhoneAccountSpec {
  /** Namespaces whose labels match may use the account. */
  namespaceSelector?: LabelSelector;
  /** Namespaces named here may use the account. With neither this nor namespaceSelector, every namespace may. */
  namespaces?: string[];
}

export interface CloudPhoneAccountStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** Phones of the project inside phoneScope, as the last sweep that changed this count saw them. */
  phonesInScope?: number;
  /** When the sweep that produced phonesInScope ran (RFC 3339); later sweeps that see the same count write nothing. */
  phonesObservedAt?: string;
}

export interface AccountMetadata {
  name: string;
  /** Absent for a ClusterCloudPhoneAccount. */
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface CloudPhoneAccountObject {
  apiVersion: 'cloudphone.dev/v1alpha1';
  kind: AccountKind;
  metadata: AccountMetadata;
  spec: ClusterCloudPhoneAccountSpec;
  status?: CloudPhoneAccountStatus;
}

/** A route's reference to its account. */
export interface AccountRef {
  kind: AccountKind;
  name: string;
}

/** `ClusterCloudPhoneAccount/name` or `CloudPhoneAccount/namespace/name`: the key of an account object. */
export function accountObjectKey(kind: AccountKind, name: string, namespace?: string): string {
  return kind === CLUSTER_ACCOUNT_KIND ? `${kind}/${name}` : `${kind}/${namespace ?? ''}/${name}`;
}
