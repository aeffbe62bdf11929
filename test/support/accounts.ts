/**
 * Account objects for the tests: a ClusterCloudPhoneAccount for a simulator (the operator's default account
 * in most tests) and CloudPhoneAccounts for tenant scenarios, created on the real API server.
 */
import { createHash } from 'node:crypto';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ClusterCloudPhoneAccountSpec } from '../../src/api/v1alpha1/account-types.js';

const group = 'cloudphone.dev';
const version = 'v1alpha1';

function isConflict(error: unknown): boolean {
  return (error as { code?: number }).code === 409;
}

/** Creates a ClusterCloudPhoneAccount, or replaces the spec of the one of that name. */
export async function applyClusterAccount(
  kc: KubeConfig,
  name: string,
  spec: ClusterCloudPhoneAccountSpec,
): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const body = { apiVersion: `${group}/${version}`, kind: 'ClusterCloudPhoneAccount', metadata: { name }, spec };
  try {
    await api.createClusterCustomObject({ group, version, plural: 'clustercloudphoneaccounts', body });
  } catch (error) {
    if (!isConflict(error)) throw error;
    const existing = (await api.getClusterCustomObject({
      group,
      version,
      plural: 'clustercloudphoneaccounts',
      name,
    })) as { metadata?: { resourceVersion?: string } };
    await api.replaceClusterCustomObject({
      group,
      version,
      plural: 'clustercloudphoneaccounts',
      name,
      body: { ...body, metadata: { name, resourceVersion: existing.metadata?.resourceVersion } },
    });
  }
}

/** Creates a CloudPhoneAccount in `namespace`. */
export async function createNamespacedAccount(
  kc: KubeConfig,
  namespace: string,
  name: string,
  spec: ClusterCloudPhoneAccountSpec,
): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  await api.createNamespacedCustomObject({
    group,
    version,
    namespace,
    plural: 'cloudphoneaccounts',
    body: { apiVersion: `${group}/${version}`, kind: 'CloudPhoneAccount', metadata: { name, namespace }, spec },
  });
}

/** The name of the ambient ClusterCloudPhoneAccount of a simulator (endpoint and project): one per simulator. */
export function simulatorAccountName(endpoint: string, projectId: string): string {
  return `sim-${createHash('sha256').update(`${endpoint}|${projectId}`).digest('hex').slice(0, 12)}`;
}

/**
 * The ClusterCloudPhoneAccount a test operator uses by default: the simulator's endpoint and project with the
 * operator's own (ambient) credentials, every namespace admitted, every phone in scope. Returns its name.
 */
export async function applySimulatorAccount(kc: KubeConfig, endpoint: string, projectId: string): Promise<string> {
  const name = simulatorAccountName(endpoint, projectId);
  await applyClusterAccount(kc, name, { endpoint, projectId, credentials: { ambient: true }, phoneScope: {} });
  return name;
}
