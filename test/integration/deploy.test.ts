/**
 * deploy/ as a user meets it: `kubectl kustomize` renders the base and every overlay; the rendered
 * objects hold the promises deploy/ makes (least-privilege RBAC, a hardened two-replica Deployment,
 * probes, PDB, NetworkPolicy); and against the real local control plane every manifest passes
 * `kubectl apply --dry-run=server`, the base installs for real, and the operator's ServiceAccount, with a
 * token minted through the TokenRequest API, can make exactly the API calls the operator makes and no
 * others.
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
import { startSimulator } from '../../src/simulator/index.js';
import { CONTROL_PLANE_START_TIMEOUT_MS, sharedControlPlane, uniqueName, type ControlPlane } from '../support/control-plane.js';
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

/** The flags of the cph-route-operator command (issue 4); deploy/ may pass no other. */
const OPERATOR_FLAGS = [
  '--kubeconfig',
  '--namespaces',
  '--cph-endpoint',
  '--iam-endpoint',
  '--region',
  '--project-id',
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
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
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
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
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

    it('deploy/ renders the namespace, CRD, ServiceAccount, RBAC, Deployment, Service, PDB and NetworkPolicy', () => {
      const kinds = base.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      expect(kinds).to.deep.equal(
        [
          'ClusterRole/cph-route-operator',
          'ClusterRole/cph-route-operator-secret-reader',
          'ClusterRoleBinding/cph-route-operator',
          'ClusterRoleBinding/cph-route-operator-secret-reader',
          'CustomResourceDefinition/cloudphoneaccounts.cloudphone.dev',
          'CustomResourceDefinition/cloudphoneroutes.cloudphone.dev',
          'CustomResourceDefinition/clustercloudphoneaccounts.cloudphone.dev',
          'Deployment/cph-route-operator',
          `Namespace/${OPERATOR_NAMESPACE}`,
          'NetworkPolicy/cph-route-operator',
          'PodDisruptionBudget/cph-route-operator',
          'Role/cph-route-operator-leader-election',
          'RoleBinding/cph-route-operator-leader-election',
          'Service/cph-route-operator-metrics',
          'ServiceAccount/cph-route-operator',
        ].sort(),
      );
      for (const object of base) {
        const clusterScoped = ['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(object.kind);
        expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).to.equal(clusterScoped ? undefined : OPERATOR_NAMESPACE);
      }
    });

    it('the CRDs are those of crds/ (the route and the two account kinds), the one source of truth', () => {
      const fromFiles = parseAllDocuments(mustKubectl(['kustomize', 'crds']).stdout).map((d) => d.toJSON() as K8sObject);
      expect(fromFiles.map((crd) => crd.metadata.name)).to.have.members(['cloudphoneroutes.cloudphone.dev', 'clustercloudphoneaccounts.cloudphone.dev', 'cloudphoneaccounts.cloudphone.dev']);
      for (const fromFile of fromFiles) {
        const rendered = find(base, 'CustomResourceDefinition', fromFile.metadata.name);
        const { labels: _renderedLabels, ...renderedMeta } = rendered.metadata;
        const { labels: _fileLabels, ...fileMeta } = fromFile.metadata;
        expect({ ...rendered, metadata: renderedMeta }).to.deep.equal({ ...fromFile, metadata: fileMeta });
      }
    });

    it('every overlay renders: example (credentials from a .env file), single-namespace, argocd/app', () => {
      const example = withExampleCredentials(() => render('deploy/overlays/example'));
      const secret = example.find((o) => o.kind === 'Secret')!;
      expect(secret.metadata.name).to.match(/^cph-credentials-[a-z0-9]+$/);
      expect(secret.metadata.namespace).to.equal(OPERATOR_NAMESPACE);
      const container = find(example, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0];
      expect(container.image).to.equal('registry.example.com/platform/cph-route-operator:0.1.0');
      for (const env of container.env.filter((e: { valueFrom?: { secretKeyRef?: unknown } }) => e.valueFrom?.secretKeyRef)) {
        expect(env.valueFrom.secretKeyRef.name, env.name).to.equal(secret.metadata.name);
      }
      expect(container.args).to.include('--region=cn-east-3');

      const single = render('deploy/overlays/single-namespace');
      expect(single.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).to.deep.equal([]);
      const role = find(single, 'Role', 'cph-route-operator');
      expect(role.metadata.namespace).to.equal(SINGLE_NAMESPACE);
      expect(find(single, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0].args).to.include(`--namespaces=${SINGLE_NAMESPACE}`);

      expect(render('deploy/argocd/app').some((o) => o.kind === 'CloudPhoneRoute')).to.equal(true);
    });

    it('credentials.env is ignored by Git, its template is not', () => {
      const ignored = spawnSync('git', ['check-ignore', '-q', 'deploy/overlays/example/credentials.env'], { cwd: root });
      expect(ignored.status, 'credentials.env must be ignored').to.equal(0);
      const template = spawnSync('git', ['check-ignore', '-q', 'deploy/overlays/example/credentials.env.template'], { cwd: root });
      expect(template.status, 'the template must not be ignored').to.equal(1);
    });

    describe('least-privilege RBAC', () => {
      it('the operator ClusterRole grants exactly the verbs the reconciler uses on routes, status, finalizers and events', () => {
        expect(find(base, 'ClusterRole', 'cph-route-operator').rules).to.deep.equal([
          { apiGroups: ['cloudphone.dev'], resources: ['cloudphoneroutes'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
          { apiGroups: ['cloudphone.dev'], resources: ['cloudphoneroutes/status'], verbs: ['get', 'update', 'patch'] },
          { apiGroups: ['cloudphone.dev'], resources: ['cloudphoneroutes/finalizers'], verbs: ['update'] },
          { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
        ]);
      });

      it('Secrets are get-only, in a role of their own; Leases only in the operator namespace', () => {
        expect(find(base, 'ClusterRole', 'cph-route-operator-secret-reader').rules).to.deep.equal([
          { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        ]);
        const leases = find(base, 'Role', 'cph-route-operator-leader-election');
        expect(leases.metadata.namespace).to.equal(OPERATOR_NAMESPACE);
        expect(leases.rules).to.deep.equal([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
      });

      it('no rule anywhere uses a wildcard, and every binding binds only the operator ServiceAccount', () => {
        const all = [...base, ...render('deploy/overlays/single-namespace')];
        for (const role of all.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')) {
          for (const rule of role.rules ?? []) {
            expect([...rule.apiGroups, ...rule.resources, ...rule.verbs], `${role.kind}/${role.metadata.name}`).to.not.include('*');
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
        expect(container.env.find((e: { name: string }) => e.name === 'POD_NAMESPACE').valueFrom.fieldRef.fieldPath).to.equal('metadata.namespace');
        const overlays = [base, render('deploy/overlays/single-namespace'), withExampleCredentials(() => render('deploy/overlays/example'))];
        for (const objects of overlays) {
          for (const arg of find(objects, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0].args as string[]) {
            expect(OPERATOR_FLAGS, arg).to.include(arg.split('=')[0]);
          }
        }
      });

      it('passes only flags that `cph-route-operator --help` documents', function () {
        if (!existsSync(join(root, 'src/main.ts'))) this.skip(); // the command lands with the reconciler
        this.timeout(60_000);
        const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--help'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
        expect(help.status, help.stderr).to.equal(0);
        const documented = new Set([...help.stdout.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
        const overlays = [base, render('deploy/overlays/single-namespace'), withExampleCredentials(() => render('deploy/overlays/example'))];
        for (const objects of overlays) {
          for (const arg of find(objects, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0].args as string[]) {
            expect([...documented], arg).to.include(arg.split('=')[0]);
          }
        }
      });

      it('probes /healthz and /readyz on the health port 8081, serves metrics on 8080, with requests and limits', () => {
        const container = find(base, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0];
        const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
        expect(ports).to.deep.equal({ metrics: 8080, health: 8081 });
        expect(container.args).to.include('--metrics-bind-address=:8080');
        expect(container.args).to.include('--health-probe-bind-address=:8081');
        expect(container.livenessProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'health' });
        expect(container.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'health' });
        expect(container.resources).to.deep.equal({ requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
      });

      it('is locked down: non-root 65532, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
        const pod = find(base, 'Deployment', 'cph-route-operator').spec.template.spec;
        expect(pod.securityContext).to.deep.include({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
        expect(pod.containers[0].securityContext).to.deep.include({
          runAsNonRoot: true,
          runAsUser: 65532,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(find(base, 'Namespace', OPERATOR_NAMESPACE).metadata.labels).to.include({ 'pod-security.kubernetes.io/enforce': 'restricted' });
      });

      it('takes the default credentials from the optional Secret cph-credentials, key by key', () => {
        const env = find(base, 'Deployment', 'cph-route-operator').spec.template.spec.containers[0].env as {
          name: string;
          valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
        }[];
        for (const name of ['HUAWEICLOUD_SDK_AK', 'HUAWEICLOUD_SDK_SK', 'HUAWEICLOUD_SDK_PROJECT_ID']) {
          expect(env.find((e) => e.name === name)?.valueFrom?.secretKeyRef, name).to.deep.equal({ name: 'cph-credentials', key: name, optional: true });
        }
      });

      it('spreads the replicas over nodes; the PDB keeps one; the Service and policies select the operator pods', () => {
        const deployment = find(base, 'Deployment', 'cph-route-operator');
        const podLabels = deployment.spec.template.metadata.labels;
        expect(deployment.spec.selector.matchLabels).to.deep.equal(podLabels);
        expect(deployment.spec.template.spec.topologySpreadConstraints[0]).to.deep.include({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1 });
        const pdb = find(base, 'PodDisruptionBudget', 'cph-route-operator');
        expect(pdb.spec.minAvailable).to.equal(1);
        expect(pdb.spec.selector.matchLabels).to.deep.equal(podLabels);
        const service = find(base, 'Service', 'cph-route-operator-metrics');
        expect(service.spec.selector).to.deep.equal(podLabels);
        expect(service.spec.ports).to.deep.equal([{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
        const policy = find(base, 'NetworkPolicy', 'cph-route-operator');
        expect(policy.spec.podSelector.matchLabels).to.deep.equal(podLabels);
        expect(policy.spec.policyTypes).to.deep.equal(['Ingress', 'Egress']);
        const ingressPorts = policy.spec.ingress.flatMap((r: { ports: { port: number }[] }) => r.ports.map((p) => p.port));
        expect(ingressPorts).to.deep.equal([8080, 8081]);
        const egressPorts = policy.spec.egress.flatMap((r: { ports: { port: number; protocol: string }[] }) => r.ports.map((p) => `${p.port}/${p.protocol}`));
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

    it('kubectl apply --dry-run=server -k deploy/ passes (its namespace applied first), with no Pod Security warning', function () {
      this.timeout(120_000);
      // A server-side dry run creates nothing, so the namespaced objects need their namespace to exist.
      const namespace = render('deploy').find((o) => o.kind === 'Namespace')!;
      mustKubectl(['apply', '-f', '-'], { kubeconfig: admin, input: JSON.stringify(namespace) });
      const result = mustKubectl(['apply', '--dry-run=server', '-k', 'deploy/'], { kubeconfig: admin });
      expect(result.stdout).to.match(/deployment\.apps\/cph-route-operator (created|configured|unchanged) \(server dry run\)/);
      expect(result.stdout).to.match(/customresourcedefinition\.apiextensions\.k8s\.io\/cloudphoneroutes\.cloudphone\.dev .*\(server dry run\)/);
      expect(seriousWarnings(result.stderr)).to.deep.equal([]);
    });

    it('every overlay passes kubectl apply --dry-run=server too', function () {
      this.timeout(120_000);
      const example = withExampleCredentials(() => mustKubectl(['apply', '--dry-run=server', '-k', 'deploy/overlays/example/'], { kubeconfig: admin }));
      expect(example.stdout).to.match(/secret\/cph-credentials-[a-z0-9]+ created \(server dry run\)/);
      expect(seriousWarnings(example.stderr)).to.deep.equal([]);
      if (kubectl(['get', 'namespace', SINGLE_NAMESPACE], { kubeconfig: admin }).status !== 0) {
        mustKubectl(['create', 'namespace', SINGLE_NAMESPACE], { kubeconfig: admin });
      }
      const single = mustKubectl(['apply', '--dry-run=server', '-k', 'deploy/overlays/single-namespace/'], { kubeconfig: admin });
      expect(single.stdout).to.match(/role\.rbac\.authorization\.k8s\.io\/cph-route-operator .*\(server dry run\)/);
      expect(seriousWarnings(single.stderr)).to.deep.equal([]);
    });

    it('kubectl apply -k deploy/ installs it for real; the CRD becomes Established', function () {
      this.timeout(120_000);
      mustKubectl(['apply', '-k', 'deploy/'], { kubeconfig: admin });
      mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/cloudphoneroutes.cloudphone.dev'], { kubeconfig: admin });
      mustKubectl(['-n', OPERATOR_NAMESPACE, 'get', 'serviceaccount', SERVICE_ACCOUNT], { kubeconfig: admin });
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
        mustKubectl(['apply', '-k', 'deploy/'], { kubeconfig: admin });
        mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/cloudphoneroutes.cloudphone.dev'], { kubeconfig: admin });
        const token = await cp.mintToken(OPERATOR_NAMESPACE, SERVICE_ACCOUNT, 3600);
        saKubeconfig = await cp.writeKubeconfigForToken(token, join(scratch, 'operator.kubeconfig'));
        expect(mustKubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: saKubeconfig }).stdout).to.equal(SA_USER);
        routeNamespace = uniqueName('deploy-rbac');
        mustKubectl(['create', 'namespace', routeNamespace], { kubeconfig: admin });
      });

      const canI = (verb: string, resource: string, where: string[], subresource?: string): boolean => {
        const args = ['auth', 'can-i', verb, resource, ...where, ...(subresource ? [`--subresource=${subresource}`] : [])];
        const result = kubectl(args, { kubeconfig: saKubeconfig });
        if (result.status !== 0 && result.status !== 1) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
        return result.stdout.trim() === 'yes';
      };

      it('may do everything the operator does', () => {
        const everywhere = ['--all-namespaces'];
        const inRoutes = () => ['-n', routeNamespace];
        const allowed: [string, string, string[], string?][] = [
          ...['get', 'list', 'watch', 'update', 'patch'].map((v): [string, string, string[]] => [v, 'cloudphoneroutes.cloudphone.dev', everywhere]),
          ...['get', 'update', 'patch'].map((v): [string, string, string[], string] => [v, 'cloudphoneroutes.cloudphone.dev', inRoutes(), 'status']),
          ['update', 'cloudphoneroutes.cloudphone.dev', inRoutes(), 'finalizers'],
          ['create', 'events.events.k8s.io', inRoutes()],
          ['patch', 'events.events.k8s.io', inRoutes()],
          ['get', 'secrets', everywhere],
          ...['get', 'create', 'update'].map((v): [string, string, string[]] => [v, 'leases.coordination.k8s.io', ['-n', OPERATOR_NAMESPACE]]),
        ];
        const refused = allowed.filter(([verb, resource, where, sub]) => !canI(verb, resource, where, sub));
        expect(refused.map((a) => a.join(' '))).to.deep.equal([]);
      });

      it('may do nothing else: no writes to routes beyond update/patch, no Secret writes, no Leases elsewhere, no other kinds', () => {
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
          ['list', 'namespaces', []],
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

      it("makes the operator's own API calls: watch routes everywhere, finalizer, status, event, Lease, Secret", () => {
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
        mustKubectl(['-n', routeNamespace, 'create', 'secret', 'generic', 'cph-account', '--from-literal=HUAWEICLOUD_SDK_AK=ak', '--from-literal=HUAWEICLOUD_SDK_SK=sk'], {
          kubeconfig: admin,
        });
        const as = { kubeconfig: saKubeconfig };
        // The informer: a cluster-wide list, then a watch from its resourceVersion.
        const list = JSON.parse(mustKubectl(['get', '--raw', '/apis/cloudphone.dev/v1alpha1/cloudphoneroutes?limit=500'], as).stdout) as {
          metadata: { resourceVersion: string };
          items: { metadata: { name: string } }[];
        };
        expect(list.items.map((i) => i.metadata.name)).to.include(route);
        mustKubectl(['get', '--raw', `/apis/cloudphone.dev/v1alpha1/cloudphoneroutes?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=${list.metadata.resourceVersion}`], as);
        // The finalizer (deletionPolicy Revert) on the resource, the status on its subresource.
        mustKubectl(['-n', routeNamespace, 'patch', 'cloudphoneroutes.cloudphone.dev', route, '--type=merge', '-p', '{"metadata":{"finalizers":["cloudphone.dev/route-finalizer"]}}'], as);
        mustKubectl(
          ['-n', routeNamespace, 'patch', 'cloudphoneroutes.cloudphone.dev', route, '--subresource=status', '--type=merge', '-p', '{"status":{"observedGeneration":1}}'],
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
            regarding: { apiVersion: 'cloudphone.dev/v1alpha1', kind: 'CloudPhoneRoute', name: route, namespace: routeNamespace },
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
        const held = JSON.parse(mustKubectl(['-n', OPERATOR_NAMESPACE, 'get', 'lease', lease, '-o', 'json'], as).stdout) as { spec: Record<string, unknown> };
        held.spec.renewTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
        mustKubectl(['replace', '-f', '-'], { ...as, input: JSON.stringify(held) });
        // The per-resource credentials in the route's namespace.
        mustKubectl(['-n', routeNamespace, 'get', 'secret', 'cph-account'], as);
        // Leave the route deletable by others (no operator runs here to remove the finalizer).
        mustKubectl(['-n', routeNamespace, 'patch', 'cloudphoneroutes.cloudphone.dev', route, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], as);
      });

      it('a call outside its RBAC is refused with a message naming the user, verb, resource and namespace', () => {
        const result = kubectl(['-n', routeNamespace, 'delete', 'cloudphoneroutes.cloudphone.dev', 'anything'], { kubeconfig: saKubeconfig });
        expect(result.status).to.not.equal(0);
        expect(result.stderr).to.contain('Forbidden');
        expect(result.stderr).to.contain(SA_USER);
        expect(result.stderr).to.contain('cannot delete resource "cloudphoneroutes" in API group "cloudphone.dev"');
        expect(result.stderr).to.contain(`in the namespace "${routeNamespace}"`);
      });

      // Issue 5, item 4: the real operator, started with this ServiceAccount's kubeconfig and nothing else
      // (deploy/'s RBAC alone), watching every namespace as the default install does, converges a route
      // against the simulator, writes status and events, holds its Lease, reads a per-resource Secret,
      // corrects drift, and reverts through its finalizer, without a single refused call.
      it('the operator does its whole job as its ServiceAccount', async function () {
        if (!existsSync(join(root, 'src/main.ts'))) this.skip(); // the command lands with the reconciler
        this.timeout(240_000);
        const credentials = { ak: 'AKDEPLOYSA0000000001', sk: 'deploy-sa-secret-key-0001' };
        const accountCredentials = { ak: 'AKDEPLOYSA0000000002', sk: 'deploy-sa-secret-key-0002' };
        const simulator = await startSimulator({
          projectId: 'deploysaproject0000000000000001',
          credentials: [credentials, accountCredentials],
          phones: 24,
          jobMs: 200,
        });
        const sim = new SimAdmin(simulator.url);
        const leaseName = uniqueName('cph-route-operator-leader');
        let operator: OperatorProcess | undefined;
        try {
          const phones = (await sim.phones()).slice(0, 6).map((p) => p.phone_id);
          operator = await startOperator({
            name: 'operator-as-serviceaccount',
            kubeconfigPath: saKubeconfig,
            cphEndpoint: simulator.url,
            projectId: simulator.projectId,
            env: {
              HUAWEICLOUD_SDK_AK: credentials.ak,
              HUAWEICLOUD_SDK_SK: credentials.sk,
              HUAWEICLOUD_SDK_PROJECT_ID: simulator.projectId,
              POD_NAMESPACE: OPERATOR_NAMESPACE,
            },
            extraArgs: ['--leader-elect', `--leader-election-namespace=${OPERATOR_NAMESPACE}`, `--leader-election-id=${leaseName}`],
          });
          const routes = new Routes(cp.kubeConfig());

          // A route with the operator's default account: converges, with job IDs in the status.
          await routes.create(routeNamespace, 'default-account', {
            trafficType: 'routing',
            phoneIds: phones.slice(0, 3),
            driftCheckInterval: '10s',
            deletionPolicy: 'Revert',
          });
          const ready = await routes.waitForCondition(routeNamespace, 'default-account', 'Ready', 'True', undefined, 90_000);
          for (const id of phones.slice(0, 3)) expect((await sim.phone(id)).traffic_type, id).to.equal('routing');
          expect(ready.metadata.finalizers, 'finalizer set (deletionPolicy Revert)').to.include('cloudphone.dev/route-finalizer');

          // A route with its own account from a Secret in its namespace (get on Secrets).
          mustKubectl(
            ['-n', routeNamespace, 'create', 'secret', 'generic', 'own-account', `--from-literal=HUAWEICLOUD_SDK_AK=${accountCredentials.ak}`, `--from-literal=HUAWEICLOUD_SDK_SK=${accountCredentials.sk}`],
            { kubeconfig: admin },
          );
          await routes.create(routeNamespace, 'own-account', {
            trafficType: 'routing',
            phoneIds: phones.slice(3, 6),
            credentialsSecretRef: { name: 'own-account' },
          });
          await routes.waitForCondition(routeNamespace, 'own-account', 'Ready', 'True', undefined, 90_000);

          // Drift behind the operator's back is corrected.
          await sim.drift(phones[0]!, 'direct');
          await waitFor(async () => (await sim.phone(phones[0]!)).traffic_type === 'routing', { timeoutMs: 60_000, what: `${phones[0]} back on routing` });

          // Events were recorded (events.k8s.io create/patch).
          const events = JSON.parse(mustKubectl(['-n', routeNamespace, 'get', 'events.events.k8s.io', '-o', 'json'], { kubeconfig: admin }).stdout) as {
            items: { regarding?: { name?: string } }[];
          };
          expect(events.items.some((e) => e.regarding?.name === 'default-account'), 'an event about the route').to.equal(true);

          // It holds its Lease in its own namespace.
          const lease = JSON.parse(mustKubectl(['-n', OPERATOR_NAMESPACE, 'get', 'lease', leaseName, '-o', 'json'], { kubeconfig: admin }).stdout) as {
            spec: { holderIdentity?: string };
          };
          expect(lease.spec.holderIdentity ?? '').to.not.equal('');

          // Deletion with Revert: phones back to direct, then the finalizer goes and so does the route.
          await routes.delete(routeNamespace, 'default-account');
          await waitFor(async () => (await routes.get(routeNamespace, 'default-account')) === undefined, { timeoutMs: 90_000, what: 'default-account gone' });
          for (const id of phones.slice(0, 3)) expect((await sim.phone(id)).traffic_type, id).to.equal('direct');

          // Not one call was refused.
          const refused = operator.logs().filter((line) => /forbidden|\b403\b/i.test(line) && !/CPH|cph\./.test(line));
          expect(refused, 'log lines about refused Kubernetes calls').to.deep.equal([]);
          expect(await operator.stop('SIGTERM')).to.equal(0);
        } catch (error) {
          // What the operator saw and wrote, for whoever reads the failure.
          const status = kubectl(['-n', routeNamespace, 'get', 'cloudphoneroutes.cloudphone.dev', '-o', 'yaml'], { kubeconfig: admin }).stdout;
          console.error(`--- routes in ${routeNamespace}:\n${status}\n--- operator log (last 100 lines):\n${operator?.logs().slice(-100).join('\n') ?? '(not started)'}`);
          throw error;
        } finally {
          await operator?.stop('SIGKILL');
          sim.close();
          await simulator.close();
        }
      });

      // A Role that lacks one permission: the operator must say which, not fail silently. The limited
      // ServiceAccount gets deploy/'s operator ClusterRole minus the status subresource rule.
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
              { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: limited }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: limited }, subjects },
              { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${limited}-secrets` }, rules: find(rendered, 'ClusterRole', 'cph-route-operator-secret-reader').rules },
              { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${limited}-secrets` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${limited}-secrets` }, subjects },
              { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: limited, namespace: OPERATOR_NAMESPACE }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: leases.metadata.name }, subjects },
            ],
          }),
        });
        const kubeconfig = await cp.writeKubeconfigForToken(await cp.mintToken(OPERATOR_NAMESPACE, limited, 3600), join(scratch, 'limited.kubeconfig'));
        const credentials = { ak: 'AKDEPLOYSA0000000003', sk: 'deploy-sa-secret-key-0003' };
        const simulator = await startSimulator({ projectId: 'deploysaproject0000000000000002', credentials: [credentials], phones: 8, jobMs: 200 });
        const sim = new SimAdmin(simulator.url);
        const namespace = uniqueName('deploy-limited');
        mustKubectl(['create', 'namespace', namespace], { kubeconfig: admin });
        let operator: OperatorProcess | undefined;
        try {
          const phones = (await sim.phones()).slice(0, 2).map((p) => p.phone_id);
          operator = await startOperator({
            name: 'operator-missing-permission',
            kubeconfigPath: kubeconfig,
            cphEndpoint: simulator.url,
            projectId: simulator.projectId,
            env: { HUAWEICLOUD_SDK_AK: credentials.ak, HUAWEICLOUD_SDK_SK: credentials.sk, HUAWEICLOUD_SDK_PROJECT_ID: simulator.projectId, POD_NAMESPACE: OPERATOR_NAMESPACE },
            extraArgs: ['--leader-elect', `--leader-election-namespace=${OPERATOR_NAMESPACE}`, `--leader-election-id=${uniqueName('leader')}`, `--namespaces=${namespace}`],
          });
          await new Routes(cp.kubeConfig()).create(namespace, 'cannot-write-status', { trafficType: 'routing', phoneIds: phones });
          const line = await waitFor(
            () => operator!.logs().find((l) => /forbidden/i.test(l) && /status/.test(l) && l.includes(`system:serviceaccount:${OPERATOR_NAMESPACE}:${limited}`)),
            { timeoutMs: 60_000, what: 'a log line naming the refused status write and the ServiceAccount' },
          );
          expect(line).to.contain('cannot patch resource \\"cloudphoneroutes/status\\" in API group \\"cloudphone.dev\\"');
          expect(line).to.contain(namespace);
        } catch (error) {
          console.error(`--- operator log (last 60 lines):\n${operator?.logs().slice(-60).join('\n') ?? '(not started)'}`);
          throw error;
        } finally {
          await operator?.stop('SIGKILL');
          sim.close();
          await simulator.close();
        }
      });
    });
  });
});
