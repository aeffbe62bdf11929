/**
 * The container image as a cluster runs it: `npm run image:build` builds it with podman (./cli.ts), and this
 * file runs it the way deploy/'s Deployment says, read from the rendered manifest rather than restated here:
 * its args (with $(VAR) expanded as the kubelet does), its env (NODE_OPTIONS, the downward-API names, the
 * credentials Secret's keys), its user and group, a read-only root filesystem with only the declared emptyDir
 * writable, no capabilities, no privilege escalation, its resource limits, and in-cluster configuration from a
 * mounted ServiceAccount token, against the local control plane (deploy/ applied to it for real, so deploy/'s
 * RBAC is what the operator gets) and the CPH simulator over HTTPS. Only the host network (`--network=host`,
 * no pod network here) changes one thing: the metrics and health ports are free ports instead of 8080/8081.
 *
 * It checks that a CloudPhoneRoute reaches Ready, that the probes and /metrics answer, that nothing tried to
 * write to the root filesystem, that SIGTERM stops the operator within terminationGracePeriodSeconds with exit
 * code 0 and the leader Lease released, and that the image holds only what runs.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, loadAllYaml, type V1Container, type V1Deployment } from '@kubernetes/client-node';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  sharedControlPlane,
  uniqueName,
  type ControlPlane,
} from '../support/control-plane.js';
import { freePort, superviseOperator, type OperatorProcess } from '../support/operator-process.js';
import { Routes, freshNamespace } from '../support/routes.js';
import { SimAdmin } from '../support/sim-admin.js';
import { waitFor } from '../support/wait.js';
import { OPERATOR_IMAGE, REPO_ROOT, imageExists, podman, podmanEnv } from './podman.js';

const projectId = 'imageproject';
/** What the Secret `cph-credentials` holds, as README's install steps create it. */
const credentials: Record<string, string> = {
  HUAWEICLOUD_SDK_AK: 'IMAGETESTACCESSKEY01',
  HUAWEICLOUD_SDK_SK: 'image-test-secret-key-0123456789',
};
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const CPH_CA_PATH = '/etc/cph-ca/ca.crt';

function kubectl(args: string[]): string {
  const result = spawnSync('kubectl', args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  if (result.error || result.status !== 0)
    throw new Error(`kubectl ${args.join(' ')}: ${result.error?.message ?? result.stderr}`);
  return result.stdout;
}

interface RenderedDeploy {
  namespace: string;
  deployment: V1Deployment;
  container: V1Container;
}

/** deploy/ as `kubectl apply -k deploy/` sends it: the operator Deployment, its container and its namespace. */
function renderDeploy(): RenderedDeploy {
  const objects = loadAllYaml(kubectl(['kustomize', 'deploy'])) as { kind?: string; metadata?: { name?: string } }[];
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'cph-route-operator') as
    | V1Deployment
    | undefined;
  const container = deployment?.spec?.template.spec?.containers.find((c) => c.name === 'operator');
  const namespace = deployment?.metadata?.namespace;
  if (!deployment || !container || !namespace)
    throw new Error('deploy/ renders no Deployment cph-route-operator with an "operator" container');
  return { namespace, deployment, container };
}

/** A Kubernetes quantity of memory (Mi, Gi) in the unit podman takes (m = MiB). */
function podmanMemory(quantity: string): string {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`memory quantity ${quantity}: only Mi and Gi are translated`);
  return `${Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1)}m`;
}

function podmanCpus(quantity: string): string {
  const milli = /^(\d+)m$/.exec(quantity);
  return milli ? String(Number(milli[1]) / 1000) : quantity;
}

interface PodContext {
  podName: string;
  podNamespace: string;
  /** host path of each volume the pod gets beside deploy/'s own (the token, the simulator's CA). */
  extraMounts: { hostPath: string; containerPath: string }[];
  /** host-network ports standing in for the container ports named metrics and health. */
  ports: { metrics: number; health: number };
  /** The overlay's args: which host CPH is at (the simulator's) and which CA it is signed by. */
  overlayArgs: string[];
  extraEnv: Record<string, string>;
}

