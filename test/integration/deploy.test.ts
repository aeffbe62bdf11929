/**
 * deploy/ as a user meets it: `kubectl kustomize` renders the base and every overlay; the rendered
 * objects hold the promises deploy/ makes (least-privilege RBAC, a hardened two-replica Deployment,
 * probes, PDB, NetworkPolicy, the default ClusterCloudPhoneAccount on the Secret cph-credentials); and
 * against the real local control plane every manifest passes `kubectl apply --dry-run=server`, the base
 * installs for real, the operator's ServiceAccount, with a token minted through the TokenRequest API, can
 * make exactly the API calls the operator makes and no others, and the operator run with that token and the
 * Deployment's arguments reconciles routes through the default account and a team's CloudPhoneAccount.
 *
 * The control plane's kube-controller-manager runs only the deletion controllers (no Deployment or ReplicaSet
 * controller, no scheduler): the Deployment gets no pods. This file creates its namespaces once and deletes
 * none.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { clusterAccountResource, namespacedAccountResource } from '../../src/operator.js';
import { KubeClient, PatchStrategy, loadKubeConfig, resourcePath } from '../../src/runtime/kube-client.js';
import { startSimulator } from '../../src/simulator/index.js';
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  sharedControlPlane,
  uniqueName,
  type ControlPlane,
} from '../support/control-plane.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { Routes } from '../support/routes.js';
import { SimAdmin } from '../support/sim-admin.js';
import { waitFor } from '../support/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OPERATOR_NAMESPACE = 'cph-route-operator-system';
const SERVICE_ACCOUNT = 'cph-route-operator';
const SA_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${SERVICE_ACCOUNT}`;
const EXAMPLE_ENV = join(root, 'deploy/overlays/example/credentials.env');
const SINGLE_NAMESPACE = 'phones';

/** The flags of the cph-route-operator command (issues 4 and 12); deploy/ may pass no other. */
const OPERATOR_FLAGS = [
  '--kubeconfig',
  '--namespaces',
  '--iam-endpoint',
  '--allowed-endpoint-hosts',
  '--cluster-resource-namespace',
  '--default-account',
  '--cph-ca-file',
  '--drift-interval',
  '--max-concurrent-reconciles',
  '--cph-qps',
  '--leader-elect',
  '--leader-election-namespace',
  '--metrics-bind-address',
  '--health-probe-bind-address',
  '--log-level',
  '--log-format',
];

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
  // Deployment, Service, PDB, NetworkPolicy: the assertions below spell out the paths they read.
  // biome-ignore lint/suspicious/noExplicitAny: a test reads arbitrary manifest paths and asserts on them
  spec?: any;
}

