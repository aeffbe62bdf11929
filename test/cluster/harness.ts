/**
 * A real Kubernetes control plane for tests: etcd, kube-apiserver and kube-controller-manager, built from Go
 * modules (./build.ts), started on free loopback ports with fresh certificates, RBAC authorization and a
 * ServiceAccount token signer, so that what the tests see is what a cluster does: CRD validation, status
 * subresources, watches, leases, RBAC, and deletion as clusters do it. kube-controller-manager runs the
 * controllers that deletion needs: the garbage collector (ownerReferences are followed, foreground and
 * background cascades), the namespace controller (a deleted namespace is emptied and goes), and the
 * ServiceAccount controllers (every namespace gets its `default` ServiceAccount). There is no scheduler and no
 * node: pods never run.
 *
 * Guarantees:
 * - The children never outlive the process that started them: they are stopped by stop(), by SIGINT, SIGTERM
 *   and SIGHUP handlers, by an exit handler, and, if this process is killed outright, by the kernel
 *   (each child runs under `setpriv --pdeathsig SIGKILL`, so it is killed when its parent dies).
 * - Every file lives under one directory, removed on stop; a directory left by a killed process is removed
 *   by the next start (its owner PID is recorded in owner.json).
 * - stop() is idempotent and stops kube-controller-manager, then kube-apiserver, then etcd.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ensureControlPlaneBinaries as ensureBinaries, type ControlPlaneBinaries, type ProgressSink } from './build.js';
import { ADMIN_USER, CONTROLLER_MANAGER_USER, createControlPlanePki, type ControlPlanePki } from './pki.js';

export { KUBERNETES_VERSION, ETCD_VERSION, controlPlaneCacheDir } from './build.js';

export interface ControlPlane {
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly version: string;
  readonly caFile: string;
  /** The directory holding every file of this control plane (certificates, etcd data, kubeconfig). */
  readonly dataDir: string;
  /** Where etcd.log, kube-apiserver.log and kube-controller-manager.log are written. */
  readonly logDir: string;
  /** etcd's client URL (plain HTTP on loopback), e.g. for compacting its history through the v3 HTTP gateway. */
  readonly etcdUrl: string;
  /** PIDs of the three children, for tests that prove they are gone. */
  readonly pids: { readonly etcd: number; readonly kubeApiserver: number; readonly kubeControllerManager: number };
  /** The audience the API server puts in tokens minted without an explicit audience. */
  readonly apiAudience: string;
  kubeConfig(): KubeConfig;
  /** Creates the namespace and ServiceAccount if missing, returns a token from the TokenRequest API. */
  mintToken(namespace: string, serviceAccount: string, expirationSeconds?: number): Promise<string>;
  /** Writes a kubeconfig that authenticates with `token`; returns its path. */
  writeKubeconfigForToken(token: string, path: string): Promise<string>;
  /** Stop kube-controller-manager, kube-apiserver, then etcd, remove temp dirs. Idempotent. */
  stop(): Promise<void>;
  /**
   * Stops kube-apiserver (SIGTERM, or SIGKILL when asked) and starts it again on the same port with the same
   * certificates and etcd, resolving once /readyz is ok. For chaos tests of watches and clients.
   */
  restartApiServer(options?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
}

export interface StartControlPlaneOptions {
  /** Directory for certificates, etcd data and the kubeconfig. Default: a fresh temporary directory. */
  dataDir?: string;
  /** Directory for the children's logs. Default: `<dataDir>/logs` (removed on stop). */
  logDir?: string;
  /** Where build progress goes if the binaries must be built first. Default: stderr. */
  progress?: ProgressSink;
  /** How long to wait for /readyz, the default namespace and kube-controller-manager's first work. Default: 120 s. */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags, after the harness's own (e.g. `--watch-cache=false` so watches read etcd itself). */
  apiserverArgs?: readonly string[];
  /**
   * Load @kubernetes/client-node (for kubeConfig() and mintToken()) while the control plane starts. Default
   * true. Loading it costs seconds of CPU; `cluster:up`'s background process never needs it and says false.
   */
  loadClient?: boolean;
}

export function ensureControlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  return ensureBinaries();
}

type ClientNode = typeof import('@kubernetes/client-node');
let clientNode: ClientNode | undefined;
let clientNodeLoading: Promise<ClientNode> | undefined;

function loadClientNode(): Promise<ClientNode> {
  clientNodeLoading ??= import('@kubernetes/client-node').then((module) => (clientNode = module));
  return clientNodeLoading;
}