/**
 * `podman run` arguments that run the image as deploy/'s Deployment runs it. Whatever in the manifest this
 * function does not know how to translate makes it throw, so that a change to deploy/ cannot be left untested.
 */
function podmanRunArgs({ deployment, container }: RenderedDeploy, pod: PodContext): string[] {
  const podSpec = deployment.spec!.template.spec!;
  const security = { ...podSpec.securityContext, ...container.securityContext };
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (from?.fieldRef?.fieldPath === 'metadata.namespace') env[variable.name] = pod.podNamespace;
    else if (from?.fieldRef?.fieldPath === 'metadata.name') env[variable.name] = pod.podName;
    else if (from?.secretKeyRef?.name === 'cph-credentials' && credentials[from.secretKeyRef.key] !== undefined)
      env[variable.name] = credentials[from.secretKeyRef.key]!;
    else throw new Error(`env ${variable.name}: no translation for ${JSON.stringify(from)}`);
  }
  Object.assign(env, pod.extraEnv);
  const portOf = (name: string): number => {
    const port = container.ports?.find((p) => p.name === name)?.containerPort;
    if (port === undefined) throw new Error(`no container port named ${name}`);
    return port;
  };
  const hostPorts = new Map([
    [portOf('metrics'), pod.ports.metrics],
    [portOf('health'), pod.ports.health],
  ]);
  const args = [...(container.args ?? []), ...pod.overlayArgs].map((arg) => {
    // The kubelet's $(VAR) expansion, then the container ports moved to the free host ports.
    const expanded = arg.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
    return expanded.replace(
      /^(--(?:metrics|health-probe)-bind-address=[^:]*:)(\d+)$/,
      (whole, prefix: string, port: string) => {
        const hostPort = hostPorts.get(Number(port));
        return hostPort === undefined ? whole : `${prefix}${hostPort}`;
      },
    );
  });
  const run = ['run', '--rm', '--pull=never', '--network=host', '--name', pod.podName, '--hostname', pod.podName];
  if (security.runAsUser === undefined) throw new Error('deploy/ sets no runAsUser');
  run.push('--user', `${security.runAsUser}:${security.runAsGroup ?? security.runAsUser}`);
  if (security.readOnlyRootFilesystem) run.push('--read-only', '--read-only-tmpfs=false');
  if (security.allowPrivilegeEscalation === false) run.push('--security-opt', 'no-new-privileges');
  for (const cap of security.capabilities?.drop ?? []) run.push('--cap-drop', cap);
  if (security.capabilities?.add?.length) throw new Error('deploy/ adds capabilities: not translated');
  if (security.seccompProfile && security.seccompProfile.type !== 'RuntimeDefault')
    throw new Error("only the RuntimeDefault seccomp profile (podman's default) is translated");
  const limits = container.resources?.limits ?? {};
  if (limits.memory) run.push('--memory', podmanMemory(limits.memory));
  if (limits.cpu) run.push('--cpus', podmanCpus(limits.cpu));
  for (const mount of container.volumeMounts ?? []) {
    const volume = podSpec.volumes?.find((v) => v.name === mount.name);
    if (!volume?.emptyDir) throw new Error(`volume ${mount.name}: only emptyDir is translated`);
    const size = volume.emptyDir.sizeLimit ? `,size=${podmanMemory(String(volume.emptyDir.sizeLimit))}` : '';
    run.push('--tmpfs', `${mount.mountPath}:rw,mode=1777${size}`);
  }
  for (const mount of pod.extraMounts) run.push('--volume', `${mount.hostPath}:${mount.containerPath}:ro`);
  for (const [name, value] of Object.entries(env)) run.push('--env', `${name}=${value}`);
  run.push('--stop-timeout', String(podSpec.terminationGracePeriodSeconds ?? 30));
  return [...run, OPERATOR_IMAGE, ...args];
}

