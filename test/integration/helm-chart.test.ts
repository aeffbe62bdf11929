/**
 * deploy/helm/cph-route-operator as a user meets it, with helm built from its Go module (test/tools/helm.ts):
 * `helm lint --strict` with every values file of ci/; a misspelt value refused by values.schema.json;
 * `helm template` held to the kustomize render of deploy/ (every object but the Namespace equal, labels
 * aside: kinds, names, RBAC rules, hardening, probes, arguments, the default account), in both RBAC modes;
 * every operator flag a value sets accepted by the operator's own parser. Then, on a control plane of its own
 * (a fresh cluster, so the CRDs' life is this file's alone): install with templated CRDs and uninstall, the
 * CRDs kept; install from crds/, the operator run as a process with the chart's ServiceAccount token and the
 * live Deployment's arguments reconciling a route through the chart's default account (pointed at the
 * simulator), `helm upgrade` with changed values and `helm rollback` without losing a status, and
 * `helm uninstall`, the CRDs and the routes kept.
 *
 * No kubelet, scheduler or Deployment controller runs here: the Deployment gets no pods. Helm installs
 * objects, and the operator runs beside the control plane with the credentials a pod would have.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseOperatorArgs } from '../../src/config.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { startControlPlane, type ControlPlane } from '../cluster/harness.js';
import { CONTROL_PLANE_START_TIMEOUT_MS } from '../support/control-plane.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { Routes } from '../support/routes.js';
import { SimAdmin } from '../support/sim-admin.js';
import { waitFor } from '../support/wait.js';
import { ensureHelm } from '../tools/helm.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = join(root, 'deploy/helm/cph-route-operator');
const RELEASE = 'cph-route-operator';
const NAMESPACE = 'cph-route-operator-system';
/** A cold helm build on two busy cores takes minutes (docs/testing.md); a warm cache takes none. */
const HELM_BUILD_TIMEOUT_MS = 30 * 60 * 1000;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // The assertions below spell out the paths they read.
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds
  [field: string]: any;
}

interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: Record<string, string> = {}): CommandResult {
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function must(command: string, args: string[], env: Record<string, string> = {}): string {
  const result = run(command, args, env);
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

function documents(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const key = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in ${objects.map(key).join(', ')}`);
  return found;
}

/**
 * An object without what the chart adds on purpose: labels (Helm's recommended ones) and label selectors
 * (the chart's also hold app.kubernetes.io/instance, so two releases never select each other's pods).
 * Everything else must be what kustomize renders.
 */
function withoutLabels(value: unknown, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => withoutLabels(item, parentKey));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'labels' || k === 'matchLabels') continue;
    if (k === 'selector' && parentKey === 'spec' && v !== null && typeof v === 'object' && !('matchLabels' in v))
      continue; // a Service's selector
    out[k] = withoutLabels(v, k);
  }
  return out;
}

/** Pairs each kustomize object with the chart's of the same kind, namespace and name; the Namespace aside. */
function expectSameObjects(fromChart: K8sObject[], fromKustomize: K8sObject[]): void {
  const wanted = fromKustomize.filter((o) => o.kind !== 'Namespace');
  expect(fromChart.map(key).sort()).to.deep.equal(wanted.map(key).sort());
  for (const object of wanted) {
    const rendered = fromChart.find((o) => key(o) === key(object));
    expect(withoutLabels(rendered), key(object)).to.deep.equal(withoutLabels(object));
  }
}

/** The selector labels of deploy/ (name and component) are in every selector of the chart. */
function expectSelectorsCover(fromChart: K8sObject[]): void {
  const selectorOf = {
    Deployment: (o: K8sObject) => o.spec.selector.matchLabels,
    Service: (o: K8sObject) => o.spec.selector,
    PodDisruptionBudget: (o: K8sObject) => o.spec.selector.matchLabels,
    NetworkPolicy: (o: K8sObject) => o.spec.podSelector.matchLabels,
  } as const;
  const deployment = fromChart.find((o) => o.kind === 'Deployment');
  const podLabels = deployment?.spec.template.metadata.labels as Record<string, string>;
  for (const [kind, selector] of Object.entries(selectorOf)) {
    for (const object of fromChart.filter((o) => o.kind === kind)) {
      const labels = selector(object) as Record<string, string>;
      expect(labels, key(object)).to.include({
        'app.kubernetes.io/name': 'cph-route-operator',
        'app.kubernetes.io/component': 'operator',
        'app.kubernetes.io/instance': RELEASE,
      });
      expect(podLabels, `${key(object)} selects the operator's pods`).to.include(labels);
    }
  }
}