interface KubectlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function kubectl(args: string[], options: { kubeconfig?: string; input?: string } = {}): KubectlResult {
  const result = spawnSync('kubectl', [...(options.kubeconfig ? ['--kubeconfig', options.kubeconfig] : []), ...args], {
    cwd: root,
    encoding: 'utf8',
    input: options.input,
    timeout: 120_000,
    // Other tests share this API server; a cluster-wide list can hold their 10,000-phone resources.
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function mustKubectl(args: string[], options: { kubeconfig?: string; input?: string } = {}): KubectlResult {
  const result = kubectl(args, options);
  if (result.status !== 0)
    throw new Error(`kubectl ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
  return result;
}

function render(dir: string): K8sObject[] {
  const out = mustKubectl(['kustomize', dir]).stdout;
  return parseAllDocuments(out).map((d) => d.toJSON() as K8sObject);
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** Runs `body` with deploy/overlays/example/credentials.env present (from the template when missing). */
function withExampleCredentials<T>(body: () => T): T {
  const created = !existsSync(EXAMPLE_ENV);
  if (created) copyFileSync(join(root, 'deploy/overlays/example/credentials.env.template'), EXAMPLE_ENV);
  try {
    return body();
  } finally {
    if (created) rmSync(EXAMPLE_ENV, { force: true });
  }
}

/** Applies objects (as one v1 List) with `kubeconfig`. */
function applyObjects(kubeconfig: string, items: object[]): void {
  mustKubectl(['apply', '-f', '-'], { kubeconfig, input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
}

/** A Secret holding an access key pair under the keys accounts read by default. */
function credentialsSecret(name: string, namespace: string, credentials: { ak: string; sk: string }): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    stringData: { HUAWEICLOUD_SDK_AK: credentials.ak, HUAWEICLOUD_SDK_SK: credentials.sk },
  };
}

/**
 * The rendered Deployment's arguments for an operator the test harness starts: $(POD_NAMESPACE) expanded as
 * the kubelet does; the listening addresses, log settings and `dropped` flags left to the harness.
 */
function deploymentArgs(objects: K8sObject[], dropped: string[] = []): string[] {
  const harness = ['metrics-bind-address', 'health-probe-bind-address', 'log-level', 'log-format', ...dropped];
  return (find(objects, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0].args as string[])
    .filter((arg) => !harness.includes(arg.replace(/^--/, '').split('=')[0] ?? ''))
    .map((arg) => arg.replace('$(POD_NAMESPACE)', OPERATOR_NAMESPACE));
}

/** Lines of kubectl's stderr that warn about a Pod Security violation or a deprecated API. */
function seriousWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /PodSecurity|deprecated|would violate/i.test(l));
}

describe('deploy/ (kustomize base, overlays, RBAC)', () => {
  describe('rendering with kubectl kustomize', () => {
    let base: K8sObject[] = [];
    before(() => {
      base = render('deploy');
    });

    it('deploy/ renders the namespace, CRDs, ServiceAccount, RBAC, Deployment, Service, PDB, NetworkPolicy and the default account', () => {
      const kinds = base.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      expect(kinds).to.deep.equal(
        [
          'ClusterCloudPhoneAccount/default',
          'ClusterRole/cph-route-operator',
          'ClusterRole/cph-route-operator-cluster-accounts',
          'ClusterRole/cph-route-operator-secret-reader',
          'ClusterRoleBinding/cph-route-operator',
          'ClusterRoleBinding/cph-route-operator-cluster-accounts',
          'ClusterRoleBinding/cph-route-operator-secret-reader',
          'CustomResourceDefinition/cloudphoneaccounts.cloudphone.dev',
          'CustomResourceDefinition/cloudphoneroutes.cloudphone.dev',
          'CustomResourceDefinition/clustercloudphoneaccounts.cloudphone.dev',
          'Deployment/cph-route-operator',
          `Namespace/${OPERATOR_NAMESPACE}`,
          'NetworkPolicy/cph-route-operator',
          'PodDisruptionBudget/cph-route-operator',
          'Role/cph-route-operator-cluster-account-secrets',
          'Role/cph-route-operator-leader-election',
          'RoleBinding/cph-route-operator-cluster-account-secrets',
          'RoleBinding/cph-route-operator-leader-election',
          'Service/cph-route-operator-metrics',
          'ServiceAccount/cph-route-operator',
        ].sort(),
      );
      for (const object of base) {
        const clusterScoped = [
          'Namespace',
          'CustomResourceDefinition',
          'ClusterRole',
          'ClusterRoleBinding',
          'ClusterCloudPhoneAccount',
        ].includes(object.kind);
        expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).to.equal(
          clusterScoped ? undefined : OPERATOR_NAMESPACE,
        );
      }
    });

    it('the CRDs are those of crds/ (the route and the two account kinds), the one source of truth', () => {
      const fromFiles = parseAllDocuments(mustKubectl(['kustomize', 'crds']).stdout).map(
        (d) => d.toJSON() as K8sObject,
      );
      expect(fromFiles.map((crd) => crd.metadata.name)).to.have.members([
        'cloudphoneroutes.cloudphone.dev',
        'clustercloudphoneaccounts.cloudphone.dev',
        'cloudphoneaccounts.cloudphone.dev',
      ]);
      for (const fromFile of fromFiles) {
        const rendered = find(base, 'CustomResourceDefinition', fromFile.metadata.name);
        const { labels: _renderedLabels, ...renderedMeta } = rendered.metadata;
        const { labels: _fileLabels, ...fileMeta } = fromFile.metadata;
        expect({ ...rendered, metadata: renderedMeta }).to.deep.equal({ ...fromFile, metadata: fileMeta });
      }
    });

    it('the default account: a ClusterCloudPhoneAccount on the Secret cph-credentials, a placeholder project, every phone and namespace', () => {
      const account = find(base, 'ClusterCloudPhoneAccount', 'default');
      expect(account.apiVersion).to.equal('cloudphone.dev/v1alpha1');
      expect(account.spec).to.deep.equal({
        region: 'cn-north-4',
        projectId: 'REPLACE-WITH-YOUR-PROJECT-ID',
        credentials: { secretRef: { name: 'cph-credentials' } },
        phoneScope: {},
      });
      const args = find(base, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0].args as string[];
      expect(args).to.include(`--default-account=${account.metadata.name}`);
      // Its Secret is read where the pod runs, which is where the base puts the Secret's readers (Role below).
      expect(args).to.include('--cluster-resource-namespace=$(POD_NAMESPACE)');
      expect(
        args.some((a) => a.startsWith('--allowed-endpoint-hosts')),
        'the default allowlist is kept',
      ).to.equal(false);
    });

    it('every overlay renders: example (account patched, Secret from a .env file), single-namespace, argocd/app', () => {
      const example = withExampleCredentials(() => render('deploy/overlays/example'));
      const secret = find(example, 'Secret', 'cph-credentials');
      expect(secret.metadata.namespace).to.equal(OPERATOR_NAMESPACE);
      const account = find(example, 'ClusterCloudPhoneAccount', 'default');
      expect(account.metadata.namespace, 'a cluster-scoped account has no namespace').to.equal(undefined);
      // The account names the generated Secret by its name: no hash suffix for kustomize to forget to rewrite.
      expect(account.spec.credentials.secretRef.name).to.equal(secret.metadata.name);
      expect(account.spec).to.include({ region: 'cn-east-3', projectId: 'REPLACE-WITH-YOUR-PROJECT-ID' });
      const container = find(example, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0];
      expect(container.image).to.equal('registry.example.com/platform/cph-route-operator:0.1.0');
      expect(container.args).to.include('--allowed-endpoint-hosts=*.myhuaweicloud.com,cph-proxy.platform.example.com');
      for (const object of example) {
        const clusterScoped = [
          'Namespace',
          'CustomResourceDefinition',
          'ClusterRole',
          'ClusterRoleBinding',
          'ClusterCloudPhoneAccount',
        ].includes(object.kind);
        expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).to.equal(
          clusterScoped ? undefined : OPERATOR_NAMESPACE,
        );
      }

      const single = render('deploy/overlays/single-namespace');
      // Only the cluster-scoped kinds keep a ClusterRole: no Role can grant them.
      expect(
        single
          .filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')
          .map((o) => `${o.kind}/${o.metadata.name}`),
      ).to.deep.equal([
        'ClusterRole/cph-route-operator-cluster-accounts',
        'ClusterRoleBinding/cph-route-operator-cluster-accounts',
      ]);
      const role = find(single, 'Role', 'cph-route-operator');
      expect(role.metadata.namespace).to.equal(SINGLE_NAMESPACE);
      // The base's ClusterRole cph-route-operator and secret-reader rules, in the watched namespace.
      expect(role.rules).to.deep.equal([
        ...(find(base, 'ClusterRole', 'cph-route-operator').rules ?? []),
        ...(find(base, 'ClusterRole', 'cph-route-operator-secret-reader').rules ?? []),
      ]);
      expect(find(single, 'Role', 'cph-route-operator-cluster-account-secrets').metadata.namespace).to.equal(
        OPERATOR_NAMESPACE,
      );
      expect(find(single, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0].args).to.include(
        `--namespaces=${SINGLE_NAMESPACE}`,
      );
      expect(find(single, 'ClusterCloudPhoneAccount', 'default').metadata.namespace).to.equal(undefined);

      const argo = render('deploy/argocd/app');
      expect(argo.some((o) => o.kind === 'CloudPhoneRoute')).to.equal(true);
      expect(find(argo, 'ClusterCloudPhoneAccount', 'default').metadata.annotations).to.include({
        'argocd.argoproj.io/sync-wave': '1',
      });
    });

    it('credentials.env is ignored by Git, its template is not', () => {
      const ignored = spawnSync('git', ['check-ignore', '-q', 'deploy/overlays/example/credentials.env'], {
        cwd: root,
      });
      expect(ignored.status, 'credentials.env must be ignored').to.equal(0);
      const template = spawnSync('git', ['check-ignore', '-q', 'deploy/overlays/example/credentials.env.template'], {
        cwd: root,
      });
      expect(template.status, 'the template must not be ignored').to.equal(1);
    });

    describe('least-privilege RBAC', () => {
      it('the operator ClusterRole grants exactly the verbs the reconcilers use on routes, namespaced accounts, their status and events', () => {
        expect(find(base, 'ClusterRole', 'cph-route-operator').rules).to.deep.equal([
          {
            apiGroups: ['cloudphone.dev'],
            resources: ['cloudphoneroutes'],
            verbs: ['get', 'list', 'watch', 'update', 'patch'],
          },
          { apiGroups: ['cloudphone.dev'], resources: ['cloudphoneroutes/status'], verbs: ['get', 'update', 'patch'] },
          { apiGroups: ['cloudphone.dev'], resources: ['cloudphoneroutes/finalizers'], verbs: ['update'] },
          { apiGroups: ['cloudphone.dev'], resources: ['cloudphoneaccounts'], verbs: ['list', 'watch'] },
          { apiGroups: ['cloudphone.dev'], resources: ['cloudphoneaccounts/status'], verbs: ['patch'] },
          { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
        ]);
      });

      it('the cluster-scoped kinds have a ClusterRole of their own: cluster accounts and their status, namespaces read-only', () => {
        expect(find(base, 'ClusterRole', 'cph-route-operator-cluster-accounts').rules).to.deep.equal([
          { apiGroups: ['cloudphone.dev'], resources: ['clustercloudphoneaccounts'], verbs: ['list', 'watch'] },
          { apiGroups: ['cloudphone.dev'], resources: ['clustercloudphoneaccounts/status'], verbs: ['patch'] },
          { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
        ]);
        expect(find(base, 'ClusterRoleBinding', 'cph-route-operator-cluster-accounts').roleRef).to.deep.include({
          kind: 'ClusterRole',
          name: 'cph-route-operator-cluster-accounts',
        });
      });

      it("Secrets are get-only: cluster accounts' in the operator namespace (a Role), namespaced accounts' in a ClusterRole of its own; Leases only in the operator namespace", () => {
        const clusterAccountSecrets = find(base, 'Role', 'cph-route-operator-cluster-account-secrets');
        expect(clusterAccountSecrets.metadata.namespace).to.equal(OPERATOR_NAMESPACE);
        expect(clusterAccountSecrets.rules).to.deep.equal([
          { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        ]);
        expect(find(base, 'RoleBinding', 'cph-route-operator-cluster-account-secrets').roleRef).to.deep.include({
          kind: 'Role',
          name: clusterAccountSecrets.metadata.name,
        });
        expect(find(base, 'ClusterRole', 'cph-route-operator-secret-reader').rules).to.deep.equal([
          { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        ]);
        const leases = find(base, 'Role', 'cph-route-operator-leader-election');
        expect(leases.metadata.namespace).to.equal(OPERATOR_NAMESPACE);
        expect(leases.rules).to.deep.equal([
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
        ]);
      });

      it('no rule anywhere uses a wildcard, and every binding binds only the operator ServiceAccount', () => {
        const all = [...base, ...render('deploy/overlays/single-namespace')];
        for (const role of all.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')) {
          for (const rule of role.rules ?? []) {
            expect(
              [...rule.apiGroups, ...rule.resources, ...rule.verbs],
              `${role.kind}/${role.metadata.name}`,
            ).to.not.include('*');
          }
        }
        for (const binding of all.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
          expect(binding.subjects, `${binding.kind}/${binding.metadata.name}`).to.deep.equal([
            { kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: OPERATOR_NAMESPACE },
          ]);
        }
      });
    });

    describe('the Deployment and its companions', () => {
      it('runs 2 replicas with leader election in its own namespace, and only flags the operator has', () => {
        const deployment = find(base, 'Deployment', 'cph-route-operator');
        expect(deployment.spec.replicas).to.equal(2);
        const pod = deployment.spec.template.spec;
        expect(pod.serviceAccountName).to.equal(SERVICE_ACCOUNT);
        expect(pod.automountServiceAccountToken).to.equal(true);
        expect(pod.terminationGracePeriodSeconds).to.be.within(15, 120);
        const container = pod.containers[0];
        expect(container.args).to.include('--leader-elect');
        expect(container.args).to.include('--leader-election-namespace=$(POD_NAMESPACE)');
        expect(
          container.env.find((e: { name: string }) => e.name === 'POD_NAMESPACE').valueFrom.fieldRef.fieldPath,
        ).to.equal('metadata.namespace');
        const overlays = [
          base,
          render('deploy/overlays/single-namespace'),
          withExampleCredentials(() => render('deploy/overlays/example')),
        ];
        for (const objects of overlays) {
          for (const arg of find(objects, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0]
            .args as string[]) {
            expect(OPERATOR_FLAGS, arg).to.include(arg.split('=')[0]);
          }
        }
      });

      it('passes only flags that `cph-route-operator --help` documents', function () {
        if (!existsSync(join(root, 'src/main.ts'))) this.skip(); // the command lands with the reconciler
        this.timeout(60_000);
        const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--help'], {
          cwd: root,
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(help.status, help.stderr).to.equal(0);
        const documented = new Set([...help.stdout.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
        const overlays = [
          base,
          render('deploy/overlays/single-namespace'),
          withExampleCredentials(() => render('deploy/overlays/example')),
        ];
        for (const objects of overlays) {
          for (const arg of find(objects, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0]
            .args as string[]) {
            expect([...documented], arg).to.include(arg.split('=')[0]);
          }
        }
      });

      it('probes /healthz and /readyz on the health port 8081, serves metrics on 8080, with requests and limits', () => {
        const container = find(base, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0];
        const ports = Object.fromEntries(
          container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
        );
        expect(ports).to.deep.equal({ metrics: 8080, health: 8081 });
        expect(container.args).to.include('--metrics-bind-address=:8080');
        expect(container.args).to.include('--health-probe-bind-address=:8081');
        expect(container.livenessProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'health' });
        expect(container.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'health' });
        expect(container.resources).to.deep.equal({
          requests: { cpu: '50m', memory: '128Mi' },
          limits: { cpu: '500m', memory: '256Mi' },
        });
      });

      it('is locked down: non-root 65532, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
        const pod = find(base, 'Deployment', 'cph-route-operator').spec.template.spec;
        expect(pod.securityContext).to.deep.include({
          runAsNonRoot: true,
          runAsUser: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(pod.containers[0].securityContext).to.deep.include({
          runAsNonRoot: true,
          runAsUser: 65532,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(find(base, 'Namespace', OPERATOR_NAMESPACE).metadata.labels).to.include({
          'pod-security.kubernetes.io/enforce': 'restricted',
        });
      });

      it('holds no CPH credentials in its environment: the default account reads them from its Secret', () => {
        for (const objects of [
          base,
          render('deploy/overlays/single-namespace'),
          withExampleCredentials(() => render('deploy/overlays/example')),
        ]) {
          const env = find(objects, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0].env as {
            name: string;
            valueFrom?: { secretKeyRef?: unknown };
          }[];
          expect(
            env
              .filter((e) => e.name.startsWith('HUAWEICLOUD_') || e.valueFrom?.secretKeyRef !== undefined)
              .map((e) => e.name),
          ).to.deep.equal([]);
        }
      });

      it('spreads the replicas over nodes; the PDB keeps one; the Service and policies select the operator pods', () => {
        const deployment = find(base, 'Deployment', 'cph-route-operator');
        const podLabels = deployment.spec.template.metadata.labels;
        expect(deployment.spec.selector.matchLabels).to.deep.equal(podLabels);
        expect(deployment.spec.template.spec.topologySpreadConstraints[0]).to.deep.include({
          topologyKey: 'kubernetes.io/hostname',
          maxSkew: 1,
        });
        const pdb = find(base, 'PodDisruptionBudget', 'cph-route-operator');
        expect(pdb.spec.minAvailable).to.equal(1);
        expect(pdb.spec.selector.matchLabels).to.deep.equal(podLabels);
        const service = find(base, 'Service', 'cph-route-operator-metrics');
        expect(service.spec.selector).to.deep.equal(podLabels);
        expect(service.spec.ports).to.deep.equal([
          { name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
        ]);
        const policy = find(base, 'NetworkPolicy', 'cph-route-operator');
        expect(policy.spec.podSelector.matchLabels).to.deep.equal(podLabels);
        expect(policy.spec.policyTypes).to.deep.equal(['Ingress', 'Egress']);
        const ingressPorts = policy.spec.ingress.flatMap((r: { ports: { port: number }[] }) =>
          r.ports.map((p) => p.port),
        );
        expect(ingressPorts).to.deep.equal([8080, 8081]);
        const egressPorts = policy.spec.egress.flatMap((r: { ports: { port: number; protocol: string }[] }) =>
          r.ports.map((p) => `${p.port}/${p.protocol}`),
        );
        expect(egressPorts.sort()).to.deep.equal(['443/TCP', '53/TCP', '53/UDP', '6443/TCP']);
      });
    });
  });

  describe('against the real API server', function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    let cp: ControlPlane;
    let admin = '';
    let scratch = '';
    let saKubeconfig = '';
    let routeNamespace = '';

    before(async () => {
      cp = await sharedControlPlane();
      admin = cp.kubeconfigPath;
      scratch = mkdtempSync(join(tmpdir(), 'deploy-test-'));
    });
    after(() => {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('kubectl apply --dry-run=server -k deploy/ passes (its namespace and the CRDs applied first, as deploy/README.md says), with no Pod Security warning', function () {
      this.timeout(120_000);
      // A server-side dry run creates nothing, so the namespaced objects need their namespace to exist, and
      // the account its kind: the README's first step, `kubectl apply -k crds/ && kubectl wait ... -f crds/`.
      const namespace = render('deploy').find((o) => o.kind === 'Namespace')!;
      mustKubectl(['apply', '-f', '-'], { kubeconfig: admin, input: JSON.stringify(namespace) });
      mustKubectl(['apply', '-k', 'crds/'], { kubeconfig: admin });
      mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', 'crds/'], { kubeconfig: admin });
      const result = mustKubectl(['apply', '--dry-run=server', '-k', 'deploy/'], { kubeconfig: admin });
      expect(result.stdout).to.match(
        /deployment\.apps\/cph-route-operator (created|configured|unchanged) \(server dry run\)/,
      );
      expect(result.stdout).to.match(
        /customresourcedefinition\.apiextensions\.k8s\.io\/cloudphoneroutes\.cloudphone\.dev .*\(server dry run\)/,
      );
      expect(result.stdout).to.match(
        /clustercloudphoneaccount\.cloudphone\.dev\/default (created|configured|unchanged) \(server dry run\)/,
      );
      expect(seriousWarnings(result.stderr)).to.deep.equal([]);
    });

    it('every overlay passes kubectl apply --dry-run=server too', function () {
      this.timeout(120_000);
      const example = withExampleCredentials(() =>
        mustKubectl(['apply', '--dry-run=server', '-k', 'deploy/overlays/example/'], { kubeconfig: admin }),
      );
      expect(example.stdout).to.match(/secret\/cph-credentials (created|configured|unchanged) \(server dry run\)/);
      expect(example.stdout).to.match(
        /clustercloudphoneaccount\.cloudphone\.dev\/default (created|configured|unchanged) \(server dry run\)/,
      );
      expect(seriousWarnings(example.stderr)).to.deep.equal([]);
      if (kubectl(['get', 'namespace', SINGLE_NAMESPACE], { kubeconfig: admin }).status !== 0) {
        mustKubectl(['create', 'namespace', SINGLE_NAMESPACE], { kubeconfig: admin });
      }
      const single = mustKubectl(['apply', '--dry-run=server', '-k', 'deploy/overlays/single-namespace/'], {
        kubeconfig: admin,
      });
      expect(single.stdout).to.match(/role\.rbac\.authorization\.k8s\.io\/cph-route-operator .*\(server dry run\)/);
      expect(seriousWarnings(single.stderr)).to.deep.equal([]);
    });

    it('kubectl apply -k deploy/ installs it for real: the CRDs Established, the default account there', function () {
      this.timeout(120_000);
      mustKubectl(['apply', '-k', 'deploy/'], { kubeconfig: admin });
      mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', 'crds/'], { kubeconfig: admin });
      mustKubectl(['-n', OPERATOR_NAMESPACE, 'get', 'serviceaccount', SERVICE_ACCOUNT], { kubeconfig: admin });
      const account = JSON.parse(
        mustKubectl(['get', 'ccpa', 'default', '-o', 'json'], { kubeconfig: admin }).stdout,
      ) as { metadata: { namespace?: string }; spec: { credentials: unknown } };
      expect(account.metadata.namespace).to.equal(undefined);
      // The CRD defaults the key names, which are those the operator reads by default.
      expect(account.spec.credentials).to.deep.equal({
        secretRef: { name: 'cph-credentials', accessKeyKey: 'HUAWEICLOUD_SDK_AK', secretKeyKey: 'HUAWEICLOUD_SDK_SK' },
      });
    });

    it('the Argo CD Application source (deploy/argocd/app, with a sample route) passes the server dry run once the CRD exists', function () {
      this.timeout(120_000);
      const result = mustKubectl(['apply', '--dry-run=server', '-k', 'deploy/argocd/app/'], { kubeconfig: admin });
      expect(result.stdout).to.match(/cloudphoneroute\.cloudphone\.dev\/pool-a-routing created \(server dry run\)/);
    });

    describe("as the operator's ServiceAccount (a token from the TokenRequest API, deploy/'s RBAC alone)", () => {
      before(async function () {
        this.timeout(120_000);
        // Installed by the test above too; applied again so that these tests stand alone (--grep).
        mustKubectl(['apply', '-k', 'crds/'], { kubeconfig: admin });
        mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', 'crds/'], { kubeconfig: admin });
        mustKubectl(['apply', '-k', 'deploy/'], { kubeconfig: admin });
        const token = await cp.mintToken(OPERATOR_NAMESPACE, SERVICE_ACCOUNT, 3600);
        saKubeconfig = await cp.writeKubeconfigForToken(token, join(scratch, 'operator.kubeconfig'));
        expect(
          mustKubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: saKubeconfig })
            .stdout,
        ).to.equal(SA_USER);
        routeNamespace = uniqueName('deploy-rbac');
        mustKubectl(['create', 'namespace', routeNamespace], { kubeconfig: admin });
      });

      const canI = (verb: string, resource: string, where: string[], subresource?: string): boolean => {
        const args = [
          'auth',
          'can-i',
          verb,
          resource,
          ...where,
          ...(subresource ? [`--subresource=${subresource}`] : []),
        ];
        const result = kubectl(args, { kubeconfig: saKubeconfig });
        if (result.status !== 0 && result.status !== 1) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
        return result.stdout.trim() === 'yes';
      };

      it('may do everything the operator does', () => {
        const everywhere = ['--all-namespaces'];
        const inRoutes = () => ['-n', routeNamespace];
        const allowed: [string, string, string[], string?][] = [
          ...['get', 'list', 'watch', 'update', 'patch'].map((v): [string, string, string[]] => [
            v,
            'cloudphoneroutes.cloudphone.dev',
            everywhere,
          ]),
          ...['get', 'update', 'patch'].map((v): [string, string, string[], string] => [
            v,
            'cloudphoneroutes.cloudphone.dev',
            inRoutes(),
            'status',
          ]),
          ['update', 'cloudphoneroutes.cloudphone.dev', inRoutes(), 'finalizers'],
          ['list', 'cloudphoneaccounts.cloudphone.dev', everywhere],
          ['watch', 'cloudphoneaccounts.cloudphone.dev', everywhere],
          ['patch', 'cloudphoneaccounts.cloudphone.dev', inRoutes(), 'status'],
          ['list', 'clustercloudphoneaccounts.cloudphone.dev', []],
          ['watch', 'clustercloudphoneaccounts.cloudphone.dev', []],
          ['patch', 'clustercloudphoneaccounts.cloudphone.dev', [], 'status'],
          ['list', 'namespaces', []],
          ['watch', 'namespaces', []],
          ['create', 'events.events.k8s.io', inRoutes()],
          ['patch', 'events.events.k8s.io', inRoutes()],
          ['get', 'secrets', ['-n', OPERATOR_NAMESPACE]],
          ['get', 'secrets', everywhere],
          ...['get', 'create', 'update'].map((v): [string, string, string[]] => [
            v,
            'leases.coordination.k8s.io',
            ['-n', OPERATOR_NAMESPACE],
          ]),
        ];
        const refused = allowed.filter(([verb, resource, where, sub]) => !canI(verb, resource, where, sub));
        expect(refused.map((a) => a.join(' '))).to.deep.equal([]);
      });

      it('may do nothing else: no writes to routes beyond update/patch, none to accounts beyond status, no Secret writes, no Leases elsewhere, no other kinds', () => {
        const denied: [string, string, string[], string?][] = [
          ['create', 'cloudphoneroutes.cloudphone.dev', ['-n', routeNamespace]],
          ['delete', 'cloudphoneroutes.cloudphone.dev', ['-n', routeNamespace]],
          ['deletecollection', 'cloudphoneroutes.cloudphone.dev', ['--all-namespaces']],
          ['list', 'secrets', ['--all-namespaces']],
          ['watch', 'secrets', ['-n', routeNamespace]],
          ['create', 'secrets', ['-n', routeNamespace]],
          ['update', 'secrets', ['-n', routeNamespace]],
          ['delete', 'secrets', ['-n', OPERATOR_NAMESPACE]],
          ['get', 'leases.coordination.k8s.io', ['-n', routeNamespace]],
          ['create', 'leases.coordination.k8s.io', ['-n', 'kube-system']],
          ['delete', 'leases.coordination.k8s.io', ['-n', OPERATOR_NAMESPACE]],
          ['list', 'leases.coordination.k8s.io', ['-n', OPERATOR_NAMESPACE]],
          ['create', 'events', ['-n', routeNamespace]],
          ['delete', 'events.events.k8s.io', ['-n', routeNamespace]],
          ['get', 'configmaps', ['-n', OPERATOR_NAMESPACE]],
          ['list', 'pods', ['--all-namespaces']],
          // Accounts are the admins' and the teams': the operator only reads them and writes their status.
          ['get', 'clustercloudphoneaccounts.cloudphone.dev', []],
          ['create', 'clustercloudphoneaccounts.cloudphone.dev', []],
          ['update', 'clustercloudphoneaccounts.cloudphone.dev', []],
          ['patch', 'clustercloudphoneaccounts.cloudphone.dev', []],
          ['delete', 'clustercloudphoneaccounts.cloudphone.dev', []],
          ['update', 'clustercloudphoneaccounts.cloudphone.dev', [], 'status'],
          ['get', 'cloudphoneaccounts.cloudphone.dev', ['-n', routeNamespace]],
          ['create', 'cloudphoneaccounts.cloudphone.dev', ['-n', routeNamespace]],
          ['update', 'cloudphoneaccounts.cloudphone.dev', ['-n', routeNamespace]],
          ['patch', 'cloudphoneaccounts.cloudphone.dev', ['-n', routeNamespace]],
          ['delete', 'cloudphoneaccounts.cloudphone.dev', ['-n', routeNamespace]],
          ['update', 'cloudphoneaccounts.cloudphone.dev', ['-n', routeNamespace], 'status'],
          // Namespaces: their labels are read, nothing is written.
          ['get', 'namespaces', []],
          ['create', 'namespaces', []],
          ['patch', 'namespaces', []],
          ['delete', 'namespaces', []],
          ['list', 'secrets', ['-n', OPERATOR_NAMESPACE]],
          ['watch', 'secrets', ['-n', OPERATOR_NAMESPACE]],
          ['update', 'secrets', ['-n', OPERATOR_NAMESPACE]],
          ['update', 'customresourcedefinitions.apiextensions.k8s.io', []],
          ['create', 'serviceaccounts/token', ['-n', OPERATOR_NAMESPACE]],
          ['impersonate', 'users', []],
          ['bind', 'clusterroles.rbac.authorization.k8s.io', []],
          ['escalate', 'clusterroles.rbac.authorization.k8s.io', []],
          ['*', '*', ['--all-namespaces']],
        ];
        const granted = denied.filter(([verb, resource, where, sub]) => canI(verb, resource, where, sub));
        expect(granted.map((a) => a.join(' '))).to.deep.equal([]);
      });

      it("makes the operator's own API calls: watch routes, accounts and namespaces, finalizer, statuses, event, Lease, Secrets", async () => {
        const route = uniqueName('route');
        mustKubectl(['apply', '-f', '-'], {
          kubeconfig: admin,
          input: JSON.stringify({
            apiVersion: 'cloudphone.dev/v1alpha1',
            kind: 'CloudPhoneRoute',
            metadata: { name: route, namespace: routeNamespace },
            spec: { trafficType: 'routing', phoneIds: ['631056bfb66b4f4ea02ba25f04830cb4'] },
          }),
        });
        mustKubectl(
          [
            '-n',
            routeNamespace,
            'create',
            'secret',
            'generic',
            'cph-account',
            '--from-literal=HUAWEICLOUD_SDK_AK=ak',
            '--from-literal=HUAWEICLOUD_SDK_SK=sk',
          ],
          {
            kubeconfig: admin,
          },
        );
        const as = { kubeconfig: saKubeconfig };
        // The informer: a cluster-wide list, then a watch from its resourceVersion.
        const list = JSON.parse(
          mustKubectl(['get', '--raw', '/apis/cloudphone.dev/v1alpha1/cloudphoneroutes?limit=500'], as).stdout,
        ) as {
          metadata: { resourceVersion: string };
          items: { metadata: { name: string } }[];
        };
        expect(list.items.map((i) => i.metadata.name)).to.include(route);
        mustKubectl(
          [
            'get',
            '--raw',
            `/apis/cloudphone.dev/v1alpha1/cloudphoneroutes?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=${list.metadata.resourceVersion}`,
          ],
          as,
        );
        // The finalizer (deletionPolicy Revert) on the resource, the status on its subresource.
        mustKubectl(
          [
            '-n',
            routeNamespace,
            'patch',
            'cloudphoneroutes.cloudphone.dev',
            route,
            '--type=merge',
            '-p',
            '{"metadata":{"finalizers":["cloudphone.dev/route-finalizer"]}}',
          ],
          as,
        );
        mustKubectl(
          [
            '-n',
            routeNamespace,
            'patch',
            'cloudphoneroutes.cloudphone.dev',
            route,
            '--subresource=status',
            '--type=merge',
            '-p',
            '{"status":{"observedGeneration":1}}',
          ],
          as,
        );
        // An events.k8s.io/v1 Event about the route.
        mustKubectl(['create', '-f', '-'], {
          ...as,
          input: JSON.stringify({
            apiVersion: 'events.k8s.io/v1',
            kind: 'Event',
            metadata: { name: `${route}.route-changed`, namespace: routeNamespace },
            eventTime: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
            reportingController: 'cloudphone.dev/cph-route-operator',
            reportingInstance: 'cph-route-operator-0',
            action: 'ChangeRoute',
            reason: 'RouteChanged',
            type: 'Normal',
            note: 'Changed the route of 1 phone to routing',
            regarding: {
              apiVersion: 'cloudphone.dev/v1alpha1',
              kind: 'CloudPhoneRoute',
              name: route,
              namespace: routeNamespace,
            },
          }),
        });
        // The leader Lease: create, read, renew.
        const lease = uniqueName('lease');
        mustKubectl(['create', '-f', '-'], {
          ...as,
          input: JSON.stringify({
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: lease, namespace: OPERATOR_NAMESPACE },
            spec: { holderIdentity: 'cph-route-operator-0', leaseDurationSeconds: 15 },
          }),
        });
        // Renewal is an update (PUT with the resourceVersion read), as client-go's leader election does.
        const held = JSON.parse(
          mustKubectl(['-n', OPERATOR_NAMESPACE, 'get', 'lease', lease, '-o', 'json'], as).stdout,
        ) as { spec: Record<string, unknown> };
        held.spec.renewTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
        mustKubectl(['replace', '-f', '-'], { ...as, input: JSON.stringify(held) });
        // A CloudPhoneAccount's Secret in its namespace; a ClusterCloudPhoneAccount's in the operator's.
        mustKubectl(['-n', routeNamespace, 'get', 'secret', 'cph-account'], as);
        const clusterSecret = uniqueName('cluster-account-secret');
        mustKubectl(
          [
            '-n',
            OPERATOR_NAMESPACE,
            'create',
            'secret',
            'generic',
            clusterSecret,
            '--from-literal=HUAWEICLOUD_SDK_AK=ak',
          ],
          { kubeconfig: admin },
        );
        mustKubectl(['-n', OPERATOR_NAMESPACE, 'get', 'secret', clusterSecret], as);
        // The account informers (cluster-wide and in the watched namespaces) and the namespace informer.
        const accountSpec = {
          region: 'cn-north-4',
          projectId: 'deployrbacproject',
          credentials: { secretRef: { name: 'cph-account' } },
          phoneScope: {},
        };
        const clusterAccount = uniqueName('ccpa');
        const teamAccount = uniqueName('cpa');
        applyObjects(admin, [
          {
            apiVersion: 'cloudphone.dev/v1alpha1',
            kind: 'ClusterCloudPhoneAccount',
            metadata: { name: clusterAccount },
            spec: accountSpec,
          },
          {
            apiVersion: 'cloudphone.dev/v1alpha1',
            kind: 'CloudPhoneAccount',
            metadata: { name: teamAccount, namespace: routeNamespace },
            spec: accountSpec,
          },
        ]);
        for (const plural of ['clustercloudphoneaccounts', 'cloudphoneaccounts']) {
          const accounts = JSON.parse(
            mustKubectl(['get', '--raw', `/apis/cloudphone.dev/v1alpha1/${plural}?limit=500`], as).stdout,
          ) as { metadata: { resourceVersion: string }; items: { metadata: { name: string } }[] };
          expect(
            accounts.items.map((i) => i.metadata.name),
            plural,
          ).to.include(plural === 'cloudphoneaccounts' ? teamAccount : clusterAccount);
          mustKubectl(
            [
              'get',
              '--raw',
              `/apis/cloudphone.dev/v1alpha1/${plural}?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=${accounts.metadata.resourceVersion}`,
            ],
            as,
          );
        }
        const namespaces = JSON.parse(mustKubectl(['get', '--raw', '/api/v1/namespaces?limit=500'], as).stdout) as {
          metadata: { resourceVersion: string };
        };
        mustKubectl(
          [
            'get',
            '--raw',
            `/api/v1/namespaces?watch=1&timeoutSeconds=1&resourceVersion=${namespaces.metadata.resourceVersion}`,
          ],
          as,
        );
        // Both accounts' status, as the operator writes it: a merge patch on the subresource, without a GET
        // first (kubectl patch would GET the object, which the operator never does and may not).
        const client = await KubeClient.create(loadKubeConfig(saKubeconfig));
        try {
          for (const [resource, namespace, name] of [
            [clusterAccountResource, undefined, clusterAccount],
            [namespacedAccountResource, routeNamespace, teamAccount],
          ] as const) {
            await client.request({
              method: 'PATCH',
              path: resourcePath(resource, { namespace, name, subresource: 'status' }),
              body: { status: { observedGeneration: 1 } },
              contentType: PatchStrategy.MergePatch,
            });
          }
        } finally {
          client.close();
        }
        mustKubectl(['delete', 'clustercloudphoneaccounts.cloudphone.dev', clusterAccount], { kubeconfig: admin });
        mustKubectl(['-n', OPERATOR_NAMESPACE, 'delete', 'secret', clusterSecret], { kubeconfig: admin });
        // Leave the route deletable by others (no operator runs here to remove the finalizer).
        mustKubectl(
          [
            '-n',
            routeNamespace,
            'patch',
            'cloudphoneroutes.cloudphone.dev',
            route,
            '--type=merge',
            '-p',
            '{"metadata":{"finalizers":null}}',
          ],
          as,
        );
      });

      it('a call outside its RBAC is refused with a message naming the user, verb, resource and namespace', () => {
        const result = kubectl(['-n', routeNamespace, 'delete', 'cloudphoneroutes.cloudphone.dev', 'anything'], {
          kubeconfig: saKubeconfig,
        });
        expect(result.status).to.not.equal(0);
        expect(result.stderr).to.contain('Forbidden');
        expect(result.stderr).to.contain(SA_USER);
        expect(result.stderr).to.contain('cannot delete resource "cloudphoneroutes" in API group "cloudphone.dev"');
        expect(result.stderr).to.contain(`in the namespace "${routeNamespace}"`);
      });

      // Issues 5 and 12: the real operator, started with this ServiceAccount's kubeconfig and nothing else
      // (deploy/'s RBAC alone) and the Deployment's own arguments, watching every namespace as the default
      // install does. It converges a route through the shipped ClusterCloudPhoneAccount `default` (pointed at
      // the simulator, its Secret cph-credentials in the operator namespace) and one through a team's
      // CloudPhoneAccount (its Secret in the team's namespace), writes both accounts' status, the routes'
      // status and events, holds its Lease, corrects drift, and reverts through its finalizer, without a
      // single refused call. Any rule deploy/ lacks shows here as a refused call, an account or route that
      // never becomes Ready, or an operator that never gets ready.
      it('the operator does its whole job as its ServiceAccount, through the default account and a team account', async function () {
        if (!existsSync(join(root, 'src/main.ts'))) this.skip(); // the command lands with the reconciler
        this.timeout(240_000);
        const credentials = { ak: 'AKDEPLOYSA0000000001', sk: 'deploy-sa-secret-key-0001' };
        const teamCredentials = { ak: 'AKDEPLOYSA0000000002', sk: 'deploy-sa-secret-key-0002' };
        const simulator = await startSimulator({
          projectId: 'deploysaproject0000000000000001',
          credentials: [credentials, teamCredentials],
          phones: 24,
          jobMs: 200,
        });
        const sim = new SimAdmin(simulator.url);
        const leaseName = uniqueName('cph-route-operator-leader');
        const rendered = render('deploy');
        const shipped = find(rendered, 'ClusterCloudPhoneAccount', 'default');
        const teamAccount = uniqueName('team');
        let operator: OperatorProcess | undefined;
        try {
          const phones = (await sim.phones()).slice(0, 6).map((p) => p.phone_id);
          // The shipped default account, as an admin's overlay would set it: the simulator instead of the
          // region, its project instead of the placeholder; the credentials reference is left as shipped.
          const { region: _region, ...shippedSpec } = shipped.spec as Record<string, unknown>;
          applyObjects(admin, [
            { ...shipped, spec: { ...shippedSpec, endpoint: simulator.url, projectId: simulator.projectId } },
            credentialsSecret('cph-credentials', OPERATOR_NAMESPACE, credentials),
            credentialsSecret(`${teamAccount}-credentials`, routeNamespace, teamCredentials),
            {
              apiVersion: 'cloudphone.dev/v1alpha1',
              kind: 'CloudPhoneAccount',
              metadata: { name: teamAccount, namespace: routeNamespace },
              spec: {
                endpoint: simulator.url,
                projectId: simulator.projectId,
                credentials: { secretRef: { name: `${teamAccount}-credentials` } },
                phoneScope: {},
              },
            },
          ]);
          const args = deploymentArgs(rendered);
          expect(args).to.include.members([
            '--default-account=default',
            `--cluster-resource-namespace=${OPERATOR_NAMESPACE}`,
          ]);
          operator = await startOperator({
            name: 'operator-as-serviceaccount',
            kubeconfigPath: saKubeconfig,
            cphEndpoint: simulator.url,
            projectId: simulator.projectId,
            defaultAccount: false, // the Deployment's --default-account
            // No CPH credentials in the environment, as in the Deployment: the accounts' Secrets hold them.
            env: { POD_NAMESPACE: OPERATOR_NAMESPACE },
            extraArgs: [...args, `--leader-election-id=${leaseName}`],
          });
          const routes = new Routes(cp.kubeConfig());

          // A route without accountRef: the default account. Converges, with job IDs in the status.
          await routes.create(routeNamespace, 'default-account', {
            trafficType: 'routing',
            phoneIds: phones.slice(0, 3),
            driftCheckInterval: '10s',
            deletionPolicy: 'Revert',
          });
          const ready = await routes.waitForCondition(
            routeNamespace,
            'default-account',
            'Ready',
            'True',
            undefined,
            90_000,
          );
          for (const id of phones.slice(0, 3)) expect((await sim.phone(id)).traffic_type, id).to.equal('routing');
          expect(ready.metadata.finalizers, 'finalizer set (deletionPolicy Revert)').to.include(
            'cloudphone.dev/route-finalizer',
          );

          // A route through the team's CloudPhoneAccount (get on Secrets in its namespace).
          await routes.create(routeNamespace, 'own-account', {
            trafficType: 'routing',
            phoneIds: phones.slice(3, 6),
            accountRef: { kind: 'CloudPhoneAccount', name: teamAccount },
          });
          await routes.waitForCondition(routeNamespace, 'own-account', 'Ready', 'True', undefined, 90_000);
          for (const id of phones.slice(3, 6)) expect((await sim.phone(id)).traffic_type, id).to.equal('routing');

          // Both accounts' status was written (patch on their status subresources): credentials verified.
          const accountReady = (args: string[]) => async (): Promise<boolean> => {
            const object = JSON.parse(mustKubectl([...args, '-o', 'json'], { kubeconfig: admin }).stdout) as {
              status?: { conditions?: { type: string; status: string }[] };
            };
            return object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
          };
          await waitFor(accountReady(['get', 'ccpa', 'default']), {
            timeoutMs: 60_000,
            what: 'ClusterCloudPhoneAccount default Ready',
          });
          await waitFor(accountReady(['-n', routeNamespace, 'get', 'cpa', teamAccount]), {
            timeoutMs: 60_000,
            what: `CloudPhoneAccount ${teamAccount} Ready`,
          });

          // Drift behind the operator's back is corrected.
          await sim.drift(phones[0]!, 'direct');
          await waitFor(async () => (await sim.phone(phones[0]!)).traffic_type === 'routing', {
            timeoutMs: 60_000,
            what: `${phones[0]} back on routing`,
          });

          // Events were recorded (events.k8s.io create/patch).
          const events = JSON.parse(
            mustKubectl(['-n', routeNamespace, 'get', 'events.events.k8s.io', '-o', 'json'], { kubeconfig: admin })
              .stdout,
          ) as {
            items: { regarding?: { name?: string } }[];
          };
          expect(
            events.items.some((e) => e.regarding?.name === 'default-account'),
            'an event about the route',
          ).to.equal(true);

          // It holds its Lease in its own namespace.
          const lease = JSON.parse(
            mustKubectl(['-n', OPERATOR_NAMESPACE, 'get', 'lease', leaseName, '-o', 'json'], { kubeconfig: admin })
              .stdout,
          ) as {
            spec: { holderIdentity?: string };
          };
          expect(lease.spec.holderIdentity ?? '').to.not.equal('');

          // Deletion with Revert: phones back to direct, then the finalizer goes and so does the route.
          await routes.delete(routeNamespace, 'default-account');
          await waitFor(async () => (await routes.get(routeNamespace, 'default-account')) === undefined, {
            timeoutMs: 90_000,
            what: 'default-account gone',
          });
          for (const id of phones.slice(0, 3)) expect((await sim.phone(id)).traffic_type, id).to.equal('direct');

          // Not one call was refused.
          // A refused call logs KubeApiError's message, "403 Forbidden: ..."; a bare 403 may be a duration.
          const refused = operator.logs().filter((line) => /forbidden|\b403 /i.test(line) && !/CPH|cph\./.test(line));
          expect(refused, 'log lines about refused Kubernetes calls').to.deep.equal([]);
          expect(await operator.stop('SIGTERM')).to.equal(0);
        } catch (error) {
          // What the operator saw and wrote, for whoever reads the failure.
          const status = kubectl(
            [
              '-n',
              routeNamespace,
              'get',
              'cloudphoneroutes.cloudphone.dev,cloudphoneaccounts.cloudphone.dev',
              '-o',
              'yaml',
            ],
            { kubeconfig: admin },
          ).stdout;
          const account = kubectl(['get', 'ccpa', 'default', '-o', 'yaml'], { kubeconfig: admin }).stdout;
          console.error(
            `--- routes and accounts in ${routeNamespace}:\n${status}\n--- ccpa default:\n${account}\n--- operator log (last 100 lines):\n${operator?.logs().slice(-100).join('\n') ?? '(not started)'}`,
          );
          throw error;
        } finally {
          await operator?.stop('SIGKILL');
          // The shipped account again, so that nothing after this test meets an account at a dead simulator.
          kubectl(['apply', '-f', '-'], { kubeconfig: admin, input: JSON.stringify(shipped) });
          sim.close();
          await simulator.close();
        }
      });

      // A Role that lacks one permission: the operator must say which, not fail silently. The limited
      // ServiceAccount gets deploy/'s operator ClusterRole minus the route status rule, and the cluster
      // accounts' ClusterRole as it is.
      it('a missing permission is reported clearly by the operator: the log names the ServiceAccount, verb, resource and namespace', async function () {
        if (!existsSync(join(root, 'src/main.ts'))) this.skip(); // the command lands with the reconciler
        this.timeout(240_000);
        const limited = uniqueName('cph-route-operator-limited');
        const rendered = render('deploy');
        const full = find(rendered, 'ClusterRole', 'cph-route-operator');
        const rules = (full.rules ?? []).filter((r) => !r.resources.includes('cloudphoneroutes/status'));
        const leases = find(rendered, 'Role', 'cph-route-operator-leader-election');
        const subjects = [{ kind: 'ServiceAccount', name: limited, namespace: OPERATOR_NAMESPACE }];
        mustKubectl(['apply', '-f', '-'], {
          kubeconfig: admin,
          input: JSON.stringify({
            apiVersion: 'v1',
            kind: 'List',
            items: [
              { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: limited, namespace: OPERATOR_NAMESPACE } },
              { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: limited }, rules },
              {
                apiVersion: 'rbac.authorization.k8s.io/v1',
                kind: 'ClusterRoleBinding',
                metadata: { name: limited },
                roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: limited },
                subjects,
              },
              {
                apiVersion: 'rbac.authorization.k8s.io/v1',
                kind: 'ClusterRole',
                metadata: { name: `${limited}-secrets` },
                rules: find(rendered, 'ClusterRole', 'cph-route-operator-secret-reader').rules,
              },
              {
                apiVersion: 'rbac.authorization.k8s.io/v1',
                kind: 'ClusterRoleBinding',
                metadata: { name: `${limited}-secrets` },
                roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${limited}-secrets` },
                subjects,
              },
              {
                apiVersion: 'rbac.authorization.k8s.io/v1',
                kind: 'ClusterRoleBinding',
                metadata: { name: `${limited}-cluster-accounts` },
                roleRef: {
                  apiGroup: 'rbac.authorization.k8s.io',
                  kind: 'ClusterRole',
                  name: 'cph-route-operator-cluster-accounts',
                },
                subjects,
              },
              {
                apiVersion: 'rbac.authorization.k8s.io/v1',
                kind: 'RoleBinding',
                metadata: { name: limited, namespace: OPERATOR_NAMESPACE },
                roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: leases.metadata.name },
                subjects,
              },
            ],
          }),
        });
        const kubeconfig = await cp.writeKubeconfigForToken(
          await cp.mintToken(OPERATOR_NAMESPACE, limited, 3600),
          join(scratch, 'limited.kubeconfig'),
        );
        const credentials = { ak: 'AKDEPLOYSA0000000003', sk: 'deploy-sa-secret-key-0003' };
        const simulator = await startSimulator({
          projectId: 'deploysaproject0000000000000002',
          credentials: [credentials],
          phones: 8,
          jobMs: 200,
        });
        const sim = new SimAdmin(simulator.url);
        const namespace = uniqueName('deploy-limited');
        mustKubectl(['create', 'namespace', namespace], { kubeconfig: admin });
        let operator: OperatorProcess | undefined;
        try {
          const phones = (await sim.phones()).slice(0, 2).map((p) => p.phone_id);
          operator = await startOperator({
            name: 'operator-missing-permission',
            kubeconfigPath: kubeconfig,
            // An ambient account for the simulator, applied by the admin: the limited operator cannot.
            adminKubeconfigPath: admin,
            cphEndpoint: simulator.url,
            projectId: simulator.projectId,
            env: {
              HUAWEICLOUD_SDK_AK: credentials.ak,
              HUAWEICLOUD_SDK_SK: credentials.sk,
              POD_NAMESPACE: OPERATOR_NAMESPACE,
            },
            extraArgs: [
              '--leader-elect',
              `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
              `--leader-election-id=${uniqueName('leader')}`,
              `--namespaces=${namespace}`,
            ],
          });
          await new Routes(cp.kubeConfig()).create(namespace, 'cannot-write-status', {
            trafficType: 'routing',
            phoneIds: phones,
          });
          const line = await waitFor(
            () =>
              operator!
                .logs()
                .find(
                  (l) =>
                    /forbidden/i.test(l) &&
                    /status/.test(l) &&
                    l.includes(`system:serviceaccount:${OPERATOR_NAMESPACE}:${limited}`),
                ),
            { timeoutMs: 60_000, what: 'a log line naming the refused status write and the ServiceAccount' },
          );
          expect(line).to.contain(
            'cannot patch resource \\"cloudphoneroutes/status\\" in API group \\"cloudphone.dev\\"',
          );
          expect(line).to.contain(namespace);
        } catch (error) {
          console.error(
            `--- operator log (last 60 lines):\n${operator?.logs().slice(-60).join('\n') ?? '(not started)'}`,
          );
          throw error;
        } finally {
          await operator?.stop('SIGKILL');
          sim.close();
          await simulator.close();
        }
      });

      // overlays/single-namespace as deploy/README.md describes it: with its RBAC alone (bound to a
      // ServiceAccount of its own here, so that the base's ClusterRoles do not help), the operator watching
      // `phones` reconciles a route there through a cluster account (its Secret in the operator namespace)
      // and one through a CloudPhoneAccount of `phones`, and cannot read a Secret of another namespace.
      it('overlays/single-namespace: its RBAC alone runs the operator in the one namespace, and reads no Secret elsewhere', async function () {
        if (!existsSync(join(root, 'src/main.ts'))) this.skip(); // the command lands with the reconciler
        this.timeout(240_000);
        const single = uniqueName('cph-route-operator-single');
        const rename = (name: string): string => name.replace(/^cph-route-operator/, single);
        const rbacKinds = ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'];
        const rbac = render('deploy/overlays/single-namespace')
          .filter((o) => rbacKinds.includes(o.kind))
          .map((o) => ({
            ...o,
            metadata: { ...o.metadata, name: rename(o.metadata.name) },
            ...(o.roleRef ? { roleRef: { ...o.roleRef, name: rename(o.roleRef.name) } } : {}),
            ...(o.subjects ? { subjects: o.subjects.map((subject) => ({ ...subject, name: single })) } : {}),
          }));
        expect(rbac.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}`).sort()).to.deep.equal(
          [
            'ClusterRole/',
            'ClusterRoleBinding/',
            `Role/${OPERATOR_NAMESPACE}`,
            `Role/${OPERATOR_NAMESPACE}`,
            `Role/${SINGLE_NAMESPACE}`,
            `RoleBinding/${OPERATOR_NAMESPACE}`,
            `RoleBinding/${OPERATOR_NAMESPACE}`,
            `RoleBinding/${SINGLE_NAMESPACE}`,
          ].sort(),
        );
        if (kubectl(['get', 'namespace', SINGLE_NAMESPACE], { kubeconfig: admin }).status !== 0)
          mustKubectl(['create', 'namespace', SINGLE_NAMESPACE], { kubeconfig: admin });
        applyObjects(admin, [
          { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: single, namespace: OPERATOR_NAMESPACE } },
          ...rbac,
        ]);
        const kubeconfig = await cp.writeKubeconfigForToken(
          await cp.mintToken(OPERATOR_NAMESPACE, single, 3600),
          join(scratch, 'single.kubeconfig'),
        );
        const can = (args: string[]): boolean =>
          kubectl(['auth', 'can-i', ...args], { kubeconfig }).stdout.trim() === 'yes';
        expect(can(['get', 'secrets', '-n', SINGLE_NAMESPACE]), 'Secrets of the watched namespace').to.equal(true);
        expect(can(['get', 'secrets', '-n', OPERATOR_NAMESPACE]), 'Secrets of the operator namespace').to.equal(true);
        expect(can(['get', 'secrets', '-n', routeNamespace]), 'Secrets of another namespace').to.equal(false);
        expect(can(['list', 'cloudphoneroutes.cloudphone.dev', '--all-namespaces']), 'routes everywhere').to.equal(
          false,
        );

        const credentials = { ak: 'AKDEPLOYSINGLE000001', sk: 'deploy-single-secret-key-0001' };
        const teamCredentials = { ak: 'AKDEPLOYSINGLE000002', sk: 'deploy-single-secret-key-0002' };
        const simulator = await startSimulator({
          projectId: 'deploysingleproject000000000001',
          credentials: [credentials, teamCredentials],
          phones: 8,
          jobMs: 200,
        });
        const sim = new SimAdmin(simulator.url);
        const clusterAccount = uniqueName('single-ccpa');
        const teamAccount = uniqueName('single-cpa');
        let operator: OperatorProcess | undefined;
        try {
          const phones = (await sim.phones()).slice(0, 4).map((p) => p.phone_id);
          const spec = (secretName: string) => ({
            endpoint: simulator.url,
            projectId: simulator.projectId,
            credentials: { secretRef: { name: secretName } },
            phoneScope: {},
          });
          applyObjects(admin, [
            credentialsSecret(clusterAccount, OPERATOR_NAMESPACE, credentials),
            {
              apiVersion: 'cloudphone.dev/v1alpha1',
              kind: 'ClusterCloudPhoneAccount',
              metadata: { name: clusterAccount },
              spec: spec(clusterAccount),
            },
            credentialsSecret(teamAccount, SINGLE_NAMESPACE, teamCredentials),
            {
              apiVersion: 'cloudphone.dev/v1alpha1',
              kind: 'CloudPhoneAccount',
              metadata: { name: teamAccount, namespace: SINGLE_NAMESPACE },
              spec: spec(teamAccount),
            },
          ]);
          // The overlay's arguments, but this test's own account as the default.
          const args = deploymentArgs(render('deploy/overlays/single-namespace'), ['default-account']);
          expect(args).to.include(`--namespaces=${SINGLE_NAMESPACE}`);
          operator = await startOperator({
            name: 'operator-single-namespace',
            kubeconfigPath: kubeconfig,
            cphEndpoint: simulator.url,
            projectId: simulator.projectId,
            defaultAccount: clusterAccount,
            env: { POD_NAMESPACE: OPERATOR_NAMESPACE },
            extraArgs: [...args, `--leader-election-id=${uniqueName('leader')}`],
          });
          const routes = new Routes(cp.kubeConfig());
          const viaCluster = uniqueName('single-default');
          const viaTeam = uniqueName('single-team');
          await routes.create(SINGLE_NAMESPACE, viaCluster, { trafficType: 'routing', phoneIds: phones.slice(0, 2) });
          await routes.create(SINGLE_NAMESPACE, viaTeam, {
            trafficType: 'routing',
            phoneIds: phones.slice(2, 4),
            accountRef: { kind: 'CloudPhoneAccount', name: teamAccount },
          });
          await routes.waitForCondition(SINGLE_NAMESPACE, viaCluster, 'Ready', 'True', undefined, 90_000);
          await routes.waitForCondition(SINGLE_NAMESPACE, viaTeam, 'Ready', 'True', undefined, 90_000);
          for (const id of phones) expect((await sim.phone(id)).traffic_type, id).to.equal('routing');
          // A refused call logs KubeApiError's message, "403 Forbidden: ..."; a bare 403 may be a duration.
          const refused = operator.logs().filter((line) => /forbidden|\b403 /i.test(line) && !/CPH|cph\./.test(line));
          expect(refused, 'log lines about refused Kubernetes calls').to.deep.equal([]);
          await routes.delete(SINGLE_NAMESPACE, viaCluster);
          await routes.delete(SINGLE_NAMESPACE, viaTeam);
        } catch (error) {
          console.error(
            `--- operator log (last 60 lines):\n${operator?.logs().slice(-60).join('\n') ?? '(not started)'}`,
          );
          throw error;
        } finally {
          await operator?.stop('SIGKILL');
          kubectl(['delete', 'ccpa', clusterAccount, '--ignore-not-found'], { kubeconfig: admin });
          sim.close();
          await simulator.close();
        }
      });
    });
  });
});