/** Every path in a directory tree, relative to it, with its lstat. */
function walk(root: string, dir = ''): { path: string; mode: number; uid: number; isDirectory: boolean }[] {
  const out: { path: string; mode: number; uid: number; isDirectory: boolean }[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = dir ? `${dir}/${name}` : name;
    const stat = lstatSync(join(root, path));
    out.push({ path, mode: stat.mode, uid: stat.uid, isDirectory: stat.isDirectory() });
    if (stat.isDirectory()) out.push(...walk(root, path));
  }
  return out;
}

describe('the container image (podman, as deploy/ runs it)', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);

  before(async () => {
    if (!(await imageExists(OPERATOR_IMAGE)))
      throw new Error(`${OPERATOR_IMAGE} is missing: run npm run image:build first`);
  });

  describe('contents', () => {
    let files: { path: string; mode: number; uid: number; isDirectory: boolean }[] = [];

    before(async () => {
      const mountPoint = (await podman(['image', 'mount', OPERATOR_IMAGE])).stdout.trim();
      try {
        files = walk(mountPoint);
      } finally {
        await podman(['image', 'unmount', OPERATOR_IMAGE]);
      }
    });

    it('holds node, its shared libraries and the operator only: no shell, no npm, no package manager, no simulator', () => {
      const top = files
        .filter((f) => !f.path.includes('/'))
        .map((f) => f.path)
        .sort();
      expect(top).to.deep.equal(['app', 'etc', 'lib', 'lib64', 'tmp', 'usr']);
      const paths = new Set(files.map((f) => f.path));
      expect(paths.has('usr/local/bin/node')).to.equal(true);
      expect(files.filter((f) => f.path.startsWith('usr/') && !f.isDirectory).map((f) => f.path)).to.deep.equal([
        'usr/local/bin/node',
      ]);
      for (const absent of [
        'bin',
        'sbin',
        'usr/bin',
        'usr/local/lib/node_modules',
        'app/dist/simulator',
        'app/src',
        'app/test',
      ]) {
        expect(paths.has(absent), absent).to.equal(false);
      }
      expect(
        files.filter((f) => /(^|\/)(npm|npx|sh|bash|dash|apt|dpkg)$/.test(f.path) && !f.isDirectory).map((f) => f.path),
      ).to.deep.equal([]);
      expect(files.filter((f) => f.path.startsWith('app/dist/') && f.path.endsWith('.map'))).to.deep.equal([]);
      expect(paths.has('app/dist/main.js') && paths.has('app/package.json')).to.equal(true);
    });

    it("holds exactly package-lock.json's production dependencies: no dev dependency, no node-forge", () => {
      const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean; optional?: boolean }>;
      };
      const locked = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
      const production = new Set(locked.filter(([, entry]) => !entry.dev).map(([path]) => path));
      const inImage = new Set(
        files.map((f) => f.path.replace(/^app\//, '')).filter((path) => lock.packages[path] !== undefined),
      );
      expect(
        [...inImage].filter((path) => !production.has(path)),
        'dev dependencies in the image',
      ).to.deep.equal([]);
      const required = locked
        .filter(([path, entry]) => !entry.dev && !entry.optional && !inImage.has(path))
        .map(([path]) => path);
      expect(required, 'production dependencies missing').to.deep.equal([]);
      const topLevel = files
        .filter((f) => /^app\/node_modules\/(@[^/]+\/)?[^@./][^/]*$/.test(f.path))
        .map((f) => f.path.replace(/^app\//, ''));
      expect(
        topLevel.filter((path) => !production.has(path)),
        'packages package-lock.json does not name',
      ).to.deep.equal([]);
      expect(files.some((f) => f.path === 'app/node_modules/node-forge')).to.equal(false);
    });

    it('is owned by root and writable by nobody else, but for /tmp', () => {
      const writable = files
        .filter((f) => (f.mode & 0o002) !== 0 && (f.mode & 0o170000) !== 0o120000)
        .map((f) => f.path);
      expect(writable).to.deep.equal(['tmp']);
      expect(files.filter((f) => f.uid !== 0).map((f) => f.path)).to.deep.equal([]);
    });
  });

  describe('running as deploy/ runs it', () => {
    let cp: ControlPlane;
    let sim: RunningSimulator;
    let admin: SimAdmin;
    let rendered: RenderedDeploy;
    let operator: OperatorProcess | undefined;
    let podName = '';
    let runArgs: string[] = [];
    let scratch = '';
    const removeContainer = (): void => {
      if (podName)
        spawnSync('podman', ['rm', '--force', '--time', '0', podName], { env: podmanEnv(), stdio: 'ignore' });
    };

    before(async () => {
      rendered = renderDeploy();
      cp = await sharedControlPlane();
      // As README's install: the CRDs first (the default account's kind must be served), then deploy/.
      kubectl(['--kubeconfig', cp.kubeconfigPath, 'apply', '-f', 'crds/']);
      kubectl([
        '--kubeconfig',
        cp.kubeconfigPath,
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        'crd/cloudphoneroutes.cloudphone.dev',
        'crd/clustercloudphoneaccounts.cloudphone.dev',
        'crd/cloudphoneaccounts.cloudphone.dev',
      ]);
      kubectl(['--kubeconfig', cp.kubeconfigPath, 'apply', '-k', 'deploy/']);
      // What the kubelet projects into the pod: the ServiceAccount's token, the cluster CA and the namespace;
      // readable by the container's user, as the kubelet makes them.
      scratch = mkdtempSync(join(tmpdir(), 'image-test-'));
      chmodSync(scratch, 0o755);
      const serviceAccountDir = join(scratch, 'serviceaccount');
      mkdirSync(serviceAccountDir, { mode: 0o755 });
      const serviceAccount = rendered.deployment.spec!.template.spec!.serviceAccountName!;
      writeFileSync(join(serviceAccountDir, 'token'), await cp.mintToken(rendered.namespace, serviceAccount, 3600), {
        mode: 0o644,
      });
      copyFileSync(cp.caFile, join(serviceAccountDir, 'ca.crt'));
      chmodSync(join(serviceAccountDir, 'ca.crt'), 0o644);
      writeFileSync(join(serviceAccountDir, 'namespace'), rendered.namespace, { mode: 0o644 });
      const caFile = join(scratch, 'cph-ca.crt');
      sim = await startSimulator({
        tls: true,
        caOut: caFile,
        phones: 50,
        seed: 19,
        projectId,
        ak: credentials.HUAWEICLOUD_SDK_AK!,
        sk: credentials.HUAWEICLOUD_SDK_SK!,
        jobMs: 600,
      });
      admin = new SimAdmin(sim.url, sim.caPem);
      // The Secret README's install creates, and the default account pointed at the simulator as an overlay
      // would point it at a region and project.
      kubectl([
        '--kubeconfig',
        cp.kubeconfigPath,
        '-n',
        rendered.namespace,
        'create',
        'secret',
        'generic',
        'cph-credentials',
        ...Object.entries(credentials).map(([key, value]) => `--from-literal=${key}=${value}`),
      ]);
      kubectl([
        '--kubeconfig',
        cp.kubeconfigPath,
        'patch',
        'clustercloudphoneaccount',
        'default',
        '--type=json',
        '-p',
        JSON.stringify([
          { op: 'remove', path: '/spec/region' },
          { op: 'add', path: '/spec/endpoint', value: sim.url },
          { op: 'replace', path: '/spec/projectId', value: projectId },
        ]),
      ]);

      podName = uniqueName('cph-route-operator');
      process.once('exit', removeContainer);
      const ports = { metrics: await freePort(), health: await freePort() };
      const apiServer = new URL(cp.server);
      runArgs = podmanRunArgs(rendered, {
        podName,
        podNamespace: rendered.namespace,
        ports,
        extraMounts: [
          { hostPath: serviceAccountDir, containerPath: SERVICE_ACCOUNT_DIR },
          { hostPath: caFile, containerPath: CPH_CA_PATH },
        ],
        overlayArgs: ['--allowed-endpoint-hosts=127.0.0.1', `--cph-ca-file=${CPH_CA_PATH}`],
        // In-cluster configuration: the kubelet sets these for the kubernetes Service.
        extraEnv: { KUBERNETES_SERVICE_HOST: apiServer.hostname, KUBERNETES_SERVICE_PORT: apiServer.port },
      });
      const child = spawn('podman', runArgs, { env: podmanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      operator = await superviseOperator(child, {
        name: podName,
        metricsUrl: `http://127.0.0.1:${ports.metrics}/metrics`,
        healthUrl: `http://127.0.0.1:${ports.health}`,
        startTimeoutMs: 120_000,
      });
    });

    after(async () => {
      await operator?.stop('SIGKILL');
      removeContainer();
      admin?.close();
      await sim?.close();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    afterEach(function () {
      if (this.currentTest?.state !== 'failed') return;
      process.stderr.write(
        `--- podman ${runArgs.join(' ')}\n--- container log (last 60 lines) ---\n${operator?.logs().slice(-60).join('\n') ?? ''}\n`,
      );
    });

    it("answers the Deployment's liveness and readiness probes, and serves /metrics", async () => {
      const probes = [
        rendered.container.livenessProbe?.httpGet?.path,
        rendered.container.readinessProbe?.httpGet?.path,
      ];
      expect(probes).to.deep.equal(['/healthz', '/readyz']);
      for (const path of probes) {
        await waitFor(async () => (await fetch(`${operator!.healthUrl}${path!}`)).ok, {
          timeoutMs: 60_000,
          what: `${path} answering 200`,
        });
      }
      const metrics = await (await fetch(operator!.metricsUrl)).text();
      expect(metrics).to.match(/^# TYPE reconciles_total counter$/m);
      expect(metrics).to.match(/^process_resident_memory_bytes /m);
    });

    it('takes the leader Lease in its namespace under its pod name', async () => {
      await waitFor(async () => (await operator!.metric('leader')) === 1, {
        timeoutMs: 60_000,
        what: 'the operator leading',
      });
      const lease = await cp
        .kubeConfig()
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: rendered.namespace, name: 'cph-route-operator-leader' });
      expect(lease.spec?.holderIdentity).to.equal(podName);
    });

    it('reconciles a CloudPhoneRoute to Ready, every phone on its route in the simulator', async () => {
      const kc = cp.kubeConfig();
      const routes = new Routes(kc);
      const namespace = await freshNamespace(kc, 'image');
      const ids = (await admin.phones()).slice(0, 5).map((p) => p.phone_id);
      await routes.create(namespace, 'from-the-image', { trafficType: 'routing', phoneIds: ids });
      const ready = await routes.waitForCondition(namespace, 'from-the-image', 'Ready', 'True', 'InSync', 120_000);
      expect(ready.status?.summary).to.include({ total: 5, inSync: 5 });
      for (const id of ids) expect((await admin.phone(id)).traffic_type).to.equal('routing');
      expect(await operator!.metric('cph_calls_total', { operation: 'ImportTraffic' })).to.be.greaterThan(0);
    });

    it('logs JSON lines only, with no secret and no attempt to write to the read-only root filesystem', () => {
      const lines = operator!.logs();
      expect(lines.length).to.be.greaterThan(0);
      for (const line of lines) {
        expect(() => JSON.parse(line) as unknown, line).to.not.throw();
        expect(line).to.not.include(credentials.HUAWEICLOUD_SDK_SK);
        expect(line).to.not.match(/EROFS|read-only file system|EACCES|permission denied/i);
      }
    });

    it('stops on SIGTERM within terminationGracePeriodSeconds, exit code 0, the Lease released', async () => {
      const graceSeconds = rendered.deployment.spec!.template.spec!.terminationGracePeriodSeconds ?? 30;
      const started = Date.now();
      const code = await operator!.stop('SIGTERM');
      const seconds = (Date.now() - started) / 1000;
      expect(code, 'exit code').to.equal(0);
      expect(seconds).to.be.below(graceSeconds);
      const lease = await cp
        .kubeConfig()
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: rendered.namespace, name: 'cph-route-operator-leader' });
      expect(lease.spec?.holderIdentity ?? '').to.equal('');
      expect(operator!.logs().some((line) => line.includes('released the lease'))).to.equal(true);
      for (const line of operator!.logs()) expect(line).to.not.match(/EROFS|read-only file system/i);
    });
  });
});
