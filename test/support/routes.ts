/**
 * Small helpers the end-to-end, chaos and benchmark code use to handle CloudPhoneRoute objects and their
 * namespaces on the real API server.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  loadYaml,
  setHeaderOptions,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { waitFor } from './wait.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The project's CRDs (the route's and the two account kinds'), in the order crds/Kustomization lists them. */
export const crdPaths = ['cloudphoneroutes', 'clustercloudphoneaccounts', 'cloudphoneaccounts'].map((plural) =>
  path.join(repoRoot, `crds/${plural}.cloudphone.dev.yaml`),
);
const group = 'cloudphone.dev';
const version = 'v1alpha1';
const plural = 'cloudphoneroutes';

export interface RouteCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface RouteObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    generation?: number;
    resourceVersion?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: RouteCondition[];
    summary?: Record<string, number>;
    phones?: Array<Record<string, unknown>>;
    [key: string]: unknown;
  };
}

/** Creates or updates the project's CRDs (crdPaths) and waits until each is Established. */
export async function installCrd(kc: KubeConfig): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const names: string[] = [];
  for (const file of crdPaths) {
    // loadYaml maps the YAML onto client-node's models (x-kubernetes-validations, enum, default kept);
    // a plain parse would lose every key the models spell differently.
    const crd = loadYaml<V1CustomResourceDefinition>(await readFile(file, 'utf8'));
    const name = crd.metadata?.name ?? '';
    try {
      const existing = await api.readCustomResourceDefinition({ name });
      crd.metadata = { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion };
      await api.replaceCustomResourceDefinition({ name, body: crd });
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
      await api.createCustomResourceDefinition({ body: crd });
    }
    names.push(name);
  }
  for (const name of names) {
    await waitFor(
      async () => {
        const current = await api.readCustomResourceDefinition({ name });
        return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      },
      { timeoutMs: 30_000, what: `CRD ${name} Established` },
    );
  }
}

let namespaceCounter = 0;
/** A fresh namespace, so that tests never see each other's objects. */
export async function freshNamespace(kc: KubeConfig, prefix = 'e2e'): Promise<string> {
  namespaceCounter += 1;
  const name = `${prefix}-${process.pid}-${Date.now().toString(36)}-${namespaceCounter}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

export class Routes {
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async create(namespace: string, name: string, spec: Record<string, unknown>): Promise<RouteObject> {
    const body = { apiVersion: `${group}/${version}`, kind: 'CloudPhoneRoute', metadata: { name, namespace }, spec };
    return (await this.api.createNamespacedCustomObject({ group, version, namespace, plural, body })) as RouteObject;
  }

  async get(namespace: string, name: string): Promise<RouteObject | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({ group, version, namespace, plural, name })) as RouteObject;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  async patchSpec(namespace: string, name: string, spec: Record<string, unknown>): Promise<RouteObject> {
    return (await this.api.patchNamespacedCustomObject(
      { group, version, namespace, plural, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as RouteObject;
  }

  async delete(namespace: string, name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject({ group, version, namespace, plural, name });
  }

  /** Waits until the condition `type` has `status` (and `reason` when given) for the current generation. */
  async waitForCondition(
    namespace: string,
    name: string,
    type: string,
    status: 'True' | 'False',
    reason?: string,
    timeoutMs = 60_000,
  ): Promise<RouteObject> {
    return waitFor(
      async () => {
        const route = await this.get(namespace, name);
        if (!route || route.status?.observedGeneration !== route.metadata.generation) return undefined;
        const condition = route.status?.conditions?.find((c) => c.type === type);
        if (condition?.status === status && (reason === undefined || condition.reason === reason)) return route;
        return undefined;
      },
      { timeoutMs, what: `${namespace}/${name} ${type}=${status}${reason ? ` (${reason})` : ''}` },
    );
  }
}

export function condition(route: RouteObject | undefined, type: string): RouteCondition | undefined {
  return route?.status?.conditions?.find((c) => c.type === type);
}
