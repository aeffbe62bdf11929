/**
 * The CloudPhoneRoute CRD against a real kube-apiserver: it is accepted (structural, CEL within the cost
 * budget) and becomes Established; every invalid resource of the corpus (test/fixtures/route-corpus.ts) is
 * refused at admission with a message that names its field; every valid one is accepted and defaulted; the
 * status the operator builds (src/controller/status.ts) fits the status schema, and `kubectl explain` and
 * `kubectl get` read well. Waits poll with a deadline; nothing asserts on timing.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  sharedControlPlane,
  uniqueName,
  type ControlPlane,
} from '../support/control-plane.js';
import { expectRefusedNaming, refusal } from '../support/admission.js';
import { invalidRouteCases, routeObject, validRouteCases, PHONE_A } from '../fixtures/route-corpus.js';
import { CRD_NAME, GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/constants.js';
import { parseCloudPhoneRoute } from '../../src/api/v1alpha1/parse.js';
import { planRoutes } from '../../src/controller/plan.js';
import { nextStatus } from '../../src/controller/status.js';

const crdPath = fileURLToPath(new URL('../../crds/cloudphoneroutes.cloudphone.dev.yaml', import.meta.url));

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('CloudPhoneRoute CRD on a real API server', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let controlPlane: ControlPlane;
  let kc: KubeConfig;
  let objects: CustomObjectsApi;
  let namespace: string;

  before(async () => {
    controlPlane = await sharedControlPlane();
    kc = controlPlane.kubeConfig();
    objects = kc.makeApiClient(CustomObjectsApi);
    namespace = uniqueName('crd');
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  it('is accepted by kubectl apply and becomes Established with its names', async () => {
    // kubectl, as users apply it. (Beware: passing the parsed YAML to client-node's typed API drops every
    // key its models spell differently, such as enum, default and x-kubernetes-validations; use loadYaml.)
    const apply = spawnSync(
      'kubectl',
      [
        '--kubeconfig',
        controlPlane.kubeconfigPath,
        'apply',
        '--server-side',
        '--field-manager',
        'crd-test',
        '-f',
        crdPath,
      ],
      { encoding: 'utf8' },
    );
    expect(apply.status, apply.stderr).to.equal(0);
    const api = kc.makeApiClient(ApiextensionsV1Api);
    const established = await eventually('the CRD to be Established', async () => {
      const current = await api.readCustomResourceDefinition({ name: CRD_NAME });
      const conditions = current.status?.conditions ?? [];
      return conditions.some((c) => c.type === 'Established' && c.status === 'True') ? current : undefined;
    });
    const conditions = established.status?.conditions ?? [];
    const served = established.spec.versions[0]!.schema!.openAPIV3Schema!.properties!.spec!;
    expect(served.x_kubernetes_validations, 'CEL rules stored').to.have.length(1);
    expect(served.properties!.trafficType!._enum).to.deep.equal(['direct', 'routing']);
    expect(conditions.find((c) => c.type === 'NamesAccepted')?.status).to.equal('True');
    expect(conditions.find((c) => c.type === 'NonStructuralSchema')).to.equal(undefined);
    expect(established.status?.acceptedNames?.shortNames).to.deep.equal(['cpr']);
    expect(established.status?.acceptedNames?.categories).to.deep.equal(['cloudphone']);
    // Discovery takes a moment to serve a new resource.
    await eventually('the resource to be served', async () => {
      await objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL });
      return true;
    });
  });

  describe('refuses invalid resources at admission, naming the field', () => {
    for (const [i, c] of invalidRouteCases.entries()) {
      it(`${c.name} -> ${c.field}`, async () => {
        const body = routeObject(`invalid-${i}`, c.spec, namespace);
        expectRefusedNaming(
          await refusal(() =>
            objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body }),
          ),
          c.field,
        );
      });
    }
  });

  describe('accepts valid resources, with the defaults filled in', () => {
    for (const [i, c] of validRouteCases.entries()) {
      it(c.name, async () => {
        const created = await objects.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          body: routeObject(`valid-${i}`, c.spec, namespace),
        });
        const route = parseCloudPhoneRoute(created);
        const sent = c.spec as Record<string, unknown>;
        // No API-server default: an unset interval is the operator's --drift-interval.
        expect(route.spec.driftCheckInterval).to.equal(sent.driftCheckInterval);
        expect(route.spec.suspend).to.equal(sent.suspend ?? false);
        expect(route.spec.deletionPolicy).to.equal(sent.deletionPolicy ?? 'Retain');
        const raw = (created as { spec: Record<string, unknown> }).spec;
        expect(raw.driftCheckInterval).to.equal(sent.driftCheckInterval);
        expect(raw.accountRef).to.deep.equal(sent.accountRef);
        expect(route.spec.accountRef).to.deep.equal(sent.accountRef);
        // The account fields that left the route (accounts hold them now) are pruned, never stored.
        expect(raw).to.not.have.any.keys('endpoint', 'region', 'projectId', 'credentialsSecretRef');
      });
    }
  });

  it('takes the status the operator builds, 10,000 phones and all, through /status', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => i.toString(16).padStart(32, '0'));
    const name = 'status-fit';
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: routeObject(name, { trafficType: 'routing', phoneIds: ids }, namespace),
    });
    const phones = new Map(
      ids.map((p, i) => [
        p,
        { trafficType: i < 3000 ? ('direct' as const) : ('routing' as const), status: i % 7 === 0 ? 8 : 2 },
      ]),
    );
    const holds = ids.slice(0, 1500).map((phoneId) => ({
      phoneId,
      trafficType: 'routing' as const,
      errorCode: 'CPS.0003',
      errorMessage: 'internal error',
      jobId: `job-${phoneId}`,
      requestId: 'req-1',
    }));
    const plan = planRoutes({
      resources: [
        { key: `${namespace}/${name}`, trafficType: 'routing', phoneIds: [...ids, 'ghost'], suspended: false },
      ],
      phones,
      holds,
    });
    const status = nextStatus({ generation: 1, plan: plan.resources[0]!, now: Date.now() });
    const patched = await objects.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const stored = parseCloudPhoneRoute(patched).status!;
    expect(stored).to.deep.equal(status);
    expect(stored.phones).to.have.length(100);
  });

  it('kubectl explain reads the descriptions, kubectl get shows the columns', async () => {
    const explain = spawnSync(
      'kubectl',
      ['--kubeconfig', controlPlane.kubeconfigPath, 'explain', 'cloudphoneroutes.spec.driftCheckInterval'],
      { encoding: 'utf8' },
    );
    expect(explain.status, explain.stderr).to.equal(0);
    expect(explain.stdout).to.contain('At least 10s');
    const explainRoot = spawnSync('kubectl', ['--kubeconfig', controlPlane.kubeconfigPath, 'explain', 'cpr.spec'], {
      encoding: 'utf8',
    });
    expect(explainRoot.stdout).to.contain('trafficType').and.contain('deletionPolicy').and.contain('accountRef');
    const explainRef = spawnSync(
      'kubectl',
      ['--kubeconfig', controlPlane.kubeconfigPath, 'explain', 'cpr.spec.accountRef'],
      { encoding: 'utf8' },
    );
    expect(explainRef.stdout).to.contain('--default-account');
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: routeObject('columns', { trafficType: 'routing', phoneIds: [PHONE_A] }, namespace),
    });
    const get = spawnSync(
      'kubectl',
      ['--kubeconfig', controlPlane.kubeconfigPath, 'get', 'cpr', 'columns', '-n', namespace],
      { encoding: 'utf8' },
    );
    expect(get.status, get.stderr).to.equal(0);
    expect(get.stdout.split('\n')[0]!.split(/\s+/)).to.deep.equal([
      'NAME',
      'TRAFFIC',
      'READY',
      'IN-SYNC',
      'TOTAL',
      'REASON',
      'AGE',
    ]);
    const category = spawnSync(
      'kubectl',
      ['--kubeconfig', controlPlane.kubeconfigPath, 'get', 'cloudphone', '-n', namespace, '-o', 'name'],
      { encoding: 'utf8' },
    );
    expect(category.stdout).to.contain('cloudphoneroute.cloudphone.dev/columns');
  });
});
