/**
 * The CloudPhoneRoute resource as it travels to and from the API server, field for field the schema of
 * crds/cloudphoneroutes.cloudphone.dev.yaml (test/unit/api-crd.test.ts keeps the two in step). Objects
 * read from the API server become these types only through src/api/v1alpha1/parse.ts.
 */
import type { TrafficType } from '../../cph/wire.js';
import type { AccountRef } from './account-types.js';

export type { TrafficType };
export type DeletionPolicy = 'Retain' | 'Revert';
export const deletionPolicies: readonly DeletionPolicy[] = ['Retain', 'Revert'];

export interface PhoneSelector {
  /** Phones on these CPH servers. */
  serverIds?: string[];
  /** Phones whose name starts with this exact prefix. */
  phoneNamePrefix?: string;
}

export interface CloudPhoneRouteSpec {
  trafficType: TrafficType;
  phoneIds?: string[];
  selector?: PhoneSelector;
  /** Where and as whom; without it, the operator's --default-account (a ClusterCloudPhoneAccount). */
  accountRef?: AccountRef;
  /** Go-style duration (30s, 5m, 1h30m), >= 10s, <= 24h; the API server defaults it to 5m. */
  driftCheckInterval?: string;
  /** Defaulted to false by the API server. */
  suspend?: boolean;
  /** Defaulted to Retain by the API server. */
  deletionPolicy?: DeletionPolicy;
  /** With deletionPolicy Revert: how long a deletion waits for the revert (duration, 10s..24h); the API server defaults it to 10m. */
  revertTimeout?: string;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339, seconds precision, UTC (e.g. 2026-11-28T06:53:00Z). */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface Summary {
  total: number;
  inSync: number;
  drifted: number;
  pending: number;
  failed: number;
  conflicted: number;
  notFound: number;
  waiting: number;
}

export type PhoneEntryState =
  | 'InSync'
  | 'Changed'
  | 'Pending'
  | 'Failed'
  | 'NotFound'
  | 'Conflict'
  | 'Waiting'
  | 'Drifted';
export const phoneEntryStates: readonly PhoneEntryState[] = [
  'InSync',
  'Changed',
  'Pending',
  'Failed',
  'NotFound',
  'Conflict',
  'Waiting',
  'Drifted',
];

export type StatusJobStatus = 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
export const statusJobStatuses: readonly StatusJobStatus[] = ['Running', 'Succeeded', 'Failed', 'Unknown'];

export interface PhoneStatusEntry {
  phoneId: string;
  state: PhoneEntryState;
  /** The route CPH reported: direct or routing, or CPH's own value when it is neither (at most MAX_ACTUAL_LENGTH characters). */
  actual?: string;
  desired?: TrafficType;
  jobId?: string;
  jobStatus?: StatusJobStatus;
  requestId?: string;
  errorCode?: string;
  errorMessage?: string;
  lastTransitionTime?: string;
}

export interface CloudPhoneRouteStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  summary?: Summary;
  phones?: PhoneStatusEntry[];
  phonesTruncated?: number;
  /** Request IDs whose jobs still run for this resource; followed again after a restart. */
  pendingRequests?: string[];
  /** The value of the reconcile-requested-at annotation the operator last handled. */
  lastHandledReconcileAt?: string;
}

/** The part of ObjectMeta the operator reads. */
export interface RouteMetadata {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface CloudPhoneRoute {
  apiVersion: 'cloudphone.dev/v1alpha1';
  kind: 'CloudPhoneRoute';
  metadata: RouteMetadata;
  spec: CloudPhoneRouteSpec;
  status?: CloudPhoneRouteStatus;
}

/** namespace/name, the work-queue key of a resource. */
export function routeKey(route: { metadata: { namespace: string; name: string } }): string {
  return `${route.metadata.namespace}/${route.metadata.name}`;
}