describe('deploy/helm/cph-route-operator (Helm chart)', () => {
  let helmPath = '';
  const helm = (args: string[], env: Record<string, string> = {}): CommandResult => run(helmPath, args, env);
  const mustHelm = (args: string[], env: Record<string, string> = {}): string => must(helmPath, args, env);
  const template = (args: string[] = []): K8sObject[] =>
    documents(mustHelm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args]));
  const kustomize = (dir: string): K8sObject[] => documents(must('kubectl', ['kustomize', dir]));

  before(async function () {
    this.timeout(HELM_BUILD_TIMEOUT_MS);
    helmPath = await ensureHelm();
  });

  describe('lint and template (no cluster)', () => {
    it('helm lint --strict passes with the defaults and with every values file in ci/', () => {
      const valuesFiles = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('-values.yaml'));
      expect(valuesFiles).to.include.members([
        'default-values.yaml',
        'single-namespace-values.yaml',
        'full-values.yaml',
        'templated-crds-values.yaml',
        'simulator-values.yaml',
      ]);
      for (const file of [undefined, ...valuesFiles]) {
        const result = helm(['lint', '--strict', CHART, ...(file ? ['-f', join(CHART, 'ci', file)] : [])]);
        expect(result.status, `helm lint --strict ${file ?? '(defaults)'}:\n${result.stdout}${result.stderr}`).to.equal(
          0,
        );
        expect(result.stdout).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      }
    });

    it('a misspelt key or a wrong value is an error (values.schema.json), not a silently ignored setting', () => {
      for (const [set, complaint] of [
        ['replicaCont=3', /additional properties 'replicaCont' not allowed/i],
        ['defaultAccount.projectID=abc', /additional properties 'projectID' not allowed/i],
        ['logLevel=verbose', /logLevel/],
        ['image.digest=latest', /image\.digest|digest/],
        ['driftInterval=5 minutes', /driftInterval/],
        ['watchNamespaces[0]=Phones', /watchNamespaces/],
      ] as const) {
        const result = helm(['template', RELEASE, CHART, '--set', set]);
        expect(result.status, `--set ${set} must fail`).to.not.equal(0);
        expect(result.stderr, `--set ${set}`).to.match(/values don't meet the specifications of the schema/);
        expect(result.stderr, `--set ${set}`).to.match(complaint);
      }
    });

    it("the chart's crds/ are the files of crds/, byte for byte (one source of truth, copied for Helm)", () => {
      const source = readdirSync(join(root, 'crds')).filter((f) => f.endsWith('.yaml'));
      expect(readdirSync(join(CHART, 'crds')).sort()).to.deep.equal(source.sort());
      for (const file of source) {
        expect(readFileSync(join(CHART, 'crds', file), 'utf8'), `${file}: cp crds/*.yaml ${CHART}/crds/`).to.equal(
          readFileSync(join(root, 'crds', file), 'utf8'),
        );
      }
    });

    it('renders the objects of deploy/: kinds, names, RBAC rules and bindings, hardening, probes, args, the account', () => {
      const chart = template(['--include-crds']);
      expectSameObjects(chart, kustomize('deploy'));
      expectSelectorsCover(chart);
      // Helm's recommended labels on every object, deploy/'s name label kept.
      for (const object of chart.filter((o) => o.kind !== 'CustomResourceDefinition')) {
        expect(object.metadata.labels, key(object)).to.include({
          'app.kubernetes.io/name': 'cph-route-operator',
          'app.kubernetes.io/instance': RELEASE,
          'app.kubernetes.io/managed-by': 'Helm',
        });
      }
    });

    it('watchNamespaces=[phones]: the objects of deploy/overlays/single-namespace, RBAC and --namespaces', () => {
      const chart = template(['--include-crds', '-f', join(CHART, 'ci/single-namespace-values.yaml')]);
      expectSameObjects(chart, kustomize('deploy/overlays/single-namespace'));
      expect(chart.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name)).to.deep.equal([
        'cph-route-operator-cluster-accounts',
      ]);
    });

    it('every flag a value sets reaches the operator as it parses it (ci/full-values.yaml), the image pinned', () => {
      const chart = template(['-f', join(CHART, 'ci/full-values.yaml')]);
      const deployment = find(chart, 'Deployment', RELEASE);
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0];
      expect(deployment.spec.replicas).to.equal(3);
      expect(container.image).to.equal(
        'registry.example.com/platform/cph-route-operator:0.1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      );
      expect(container.resources).to.deep.equal({
        requests: { cpu: '100m', memory: '192Mi' },
        limits: { cpu: '1', memory: '384Mi' },
      });
      expect(container.env).to.deep.include({
        name: 'NODE_OPTIONS',
        value: '--max-semi-space-size=2 --max-old-space-size=120',
      });
      expect(pod.serviceAccountName).to.equal('cph-operator');
      expect(pod.imagePullSecrets).to.deep.equal([{ name: 'regcred' }]);
      expect(pod.nodeSelector).to.deep.equal({ 'kubernetes.io/os': 'linux' });
      const args = (container.args as string[]).map((a) => a.replace('$(POD_NAMESPACE)', NAMESPACE));
      const config = parseOperatorArgs(args, { POD_NAMESPACE: NAMESPACE });
      expect(config).to.deep.include({
        namespaces: ['phones-prod', 'phones-staging'],
        defaultAccount: 'platform',
        clusterResourceNamespace: NAMESPACE,
        driftIntervalMs: 600_000,
        cphQps: 10,
        maxConcurrentReconciles: 8,
        cphTimeoutMs: 20_000,
        logLevel: 'debug',
        logFormat: 'text',
        leaderElect: true,
        leaderElectionNamespace: NAMESPACE,
      });
      expect(config.allowedEndpointHosts.map((h) => JSON.stringify(h))).to.have.length(2);
      expect(args).to.include('--allowed-endpoint-hosts=*.myhuaweicloud.com,cph-proxy.platform.example.com');
      expect(find(chart, 'ClusterCloudPhoneAccount', 'platform').spec).to.deep.equal({
        region: 'cn-east-3',
        projectId: '0123456789abcdef0123456789abcdef',
        credentials: { secretRef: { name: 'platform-cph', accessKeyKey: 'ak', secretKeyKey: 'sk' } },
        phoneScope: { phoneNamePrefixes: ['pool-'] },
        namespaces: ['phones-prod'],
        namespaceSelector: { matchLabels: { 'cloudphone.dev/default-account': 'allowed' } },
      });
      for (const kind of ['PodDisruptionBudget', 'NetworkPolicy', 'Service'])
        expect(
          chart.some((o) => o.kind === kind),
          `${kind} turned off`,
        ).to.equal(false);
      // The defaults leave every optional flag to the operator's own defaults, as deploy/ does.
      const defaults = parseOperatorArgs(
        (find(template(), 'Deployment', RELEASE).spec.template.spec.containers[0].args as string[]).map((a) =>
          a.replace('$(POD_NAMESPACE)', NAMESPACE),
        ),
        { POD_NAMESPACE: NAMESPACE },
      );
      expect(defaults).to.deep.include({
        namespaces: [],
        driftIntervalMs: 300_000,
        cphQps: 20,
        defaultAccount: 'default',
      });
    });

    it('crds.templated: the CRDs of crds/ as templates, kept on uninstall (helm.sh/resource-policy: keep)', () => {
      const fromFiles = kustomize('crds');
      const templated = template(['-f', join(CHART, 'ci/templated-crds-values.yaml')]).filter(
        (o) => o.kind === 'CustomResourceDefinition',
      );
      expect(templated.map((o) => o.metadata.name).sort()).to.deep.equal(fromFiles.map((o) => o.metadata.name).sort());
      for (const crd of templated) {
        expect(crd.metadata.annotations).to.include({ 'helm.sh/resource-policy': 'keep' });
        const file = find(fromFiles, 'CustomResourceDefinition', crd.metadata.name);
        expect(crd.spec, crd.metadata.name).to.deep.equal(file.spec);
      }
      const notKept = template(['--set', 'crds.templated=true', '--set', 'crds.keep=false']).filter(
        (o) => o.kind === 'CustomResourceDefinition',
      );
      expect(notKept).to.have.length(3);
      for (const crd of notKept) expect(crd.metadata.annotations ?? {}).to.not.have.property('helm.sh/resource-policy');
      expect(
        template().some((o) => o.kind === 'CustomResourceDefinition'),
        'not templated by default',
      ).to.equal(false);
      // The default account only once the cluster serves its kind: Helm cannot create it with its CRD.
      expect(template(['--set', 'crds.templated=true']).some((o) => o.kind === 'ClusterCloudPhoneAccount')).to.equal(
        false,
      );
      const served = template([
        '--set',
        'crds.templated=true',
        '--api-versions',
        'cloudphone.dev/v1alpha1/ClusterCloudPhoneAccount',
      ]);
      expect(find(served, 'ClusterCloudPhoneAccount', 'default').spec).to.deep.equal(
        find(template(), 'ClusterCloudPhoneAccount', 'default').spec,
      );
    });

    it('the Argo CD Application for the chart points at it, with values the chart accepts', () => {
      const app = parseYaml(readFileSync(join(root, 'deploy/argocd/application-helm.yaml'), 'utf8')) as K8sObject;
      expect(join(root, app.spec.source.path)).to.equal(CHART);
      expect(app.spec.source.helm.releaseName).to.equal(RELEASE);
      const values = join(tmpdir(), `argocd-values-${process.pid}.json`);
      writeFileSync(values, JSON.stringify(app.spec.source.helm.valuesObject));
      try {
        const container = find(template(['-f', values]), 'Deployment', RELEASE).spec.template.spec.containers[0];
        expect(container.image).to.equal('registry.example.com/platform/cph-route-operator:0.1.0');
      } finally {
        rmSync(values, { force: true });
      }
      expect(app.spec.syncPolicy.syncOptions).to.include('SkipDryRunOnMissingResource=true');
    });
  });

  describe('on a real API server (no kubelet: objects, not pods)', () => {
    let cp: ControlPlane;
    let scratch = '';
    let simulator: RunningSimulator;
    const credentials = { ak: 'AKCHARTTEST000000001', sk: 'chart-test-secret-key-0001' };
    const kubectl = (args: string[]): string => must('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args]);
    const helmIn = (args: string[]): string => mustHelm([...args, '--kubeconfig', cp.kubeconfigPath]);
    const crdNames = () =>
      kubectl(['get', 'crd', '-o', 'jsonpath={.items[*].metadata.name}']).split(' ').filter(Boolean).sort();

    before(async function () {
      this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
      // A control plane of this file's own: the CRDs' install and uninstall are what is tested here, and a
      // shared API server already holds them (and other tests' routes).
      cp = await startControlPlane();
      scratch = mkdtempSync(join(tmpdir(), 'helm-chart-test-'));
      simulator = await startSimulator({
        projectId: 'chartsimproject00000000000000001',
        credentials: [credentials],
        phones: 8,
        jobMs: 200,
      });
    });

    after(async function () {
      this.timeout(60_000);
      await simulator?.close();
      await cp?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('crds.templated: install --skip-crds creates the CRDs in the release, the next upgrade the account; uninstall keeps the CRDs', function () {
      this.timeout(300_000);
      expect(crdNames(), 'a fresh cluster').to.deep.equal([]);
      const notes = helmIn([
        'install',
        'templated',
        CHART,
        '--namespace',
        'templated-crds',
        '--create-namespace',
        '--skip-crds',
        '--wait=false',
        '-f',
        join(CHART, 'ci/templated-crds-values.yaml'),
        '--set',
        'defaultAccount.name=templated',
      ]);
      // NOTES.txt: the next step, and the placeholder project of the defaults.
      expect(notes).to.include('kubectl -n templated-crds create secret generic cph-credentials');
      expect(notes).to.include('--from-literal=HUAWEICLOUD_SDK_AK=<AK>');
      expect(notes).to.include('defaultAccount.projectId is still the placeholder');
      expect(notes).to.include(
        'The CRDs are part of this release (crds.templated) and are kept when it is uninstalled',
      );
      expect(crdNames()).to.deep.equal([
        'cloudphoneaccounts.cloudphone.dev',
        'cloudphoneroutes.cloudphone.dev',
        'clustercloudphoneaccounts.cloudphone.dev',
      ]);
      const crd = JSON.parse(kubectl(['get', 'crd', 'cloudphoneroutes.cloudphone.dev', '-o', 'json'])) as K8sObject;
      expect(crd.metadata.annotations).to.include({
        'meta.helm.sh/release-name': 'templated',
        'helm.sh/resource-policy': 'keep',
      });
      // The account could not be created with its CRD; NOTES.txt said so, and the next upgrade creates it.
      expect(notes).to.include('The default account "templated" is not created yet');
      expect(
        run('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'get', 'clustercloudphoneaccount', 'templated']).status,
      ).to.not.equal(0);
      const upgradeNotes = helmIn(['upgrade', 'templated', CHART, '--namespace', 'templated-crds', '--reuse-values']);
      expect(upgradeNotes).to.not.include('is not created yet');
      kubectl(['get', 'clustercloudphoneaccount', 'templated']);
      helmIn(['uninstall', 'templated', '--namespace', 'templated-crds', '--wait']);
      expect(crdNames(), 'kept after uninstall').to.have.length(3);
      expect(
        run('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'get', 'clustercloudphoneaccount', 'templated']).status,
        'the release account goes with the release',
      ).to.not.equal(0);
      expect(
        run('kubectl', ['--kubeconfig', cp.kubeconfigPath, '-n', 'templated-crds', 'get', 'deployment']).stdout,
      ).to.not.match(/templated/);
    });

    it('install, the operator as the chart ServiceAccount reconciles a route, upgrade, rollback, uninstall', async function () {
      this.timeout(600_000);
      const values = join(scratch, 'simulator-values.yaml');
      const simValues = parseYaml(readFileSync(join(CHART, 'ci/simulator-values.yaml'), 'utf8')) as {
        defaultAccount: Record<string, unknown>;
      };
      simValues.defaultAccount.endpoint = simulator.url;
      simValues.defaultAccount.projectId = simulator.projectId;
      writeFileSync(values, JSON.stringify(simValues));

      const notes = helmIn(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--create-namespace', '-f', values]);
      expect(notes).to.include(`kubectl -n ${NAMESPACE} create secret generic cph-credentials`);
      expect(notes, 'a real project ID: no placeholder warning').to.not.include('placeholder');
      const release = () =>
        JSON.parse(helmIn(['list', '--namespace', NAMESPACE, '-o', 'json'])) as {
          name: string;
          revision: string;
          status: string;
        }[];
      expect(release()[0]).to.include({ name: RELEASE, revision: '1', status: 'deployed' });
      // Every object of the render exists on the API server.
      const rendered = documents(
        mustHelm(['get', 'manifest', RELEASE, '--namespace', NAMESPACE, '--kubeconfig', cp.kubeconfigPath]),
      );
      for (const object of rendered) {
        kubectl([
          'get',
          `${object.kind}.${object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''),
          object.metadata.name,
          ...(object.metadata.namespace ? ['-n', object.metadata.namespace] : []),
        ]);
      }

      // The default account's Secret, as NOTES.txt tells the user to create it.
      kubectl([
        '-n',
        NAMESPACE,
        'create',
        'secret',
        'generic',
        'cph-credentials',
        `--from-literal=HUAWEICLOUD_SDK_AK=${credentials.ak}`,
        `--from-literal=HUAWEICLOUD_SDK_SK=${credentials.sk}`,
      ]);

      // The chart's ServiceAccount, with a token a pod would get, may do what the operator does and no more.
      const kubeconfig = await cp.writeKubeconfigForToken(
        await cp.mintToken(NAMESPACE, RELEASE, 3600),
        join(scratch, 'chart-sa.kubeconfig'),
      );
      const can = (args: string[]): boolean =>
        run('kubectl', ['--kubeconfig', kubeconfig, 'auth', 'can-i', ...args]).stdout.trim() === 'yes';
      for (const allowed of [
        ['watch', 'cloudphoneroutes.cloudphone.dev', '--all-namespaces'],
        ['patch', 'cloudphoneroutes.cloudphone.dev/status', '-n', 'default'],
        ['list', 'clustercloudphoneaccounts.cloudphone.dev'],
        ['get', 'secrets', '-n', NAMESPACE],
        ['update', 'leases.coordination.k8s.io', '-n', NAMESPACE],
        ['create', 'events.events.k8s.io', '-n', 'default'],
      ])
        expect(can(allowed), `can ${allowed.join(' ')}`).to.equal(true);
      for (const refused of [
        ['create', 'cloudphoneroutes.cloudphone.dev', '-n', 'default'],
        ['delete', 'cloudphoneroutes.cloudphone.dev', '-n', 'default'],
        ['update', 'clustercloudphoneaccounts.cloudphone.dev'],
        ['list', 'secrets', '-n', NAMESPACE],
        ['watch', 'secrets', '--all-namespaces'],
        ['get', 'configmaps', '-n', NAMESPACE],
        ['update', 'leases.coordination.k8s.io', '-n', 'default'],
        ['create', 'events', '-n', 'default'],
        ['get', 'pods', '-n', NAMESPACE],
      ])
        expect(can(refused), `cannot ${refused.join(' ')}`).to.equal(false);

      const sim = new SimAdmin(simulator.url);
      let operator: OperatorProcess | undefined;
      const routeNamespace = 'phones';
      kubectl(['create', 'namespace', routeNamespace]);
      try {
        // The live Deployment's arguments, $(POD_NAMESPACE) expanded as the kubelet does; the harness picks
        // the listening addresses and the log settings.
        const deployment = JSON.parse(
          kubectl(['-n', NAMESPACE, 'get', 'deployment', RELEASE, '-o', 'json']),
        ) as K8sObject;
        const harness = ['--metrics-bind-address', '--health-probe-bind-address', '--log-level', '--log-format'];
        const args = (deployment.spec.template.spec.containers[0].args as string[])
          .filter((arg) => !harness.includes(arg.split('=')[0] ?? ''))
          .map((arg) => arg.replace('$(POD_NAMESPACE)', NAMESPACE));
        expect(args).to.include.members(['--default-account=default', '--allowed-endpoint-hosts=127.0.0.1']);
        operator = await startOperator({
          name: 'operator-helm-chart',
          kubeconfigPath: kubeconfig,
          cphEndpoint: simulator.url,
          projectId: simulator.projectId,
          defaultAccount: false, // the chart's, named in args
          env: { POD_NAMESPACE: NAMESPACE, POD_NAME: 'cph-route-operator-helm-test' },
          extraArgs: args,
        });
        const phones = (await sim.phones()).slice(0, 3).map((p) => p.phone_id);
        const routes = new Routes(cp.kubeConfig());
        await routes.create(routeNamespace, 'via-chart', { trafficType: 'routing', phoneIds: phones });
        await routes.waitForCondition(routeNamespace, 'via-chart', 'Ready', 'True', undefined, 120_000);
        for (const id of phones) expect((await sim.phone(id)).traffic_type, id).to.equal('routing');
        const accountReady = () =>
          kubectl([
            'get',
            'clustercloudphoneaccount',
            'default',
            '-o',
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
          ]);
        await waitFor(() => (accountReady() === 'True' ? true : undefined), {
          timeoutMs: 60_000,
          what: 'the default account Ready',
        });
        const refused = operator.logs().filter((line) => /forbidden|\b403\b/i.test(line) && !/CPH|cph\./.test(line));
        expect(refused, 'log lines about refused Kubernetes calls').to.deep.equal([]);

        // helm upgrade with changed values: the Deployment follows; the account keeps its status.
        helmIn([
          'upgrade',
          RELEASE,
          CHART,
          '--namespace',
          NAMESPACE,
          '--reuse-values',
          '--set',
          'replicaCount=3',
          '--set',
          'driftInterval=1m',
          '--set',
          'logLevel=info',
        ]);
        const live = () =>
          JSON.parse(kubectl(['-n', NAMESPACE, 'get', 'deployment', RELEASE, '-o', 'json'])) as K8sObject;
        expect(live().spec.replicas).to.equal(3);
        expect(live().spec.template.spec.containers[0].args).to.include.members([
          '--drift-interval=1m',
          '--log-level=info',
        ]);
        expect(accountReady(), 'the account status survives helm upgrade').to.equal('True');
        expect(kubectl(['get', 'clustercloudphoneaccount', 'default', '-o', 'jsonpath={.spec.endpoint}'])).to.equal(
          simulator.url,
        );

        // helm rollback to the first revision: the values of the install again.
        helmIn(['rollback', RELEASE, '1', '--namespace', NAMESPACE]);
        expect(release()[0]).to.include({ revision: '3', status: 'deployed' });
        expect(live().spec.replicas).to.equal(2);
        const rolledBack = live().spec.template.spec.containers[0].args as string[];
        expect(rolledBack).to.include('--log-level=debug');
        expect(rolledBack.some((a) => a.startsWith('--drift-interval'))).to.equal(false);
        expect(accountReady(), 'the account status survives helm rollback').to.equal('True');
        const route = await routes.get(routeNamespace, 'via-chart');
        expect(route?.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
      } catch (error) {
        console.error(
          `--- operator log (last 60 lines):\n${operator?.logs().slice(-60).join('\n') ?? '(not started)'}`,
        );
        throw error;
      } finally {
        await operator?.stop();
        sim.close();
      }

      // helm uninstall: the release's objects go, the CRDs (crds/ is never deleted by Helm) and the routes stay.
      helmIn(['uninstall', RELEASE, '--namespace', NAMESPACE, '--wait']);
      expect(
        run('kubectl', ['--kubeconfig', cp.kubeconfigPath, '-n', NAMESPACE, 'get', 'deployment', RELEASE]).status,
      ).to.not.equal(0);
      expect(run('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'get', 'clusterrole', RELEASE]).status).to.not.equal(0);
      expect(crdNames()).to.have.length(3);
      kubectl(['-n', routeNamespace, 'get', 'cloudphoneroute', 'via-chart']);
    });
  });
});