function loadedClientNode(): ClientNode {
  if (!clientNode)
    throw new Error('@kubernetes/client-node is not loaded: start the control plane without loadClient: false');
  return clientNode;
}

const TEMP_PREFIX = 'cph-control-plane-';
const OWNER_FILE = 'owner.json';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/**
 * kube-controller-manager's controllers: the garbage collector, the namespace controller (which deletes a
 * namespace's content, then the namespace), the ServiceAccount controller (a `default` ServiceAccount in every
 * namespace) and the token controller (Secrets of type service-account-token get their token).
 */
const CONTROLLERS: readonly string[] = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
];

// ---------------------------------------------------------------------------------------------------------
// Process bookkeeping: every running control plane is registered here until it has stopped, so that signal
// and exit handlers can stop what is left.

interface Running {
  readonly children: ChildProcess[];
  readonly removeOnStop: string[];
  stop(): Promise<void>;
}

const running = new Set<Running>();
let handlersInstalled = false;
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal); // each child leads its own process group (spawned detached)
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

function killEverythingNow(): void {
  for (const plane of running) {
    for (const child of plane.children) killGroup(child.pid, 'SIGKILL');
    for (const path of plane.removeOnStop)
      rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }
  running.clear();
}

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  const stops = [...running].map((plane) => plane.stop());
  const deadline = new Promise<void>((resolveDeadline) => setTimeout(resolveDeadline, 20_000).unref());
  await Promise.race([Promise.allSettled(stops), deadline]);
  killEverythingNow();
  uninstallHandlers();
  // With our listener gone, the default action (exit by the signal) applies unless someone else listens.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

const signalListeners = new Map<NodeJS.Signals, () => void>();

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killEverythingNow);
  for (const signal of SIGNALS) {
    const listener = (): void => void onSignal(signal);
    signalListeners.set(signal, listener);
    process.once(signal, listener);
  }
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off('exit', killEverythingNow);
  for (const [signal, listener] of signalListeners) process.off(signal, listener);
  signalListeners.clear();
}

/** Whether a process runs (not gone, not a zombie). */
export function isAlive(pid: number | undefined): boolean {
  if (typeof pid !== 'number') return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie (exited, not yet reaped by whoever adopted it) is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

interface OwnerRecord {
  owner: number;
  etcd?: number;
  kubeApiserver?: number;
  kubeControllerManager?: number;
}

/** Removes control planes left behind by processes that died without cleaning up (for example SIGKILL). */
export function sweepAbandonedControlPlanes(parent: string = tmpdir()): number {
  let removed = 0;
  for (const entry of readdirSync(parent)) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = join(parent, entry);
    let record: OwnerRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as OwnerRecord;
    } catch {
      continue; // being created right now, or not ours
    }
    if (typeof record.owner !== 'number' || isAlive(record.owner)) continue;
    for (const pid of [record.kubeControllerManager, record.kubeApiserver, record.etcd]) {
      if (typeof pid === 'number' && commandLineOf(pid).includes(dir)) killGroup(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    removed += 1;
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------------------

let setprivChecked: string | null | undefined;

/** `setpriv` (util-linux) sets the parent-death signal, so a child dies with us even on SIGKILL. */
function setprivPath(): string | null {
  if (setprivChecked !== undefined) return setprivChecked;
  const probe = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore' });
  setprivChecked = probe.status === 0 ? 'setpriv' : null;
  if (setprivChecked === null) {
    process.stderr.write(
      'warning: setpriv --pdeathsig is unavailable; control plane children may outlive a SIGKILLed test process\n',
    );
  }
  return setprivChecked;
}

function startChild(binary: string, args: readonly string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const wrapper = setprivPath();
    const [command, commandArgs] = wrapper
      ? [wrapper, ['--pdeathsig', 'SIGKILL', '--', binary, ...args]]
      : [binary, [...args]];
    // detached: its own process group, so a terminal's Ctrl-C reaches only us and we stop the children in order.
    const child = spawn(command, commandArgs, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env } });
    child.unref(); // never keep the test process alive by itself
    return child;
  } finally {
    closeSync(fd);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  killGroup(child.pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    done.then(() => false),
    new Promise<boolean>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout(true), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    killGroup(child.pid, 'SIGKILL');
    await done;
  }
}

async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolveServer, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolveServer(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolveClose) => server.close(resolveClose))));
  return ports;
}

function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface ProbeResult {
  status: number;
  body: string;
}

