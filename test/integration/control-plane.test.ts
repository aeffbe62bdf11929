/**
 * Proves the test control plane is a real Kubernetes API: a CRD applied from YAML becomes Established, custom
 * resources are created, read and watched, the /status subresource takes merge patches, and a ServiceAccount
 * token minted through the TokenRequest API is held to exactly what RBAC grants, and kube-controller-manager
 * collects garbage and finishes namespace deletions. The last part proves the harness never leaves etcd,
 * kube-apiserver or kube-controller-manager behind, even when its process is killed outright.
 *
 * Every wait polls with a deadline; nothing sleeps to synchronise and nothing asserts on timing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  ApiException,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  VersionApi,
  Watch,
  setHeaderOptions,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { ETCD_VERSION, KUBERNETES_VERSION, controlPlaneCacheDir } from '../cluster/build.js';
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  sharedControlPlane,
  uniqueName,
  type ControlPlane,
} from '../support/control-plane.js';

const here = dirname(fileURLToPath(import.meta.url));
const GROUP = 'harness.test.cloudphone.dev';
const VERSION = 'v1';
const PLURAL = 'widgets';

interface Widget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string };
  spec: { size: number; colour?: string };
  status?: { phase?: string; observedGeneration?: number };
}

/** Polls `probe` until it returns something other than undefined, failing with `what` and the last error at the deadline. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function statusCodeOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

function widget(name: string, namespace: string, size: number): Widget {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'Widget', metadata: { name, namespace }, spec: { size } };
}

describe('test control plane: the Go module that builds it', () => {
  const goMod = readFileSync(join(here, '..', 'cluster', 'go.mod'), 'utf8');

  it('requires the Kubernetes and etcd releases the harness reports', () => {
    expect(goMod).to.match(new RegExp(`^\\s*k8s\\.io/kubernetes ${KUBERNETES_VERSION.replace(/\./g, '\\.')}$`, 'm'));
    expect(goMod).to.match(
      new RegExp(`^\\s*go\\.etcd\\.io/etcd/server/v3 ${ETCD_VERSION.replace(/\./g, '\\.')}$`, 'm'),
    );
  });

  it('replaces every staging module with the matching v0.Y.Z release', () => {
    const staging = `v0.${KUBERNETES_VERSION.slice('v1.'.length)}`;
    const replaces = [...goMod.matchAll(/^\s*(k8s\.io\/[\w-]+) => (k8s\.io\/[\w-]+) (v\S+)$/gm)];
    expect(replaces.length).to.be.greaterThan(25);
    for (const [, from, to, version] of replaces) {
      expect(to).to.equal(from);
      expect(version).to.equal(staging);
    }
  });
});

describe('test control plane: a real etcd + kube-apiserver', () => {
  let plane: ControlPlane;
  let kc: KubeConfig;
  let namespace: string;

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    plane = await sharedControlPlane();
    kc = plane.kubeConfig();
    namespace = uniqueName('harness');
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  it('serves the real Kubernetes version on /version', async () => {
    const info = await kc.makeApiClient(VersionApi).getCode();
    expect(info.gitVersion).to.equal(plane.version);
    expect(plane.version).to.equal('v1.36.3');
    expect(plane.server).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('gives a kubeconfig that kubectl accepts', function () {
    const kubectl = spawnSync('kubectl', ['--kubeconfig', plane.kubeconfigPath, 'get', '--raw', '/readyz'], {
      encoding: 'utf8',
    });
    if (kubectl.error) this.skip(); // kubectl is not on this machine
    expect(kubectl.stderr).to.equal('');
    expect(kubectl.stdout.trim()).to.equal('ok');
  });

  it('applies a CRD from a YAML file and waits until it is Established', async () => {
    const crd = parseYaml(
      readFileSync(join(here, 'fixtures', 'widget-crd.yaml'), 'utf8'),
    ) as V1CustomResourceDefinition;
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    const created = await statusCodeOf(() => extensions.createCustomResourceDefinition({ body: crd }));
    expect([200, 409]).to.include(created); // 409: an earlier test in this process applied it already
    const established = await eventually('the Widget CRD to be Established', async () => {
      const current = await extensions.readCustomResourceDefinition({ name: 'widgets.harness.test.cloudphone.dev' });
      return current.status?.conditions?.find(
        (condition) => condition.type === 'Established' && condition.status === 'True',
      );
    });
    expect(established.reason).to.equal('InitialNamesAccepted');
  });

  it('creates, gets and watches a custom resource, and validates it against the schema', async () => {
    const objects = kc.makeApiClient(CustomObjectsApi);
    // Start the watch first, from the list's resourceVersion, so the ADDED event cannot be missed.
    const list = (await eventually('widgets to be served', () =>
      objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }),
    )) as { metadata: { resourceVersion: string } };
    const events: Array<{ type: string; object: Widget }> = [];
    let watchError: unknown;
    const watch = await new Watch(kc).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
      { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: false },
      (type, object: Widget) => events.push({ type, object }),
      (error) => (watchError = error),
    );
    try {
      const createdWidget = (await objects.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        body: widget('first', namespace, 3),
      })) as Widget;
      expect(createdWidget.metadata.generation).to.equal(1);

      const fetched = (await objects.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name: 'first',
      })) as Widget;
      expect(fetched.spec).to.deep.equal({ size: 3 });

      const added = await eventually('the ADDED watch event', async () => {
        if (watchError) throw watchError;
        return events.find((event) => event.type === 'ADDED' && event.object.metadata.name === 'first');
      });
      expect(added.object.spec.size).to.equal(3);

      // The structural schema is enforced by the server: size above the maximum is rejected with 422.
      const invalid = await statusCodeOf(() =>
        objects.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          body: widget('too-big', namespace, 1000),
        }),
      );
      expect(invalid).to.equal(422);
    } finally {
      watch.abort();
    }
  });

  it('updates the /status subresource with a merge patch, leaving spec and generation alone', async () => {
    const objects = kc.makeApiClient(CustomObjectsApi);
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: widget('statusful', namespace, 5),
    });

    // client-node 1.4.0 sends JSON Patch (application/json-patch+json) by default; a status object needs merge
    // patch, chosen per call through the Content-Type header option.
    const patched = (await objects.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name: 'statusful',
        body: { status: { phase: 'Ready', observedGeneration: 1 }, spec: { size: 99 } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as Widget;
    expect(patched.status).to.deep.equal({ phase: 'Ready', observedGeneration: 1 });
    expect(patched.spec.size, 'the status subresource ignores spec').to.equal(5);
    expect(patched.metadata.generation, 'a status write does not bump generation').to.equal(1);

    // And the main resource ignores status: a spec update bumps generation and keeps the status as it was.
    const updated = (await objects.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name: 'statusful',
        body: { spec: { size: 6 }, status: { phase: 'Ignored' } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as Widget;
    expect(updated.metadata.generation).to.equal(2);
    expect(updated.status?.phase).to.equal('Ready');
  });

  it('mints a ServiceAccount token whose rights are exactly what RBAC grants', async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const serviceAccount = 'widget-reader';
    const token = await plane.mintToken(namespace, serviceAccount);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'widget-reader' },
        rules: [{ apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'widget-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'widget-reader' },
        subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
      },
    });

    const tokenDir = await mkdtemp(join(tmpdir(), 'cph-token-'));
    try {
      const tokenConfig = new KubeConfig();
      tokenConfig.loadFromFile(await plane.writeKubeconfigForToken(token, join(tokenDir, 'kubeconfig')));

      const review = await tokenConfig.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
      expect(review.status?.userInfo?.username).to.equal(`system:serviceaccount:${namespace}:${serviceAccount}`);

      const asServiceAccount = tokenConfig.makeApiClient(CustomObjectsApi);
      const listWidgets = (ns: string) => () =>
        asServiceAccount.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL });
      // The RBAC authorizer learns of new roles through its informers: poll until the grant is visible.
      await eventually('the Role to allow listing widgets', async () =>
        (await statusCodeOf(listWidgets(namespace))) === 200 ? true : undefined,
      );
      expect(
        await statusCodeOf(() =>
          asServiceAccount.getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: PLURAL,
            name: 'first',
          }),
        ),
      ).to.be.oneOf([200, 404]);

      expect(
        await statusCodeOf(() =>
          asServiceAccount.createNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: PLURAL,
            body: widget('denied', namespace, 1),
          }),
        ),
        'create is not granted',
      ).to.equal(403);
      expect(
        await statusCodeOf(() =>
          asServiceAccount.patchNamespacedCustomObjectStatus(
            {
              group: GROUP,
              version: VERSION,
              namespace,
              plural: PLURAL,
              name: 'statusful',
              body: { status: { phase: 'x' } },
            },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          ),
        ),
        'status is not granted',
      ).to.equal(403);
      expect(await statusCodeOf(listWidgets('default')), 'the Role binds only in its namespace').to.equal(403);
      expect(
        await statusCodeOf(() => tokenConfig.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace })),
        'secrets are not granted',
      ).to.equal(403);
    } finally {
      await rm(tokenDir, { recursive: true, force: true });
    }
  });
});

describe('test control plane: kube-controller-manager', () => {
  let plane: ControlPlane;
  let core: CoreV1Api;

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    plane = await sharedControlPlane();
    core = plane.kubeConfig().makeApiClient(CoreV1Api);
  });

  it('is built from the same module and version as kube-apiserver', () => {
    const version = spawnSync(join(controlPlaneCacheDir(), 'kube-controller-manager'), ['--version'], {
      encoding: 'utf8',
    });
    expect(version.stdout.trim()).to.equal(`Kubernetes ${KUBERNETES_VERSION}`);
  });

  it('gives every new namespace its default ServiceAccount', async () => {
    const namespace = uniqueName('kcm-sa');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await eventually(
      'the default ServiceAccount',
      async () =>
        (await statusCodeOf(() => core.readNamespacedServiceAccount({ namespace, name: 'default' }))) === 200 ||
        undefined,
    );
  });

  it('collects garbage: a ConfigMap owned by a deleted ConfigMap goes too', async () => {
    const namespace = uniqueName('kcm-gc');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' } } });
    const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' }];
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owned', ownerReferences } } });
    await core.deleteNamespacedConfigMap({ namespace, name: 'owner' });
    await eventually(
      'the owned ConfigMap collected',
      async () =>
        (await statusCodeOf(() => core.readNamespacedConfigMap({ namespace, name: 'owned' }))) === 404 || undefined,
      60_000,
    );
  });

  it('finishes deleting a namespace: its content goes, then the namespace', async () => {
    const namespace = uniqueName('kcm-ns');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'content' } } });
    await core.deleteNamespace({ name: namespace });
    await eventually(
      'the namespace gone',
      async () => (await statusCodeOf(() => core.readNamespace({ name: namespace }))) === 404 || undefined,
      60_000,
    );
  });
});

describe('test control plane: lifecycle', () => {
  const fixture = join(here, 'fixtures', 'start-control-plane.ts');

  interface Started {
    pids: { etcd: number; kubeApiserver: number; kubeControllerManager: number };
    dataDir: string;
  }

  /** Alive means running: a zombie (exited, not yet reaped by whoever adopted it) counts as gone. */
  function alive(pid: number): boolean {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }

  /** Runs the fixture in its own Node process and resolves with what it printed once its control plane was ready. */
  async function startInChild(): Promise<{ child: ReturnType<typeof spawn>; started: Started }> {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const started = await eventually(
      'the child to report its control plane',
      async () => {
        if (child.exitCode !== null) throw new Error(`child exited ${child.exitCode}: ${stderr}`);
        const line = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
        return line ? (JSON.parse(line) as Started) : undefined;
      },
      180_000,
    );
    return { child, started };
  }

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    await sharedControlPlane(); // makes sure the binaries are built before the children race to build them
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops etcd, kube-apiserver and kube-controller-manager and removes their files when the owner gets ${signal}`, async function () {
      this.timeout(240_000);
      const { child, started } = await startInChild();
      expect(
        alive(started.pids.etcd) && alive(started.pids.kubeApiserver) && alive(started.pids.kubeControllerManager),
      ).to.equal(true);
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_code, exitSignal) => resolve(exitSignal)),
      );
      child.kill(signal);
      expect(await exited, 'the owner ends by the same signal after cleaning up').to.equal(signal);
      expect(alive(started.pids.kubeControllerManager), 'kube-controller-manager gone').to.equal(false);
      expect(alive(started.pids.kubeApiserver), 'kube-apiserver gone').to.equal(false);
      expect(alive(started.pids.etcd), 'etcd gone').to.equal(false);
      expect(existsSync(started.dataDir), 'data directory removed').to.equal(false);
    });
  }

  it('leaves no process behind even when the owner is killed with SIGKILL', async function () {
    this.timeout(240_000);
    const { child, started } = await startInChild();
    child.kill('SIGKILL');
    // The children carry a parent-death signal (setpriv --pdeathsig), so the kernel ends them.
    await eventually('etcd, kube-apiserver and kube-controller-manager to die with their owner', async () =>
      !alive(started.pids.etcd) && !alive(started.pids.kubeApiserver) && !alive(started.pids.kubeControllerManager)
        ? true
        : undefined,
    );
    // The next start in any process removes the directory the killed owner left.
    const { sweepAbandonedControlPlanes } = await import('../cluster/harness.js');
    sweepAbandonedControlPlanes();
    expect(existsSync(started.dataDir)).to.equal(false);
  });
});
