/**
 * The account CRDs (ClusterCloudPhoneAccount, CloudPhoneAccount) against a real kube-apiserver: they are
 * accepted (structural, CEL within the cost budget) and become Established; every invalid account of the
 * corpus (test/fixtures/account-corpus.ts) is refused at admission with a message that names its field, every
 * valid one is accepted, defaulted and reads back through account-parse.ts; a CloudPhoneAccount asking for
 * ambient credentials is refused, also by kubectl's strict field validation, with the reason in words; the
 * status the operator writes fits; `kubectl explain` and `kubectl get` read well. Waits poll with a deadline.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { waitFor } from '../support/wait.js';
import { accountObject, baseSpecs, invalidAccountCases, validAccountCases } from '../fixtures/account-corpus.js';
import { GROUP, VERSION } from '../../src/api/v1alpha1/constants.js';
import {
  accountKinds,
  CLUSTER_ACCOUNT_CRD_NAME,
  CLUSTER_ACCOUNT_KIND,
  CLUSTER_ACCOUNT_PLURAL,
  NAMESPACED_ACCOUNT_CRD_NAME,
  NAMESPACED_ACCOUNT_KIND,
  NAMESPACED_ACCOUNT_PLURAL,
  type AccountKind,
  type CloudPhoneAccountStatus,
} from '../../src/api/v1alpha1/account-types.js';
import {
  AMBIENT_REFUSED_MESSAGE,
  canonicalAccountStatus,
  parseAccountObject,
  parseAccountSpec,
} from '../../src/api/v1alpha1/account-parse.js';
import { formatTime, setCondition } from '../../src/api/v1alpha1/conditions.js';

const crdFiles = [CLUSTER_ACCOUNT_CRD_NAME, NAMESPACED_ACCOUNT_CRD_NAME].map((name) =>
  fileURLToPath(new URL(`../../crds/${name}.yaml`, import.meta.url)),
);

describe('account CRDs on a real API server', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let controlPlane: ControlPlane;
  let kc: KubeConfig;
  let objects: CustomObjectsApi;
  let namespace: string;
  let serial = 0;

  const kubectl = (...args: string[]) =>
    spawnSync('kubectl', ['--kubeconfig', controlPlane.kubeconfigPath, ...args], { encoding: 'utf8' });

  /** Creates `body` as an account of `kind`; cluster accounts get a name unique to this run. */
  function create(kind: AccountKind, body: Record<string, unknown>): Promise<unknown> {
    if (kind === CLUSTER_ACCOUNT_KIND)
      return objects.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: CLUSTER_ACCOUNT_PLURAL,
        body,
      });
    return objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: NAMESPACED_ACCOUNT_PLURAL,
      body,
    });
  }
  const objectFor = (kind: AccountKind, prefix: string, spec: unknown): Record<string, unknown> =>
    accountObject(kind, `${namespace}-${prefix}-${serial++}`, spec, namespace);

  before(async () => {
    controlPlane = await sharedControlPlane();
    kc = controlPlane.kubeConfig();
    objects = kc.makeApiClient(CustomObjectsApi);
    namespace = uniqueName('accounts');
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  it('are accepted by kubectl apply and become Established with their names', async () => {
    const apply = kubectl(
      'apply',
      '--server-side',
      '--field-manager',
      'crd-test',
      ...crdFiles.flatMap((file) => ['-f', file]),
    );
    expect(apply.status, apply.stderr).to.equal(0);
    const api = kc.makeApiClient(ApiextensionsV1Api);
    for (const [name, shortName, scope] of [
      [CLUSTER_ACCOUNT_CRD_NAME, 'ccpa', 'Cluster'],
      [NAMESPACED_ACCOUNT_CRD_NAME, 'cpa', 'Namespaced'],
    ] as const) {
      const established = await waitFor(
        async () => {
          const current = await api.readCustomResourceDefinition({ name });
          return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
            ? current
            : undefined;
        },
        { timeoutMs: 60_000, what: `${name} Established` },
      );
      const conditions = established.status?.conditions ?? [];
      expect(conditions.find((c) => c.type === 'NamesAccepted')?.status, name).to.equal('True');
      expect(
        conditions.find((c) => c.type === 'NonStructuralSchema'),
        name,
      ).to.equal(undefined);
      expect(established.spec.scope).to.equal(scope);
      expect(established.status?.acceptedNames?.shortNames).to.deep.equal([shortName]);
      expect(established.status?.acceptedNames?.categories).to.deep.equal(['cloudphone']);
      const served = established.spec.versions[0]!.schema!.openAPIV3Schema!.properties!.spec!;
      expect(served.x_kubernetes_validations, `${name}: CEL rules stored`).to.have.length(2);
    }
    // Discovery takes a moment to serve a new resource.
    await waitFor(
      async () => {
        await objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: CLUSTER_ACCOUNT_PLURAL });
        await objects.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: NAMESPACED_ACCOUNT_PLURAL,
        });
        return true;
      },
      { timeoutMs: 60_000, what: 'the account resources to be served' },
    );
  });

  describe('refuse invalid accounts at admission, naming the field', () => {
    for (const c of invalidAccountCases) {
      it(`${c.name} -> ${c.field}`, async () => {
        expectRefusedNaming(await refusal(() => create(c.kind, objectFor(c.kind, 'invalid', c.spec))), c.field);
      });
    }
  });

  describe('accept valid accounts, with the defaults filled in and the cluster-only fields pruned', () => {
    for (const c of validAccountCases) {
      it(c.name, async () => {
        const created = await create(c.kind, objectFor(c.kind, 'valid', c.spec));
        const account = parseAccountObject(created, c.kind);
        const sent = c.spec as { credentials: { secretRef?: Record<string, unknown> } };
        const raw = (created as { spec: Record<string, unknown> }).spec;
        if (sent.credentials.secretRef) {
          const stored = (raw.credentials as { secretRef: Record<string, unknown> }).secretRef;
          expect(stored.accessKeyKey).to.equal(sent.credentials.secretRef.accessKeyKey ?? 'HUAWEICLOUD_SDK_AK');
          expect(stored.secretKeyKey).to.equal(sent.credentials.secretRef.secretKeyKey ?? 'HUAWEICLOUD_SDK_SK');
        }
        if (c.kind === NAMESPACED_ACCOUNT_KIND) expect(raw).to.not.have.any.keys('namespaceSelector', 'namespaces');
        // The API server defaults and prunes as the parser does: what it stored reads as what was sent.
        expect(account.spec).to.deep.equal(parseAccountSpec(c.spec, c.kind));
      });
    }
  });

  it("refuses ambient on a CloudPhoneAccount through kubectl too, with the reason in words (not 'unknown field')", () => {
    const file = join(tmpdir(), `${namespace}-ambient.json`);
    writeFileSync(
      file,
      JSON.stringify(
        accountObject(
          NAMESPACED_ACCOUNT_KIND,
          'borrowed',
          { ...baseSpecs[NAMESPACED_ACCOUNT_KIND], credentials: { ambient: true } },
          namespace,
        ),
      ),
    );
    for (const args of [
      ['apply', '-f', file],
      ['apply', '--server-side', '-f', file],
      ['create', '-f', file],
    ]) {
      const result = kubectl(...args);
      expect(result.status, args.join(' ')).to.not.equal(0);
      expect(result.stderr, args.join(' ')).to.contain(AMBIENT_REFUSED_MESSAGE).and.not.contain('unknown field');
    }
  });

  it('takes the status the operator writes through /status, for both kinds', async () => {
    for (const kind of accountKinds) {
      const body = objectFor(kind, 'status', baseSpecs[kind]);
      const name = (body.metadata as { name: string }).name;
      await create(kind, body);
      const now = Date.parse('2026-11-28T06:53:00Z');
      const status: CloudPhoneAccountStatus = canonicalAccountStatus({
        observedGeneration: 1,
        conditions: setCondition(
          undefined,
          {
            type: 'Ready',
            status: 'True',
            reason: 'CredentialsVerified',
            message: 'A list call with these credentials succeeded',
            observedGeneration: 1,
          },
          now,
        ),
        phonesInScope: 10_000,
        phonesObservedAt: formatTime(now),
      });
      const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
      const patched =
        kind === CLUSTER_ACCOUNT_KIND
          ? await objects.patchClusterCustomObjectStatus(
              { group: GROUP, version: VERSION, plural: CLUSTER_ACCOUNT_PLURAL, name, body: { status } },
              merge,
            )
          : await objects.patchNamespacedCustomObjectStatus(
              { group: GROUP, version: VERSION, namespace, plural: NAMESPACED_ACCOUNT_PLURAL, name, body: { status } },
              merge,
            );
      expect(parseAccountObject(patched, kind).status, kind).to.deep.equal(status);
      const refused = await refusal(() =>
        kind === CLUSTER_ACCOUNT_KIND
          ? objects.patchClusterCustomObjectStatus(
              {
                group: GROUP,
                version: VERSION,
                plural: CLUSTER_ACCOUNT_PLURAL,
                name,
                body: { status: { phonesInScope: -1 } },
              },
              merge,
            )
          : objects.patchNamespacedCustomObjectStatus(
              {
                group: GROUP,
                version: VERSION,
                namespace,
                plural: NAMESPACED_ACCOUNT_PLURAL,
                name,
                body: { status: { phonesInScope: -1 } },
              },
              merge,
            ),
      );
      expectRefusedNaming(refused, 'status.phonesInScope');
    }
  });

  it('kubectl explain reads the descriptions, kubectl get shows the columns and the category', async () => {
    const explain = kubectl('explain', 'ccpa.spec.credentials.ambient');
    expect(explain.status, explain.stderr).to.equal(0);
    expect(explain.stdout).to.contain("operator's own credentials");
    const explainSelector = kubectl('explain', 'clustercloudphoneaccounts.spec.namespaceSelector.matchExpressions');
    expect(explainSelector.stdout).to.contain('DoesNotExist');
    const explainNamespaced = kubectl('explain', 'cpa.spec');
    expect(explainNamespaced.stdout).to.contain('phoneScope').and.not.contain('namespaceSelector');
    const body = objectFor(NAMESPACED_ACCOUNT_KIND, 'columns', baseSpecs[NAMESPACED_ACCOUNT_KIND]);
    const name = (body.metadata as { name: string }).name;
    await create(NAMESPACED_ACCOUNT_KIND, body);
    const get = kubectl('get', 'cpa', name, '-n', namespace);
    expect(get.status, get.stderr).to.equal(0);
    expect(get.stdout.split('\n')[0]!.split(/\s+/)).to.deep.equal([
      'NAME',
      'REGION',
      'ENDPOINT',
      'PROJECT',
      'READY',
      'REASON',
      'PHONES',
      'AGE',
    ]);
    expect(get.stdout.split('\n')[1])
      .to.contain('https://cph.cn-east-3.myhuaweicloud.com')
      .and.contain(baseSpecs[NAMESPACED_ACCOUNT_KIND].projectId as string);
    const getCluster = kubectl('get', 'ccpa');
    expect(getCluster.status, getCluster.stderr).to.equal(0);
    expect(getCluster.stdout.split('\n')[0]!.split(/\s+/)).to.deep.equal([
      'NAME',
      'REGION',
      'ENDPOINT',
      'PROJECT',
      'READY',
      'REASON',
      'PHONES',
      'AGE',
    ]);
    const category = kubectl('get', 'cloudphone', '-n', namespace, '-o', 'name');
    expect(category.stdout).to.contain(`cloudphoneaccount.cloudphone.dev/${name}`);
  });
});