/** `insecure`: a server whose self-signed certificate we did not make (kube-controller-manager's own /healthz). */
function probe(
  url: string,
  tls?: { ca: string; cert: string; key: string } | { insecure: true },
): Promise<ProbeResult> {
  return new Promise((resolveProbe, reject) => {
    const requestFn = url.startsWith('https:') ? httpsRequest : httpRequest;
    const tlsOptions = tls === undefined ? {} : 'insecure' in tls ? { rejectUnauthorized: false } : tls;
    const req = requestFn(url, { method: 'GET', timeout: 5000, agent: false, ...tlsOptions }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveProbe({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

class StartError extends Error {
  constructor(
    message: string,
    readonly portConflict: boolean,
  ) {
    super(message);
    this.name = 'StartError';
  }
}

/** Polls `check` until it returns true, failing early if a child exits, and at the deadline. */
async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  deadline: number,
  watched: ReadonlyArray<{ name: string; child: ChildProcess; log: string }>,
): Promise<void> {
  let lastError = '';
  for (;;) {
    for (const { name, child, log } of watched) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const tail = tailOf(log);
        throw new StartError(
          `${name} exited (${child.signalCode ?? `exit ${child.exitCode}`}) while waiting for ${what}; last lines of ${log}:\n${tail}`,
          /address already in use/i.test(tail),
        );
      }
    }
    try {
      if (await check()) return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new StartError(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`, false);
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 200));
  }
}

function clientCertKubeconfig(
  server: string,
  pki: ControlPlanePki,
  user: string,
  client: { certPem: string; keyPem: string },
): string {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  const context = `${user}@local`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: cph-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(pki.servingCa.certPem)}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(client.certPem)}`,
    `    client-key-data: ${b64(client.keyPem)}`,
    'contexts:',
    `- name: ${context}`,
    '  context:',
    '    cluster: cph-local',
    `    user: ${user}`,
    `current-context: ${context}`,
    '',
  ].join('\n');
}

function tokenKubeconfig(server: string, caPem: string, token: string): string {
  const b64 = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: cph-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64}`,
    'users:',
    '- name: token',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: token@local',
    '  context:',
    '    cluster: cph-local',
    '    user: token',
    'current-context: token@local',
    '',
  ].join('\n');
}

function statusCodeOf(error: unknown): number | undefined {
  if (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof (error as { code: unknown }).code === 'number'
  ) {
    return (error as { code: number }).code;
  }
  return undefined;
}

async function createIfMissing(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (statusCodeOf(error) !== 409) throw error;
  }
}

async function startOnce(binaries: ControlPlaneBinaries, options: StartControlPlaneOptions): Promise<ControlPlane> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = ownsDir ? await mkdtemp(join(tmpdir(), TEMP_PREFIX)) : resolve(options.dataDir as string);
  const ownsLogDir = options.logDir === undefined;
  const logDir = ownsLogDir ? join(dataDir, 'logs') : resolve(options.logDir as string);
  const pkiDir = join(dataDir, 'pki');
  const etcdDir = join(dataDir, 'etcd');
  const kubeconfigPath = join(dataDir, 'kubeconfig');
  const ownerFile = join(dataDir, OWNER_FILE);
  const removeOnStop = ownsDir
    ? [dataDir]
    : [pkiDir, etcdDir, kubeconfigPath, ownerFile, ...(ownsLogDir ? [logDir] : [])];

  const children: ChildProcess[] = [];
  let stopping: Promise<void> | undefined;
  const entry: Running = {
    children,
    removeOnStop,
    stop: () => {
      stopping ??= (async () => {
        for (const child of [...children].reverse()) await stopChild(child, 15_000); // controller-manager, apiserver, then etcd
        for (const path of removeOnStop)
          await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
        running.delete(entry);
        if (running.size === 0) uninstallHandlers();
      })();
      return stopping;
    },
  };
  running.add(entry);
  installHandlers();

  const clientLoading = options.loadClient === false ? undefined : loadClientNode();
  try {
    await mkdir(dataDir, { recursive: true });
    if (!ownsDir)
      for (const path of [pkiDir, etcdDir, kubeconfigPath]) await rm(path, { recursive: true, force: true });
    await mkdir(logDir, { recursive: true });
    await mkdir(pkiDir, { recursive: true, mode: 0o700 });
    await mkdir(etcdDir, { recursive: true, mode: 0o700 });
    const owner: OwnerRecord = { owner: process.pid };
    writeFileSync(ownerFile, JSON.stringify(owner));

    const pki = await createControlPlanePki();
    const file = (name: string): string => join(pkiDir, name);
    const writes: Array<[string, string]> = [
      ['ca.crt', pki.servingCa.certPem],
      ['serving.crt', pki.serving.certPem],
      ['serving.key', pki.serving.keyPem],
      ['client-ca.crt', pki.clientCa.certPem],
      ['admin.crt', pki.admin.certPem],
      ['admin.key', pki.admin.keyPem],
      ['controller-manager.crt', pki.controllerManager.certPem],
      ['controller-manager.key', pki.controllerManager.keyPem],
      ['sa.pub', pki.serviceAccount.publicKeyPem],
      ['sa.key', pki.serviceAccount.privateKeyPem],
    ];
    for (const [name, content] of writes) await writeFile(file(name), content, { mode: 0o600 });

    const [etcdClientPort, etcdPeerPort, apiserverPort, controllerManagerPort] = await freeLoopbackPorts(4);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcdLog = join(logDir, 'etcd.log');
    const apiserverLog = join(logDir, 'kube-apiserver.log');
    const controllerManagerLog = join(logDir, 'kube-controller-manager.log');
    const readyDeadline = Date.now() + (options.readyTimeoutMs ?? 120_000);

    const etcd = startChild(
      binaries.etcd,
      [
        '--name=default',
        `--data-dir=${etcdDir}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--initial-cluster-state=new',
        '--unsafe-no-fsync', // a throwaway store: durability buys nothing and costs seconds on slow disks
        '--log-level=warn',
      ],
      etcdLog,
    );
    children.push(etcd);
    owner.etcd = etcd.pid;
    writeFileSync(ownerFile, JSON.stringify(owner));
    const etcdWatch = [{ name: 'etcd', child: etcd, log: etcdLog }];
    await waitFor(
      'etcd /health',
      async () => (await probe(`${etcdUrl}/health`)).body.includes('"health":"true"'),
      readyDeadline,
      etcdWatch,
    );

    const server = `https://127.0.0.1:${apiserverPort}`;
    const launchApiserver = (): ChildProcess =>
      startChild(
        binaries.kubeApiserver,
        [
          `--etcd-servers=${etcdUrl}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${apiserverPort}`,
          `--cert-dir=${pkiDir}`,
          `--tls-cert-file=${file('serving.crt')}`,
          `--tls-private-key-file=${file('serving.key')}`,
          `--client-ca-file=${file('client-ca.crt')}`,
          '--authorization-mode=RBAC',
          `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
          `--service-account-key-file=${file('sa.pub')}`,
          `--service-account-signing-key-file=${file('sa.key')}`,
          `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
          '--service-cluster-ip-range=10.96.0.0/16',
          '--endpoint-reconciler-type=none', // 127.0.0.1 is not a valid Endpoints address; nothing routes to it anyway
          '--profiling=false',
          ...(options.apiserverArgs ?? []),
        ],
        apiserverLog,
      );
    const apiserver = launchApiserver();
    const apiserverIndex = children.length;
    children.push(apiserver);
    owner.kubeApiserver = apiserver.pid;
    writeFileSync(ownerFile, JSON.stringify(owner));

    const tls = { ca: pki.servingCa.certPem, cert: pki.admin.certPem, key: pki.admin.keyPem };
    const watched = [...etcdWatch, { name: 'kube-apiserver', child: apiserver, log: apiserverLog }];
    const apiserverReady = async (): Promise<boolean> => {
      const result = await probe(`${server}/readyz`, tls);
      return result.status === 200 && result.body.trim() === 'ok';
    };
    await waitFor('kube-apiserver /readyz', apiserverReady, readyDeadline, watched);
    await waitFor(
      'the default namespace',
      async () => (await probe(`${server}/api/v1/namespaces/default`, tls)).status === 200,
      readyDeadline,
      watched,
    );

    await writeFile(kubeconfigPath, clientCertKubeconfig(server, pki, ADMIN_USER, pki.admin), { mode: 0o600 });

    // kube-controller-manager, with the controllers deletion needs (see the header). It talks to the API
    // server with its own client certificate and runs every controller under it.
    const controllerManagerKubeconfig = join(pkiDir, 'controller-manager.kubeconfig');
    await writeFile(
      controllerManagerKubeconfig,
      clientCertKubeconfig(server, pki, CONTROLLER_MANAGER_USER, pki.controllerManager),
      { mode: 0o600 },
    );
    const controllerManager = startChild(
      binaries.kubeControllerManager,
      [
        `--kubeconfig=${controllerManagerKubeconfig}`,
        `--controllers=${CONTROLLERS.join(',')}`,
        '--use-service-account-credentials=false',
        `--service-account-private-key-file=${file('sa.key')}`,
        `--root-ca-file=${file('ca.crt')}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${controllerManagerPort}`,
        `--cert-dir=${join(pkiDir, 'controller-manager-serving')}`,
        '--profiling=false',
      ],
      controllerManagerLog,
    );
    children.push(controllerManager);
    owner.kubeControllerManager = controllerManager.pid;
    writeFileSync(ownerFile, JSON.stringify(owner));
    const everything = [
      ...watched,
      { name: 'kube-controller-manager', child: controllerManager, log: controllerManagerLog },
    ];
    // Ready when it serves /healthz and its ServiceAccount controller has done its first work.
    await waitFor(
      'kube-controller-manager /healthz',
      async () =>
        (await probe(`https://127.0.0.1:${controllerManagerPort}/healthz`, { insecure: true })).body.trim() === 'ok',
      readyDeadline,
      everything,
    );
    await waitFor(
      'the default ServiceAccount (made by kube-controller-manager)',
      async () => (await probe(`${server}/api/v1/namespaces/default/serviceaccounts/default`, tls)).status === 200,
      readyDeadline,
      everything,
    );

    if (clientLoading) await clientLoading;
    const caFile = file('ca.crt');
    const pids = {
      etcd: etcd.pid as number,
      kubeApiserver: apiserver.pid as number,
      kubeControllerManager: controllerManager.pid as number,
    };

    const kubeConfig = (): KubeConfig => {
      const config = new (loadedClientNode().KubeConfig)();
      config.loadFromFile(kubeconfigPath);
      return config;
    };

    return {
      server,
      kubeconfigPath,
      version: binaries.version,
      caFile,
      dataDir,
      logDir,
      etcdUrl,
      pids,
      apiAudience: SERVICE_ACCOUNT_ISSUER,
      kubeConfig,
      async mintToken(namespace: string, serviceAccount: string, expirationSeconds = 3600): Promise<string> {
        const core = kubeConfig().makeApiClient(loadedClientNode().CoreV1Api);
        await createIfMissing(() => core.createNamespace({ body: { metadata: { name: namespace } } }));
        await createIfMissing(() =>
          core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount, namespace } } }),
        );
        const tokenRequest = await core.createNamespacedServiceAccountToken({
          name: serviceAccount,
          namespace,
          body: { spec: { audiences: [SERVICE_ACCOUNT_ISSUER], expirationSeconds } },
        });
        const token = tokenRequest.status?.token;
        if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
        return token;
      },
      async writeKubeconfigForToken(token: string, path: string): Promise<string> {
        const absolute = resolve(path);
        await mkdir(dirname(absolute), { recursive: true });
        await writeFile(absolute, tokenKubeconfig(server, await readFile(caFile, 'utf8'), token), { mode: 0o600 });
        return absolute;
      },
      stop: entry.stop,
      async restartApiServer(restart = {}): Promise<void> {
        const previous = children[apiserverIndex];
        if (previous) {
          if (restart.signal === 'SIGKILL') {
            const gone = exited(previous);
            killGroup(previous.pid, 'SIGKILL');
            await gone;
          } else {
            await stopChild(previous, 15_000);
          }
        }
        const next = launchApiserver();
        children[apiserverIndex] = next;
        pids.kubeApiserver = next.pid as number;
        owner.kubeApiserver = next.pid;
        writeFileSync(ownerFile, JSON.stringify(owner));
        await waitFor(
          'kube-apiserver /readyz after a restart',
          apiserverReady,
          Date.now() + (options.readyTimeoutMs ?? 120_000),
          [...etcdWatch, { name: 'kube-apiserver', child: next, log: apiserverLog }],
        );
      },
    };
  } catch (error) {
    await entry.stop();
    throw error;
  }
}

/**
 * Starts etcd and kube-apiserver (building them first if the cache lacks them) and resolves once /readyz is
 * ok and the `default` namespace exists. Retries with new ports if a port was taken between choosing and binding.
 */
export async function startControlPlane(options: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = await ensureBinaries(options.progress ? { progress: options.progress } : {});
  sweepAbandonedControlPlanes();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(binaries, options);
    } catch (error) {
      if (!(error instanceof StartError && error.portConflict && attempt < 3)) throw error;
    }
  }
}
