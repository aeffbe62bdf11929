/**
 * `npm run cluster:up` / `npm run cluster:down`: a long-lived local control plane for trying things by hand
 * (kubectl, the operator, the demo). `up` builds the binaries if needed, then starts a small detached Node
 * process (`serve`) that owns etcd, kube-apiserver and kube-controller-manager through the test harness and survives the npm process;
 * its state lives in .local/cluster/ (kubeconfig, state.json, logs/). `down` asks that process to stop, which
 * stops kube-controller-manager, kube-apiserver, then etcd, and removes their files. Both are idempotent.
 *
 *   tsx test/cluster/cli.ts up | down | status | ensure
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { GO_MODULE_DIR } from './build.js';
import { ensureControlPlaneBinaries, isAlive, startControlPlane } from './harness.js';

const REPO_ROOT = resolve(GO_MODULE_DIR, '..', '..');
const STATE_DIR = join(REPO_ROOT, '.local', 'cluster');
const STATE_FILE = join(STATE_DIR, 'state.json');
const DAEMON_LOG = join(STATE_DIR, 'daemon.log');
const LOG_DIR = join(STATE_DIR, 'logs');
const KUBECONFIG = join(STATE_DIR, 'kubeconfig');

interface ClusterState {
  daemonPid: number;
  etcdPid: number;
  kubeApiserverPid: number;
  kubeControllerManagerPid: number;
  server: string;
  version: string;
  kubeconfig: string;
}

function readState(): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

/** True if `pid` is alive and its command line mentions our state directory (guards against PID reuse). */
function isOurs(pid: number | undefined): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(STATE_DIR);
  } catch {
    return false;
  }
}

function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** GET /readyz as the admin, with the certificates the running control plane wrote (no client library: fast). */
async function readyz(): Promise<boolean> {
  const https = await import('node:https');
  let tls: { ca: string; cert: string; key: string };
  let server: string;
  try {
    const pki = join(STATE_DIR, 'pki');
    tls = {
      ca: readFileSync(join(pki, 'ca.crt'), 'utf8'),
      cert: readFileSync(join(pki, 'admin.crt'), 'utf8'),
      key: readFileSync(join(pki, 'admin.key'), 'utf8'),
    };
    const state = readState();
    if (!state) return false;
    server = state.server;
  } catch {
    return false;
  }
  return new Promise<boolean>((resolveReady) => {
    const req = https.request(`${server}/readyz`, { ...tls, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveReady(res.statusCode === 200 && body.trim() === 'ok'));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveReady(false));
    req.end();
  });
}

function printUsage(state: ClusterState): void {
  const kubeconfig = display(state.kubeconfig);
  process.stdout.write(
    [
      `kube-apiserver ${state.version} at ${state.server} (etcd pid ${state.etcdPid}, kube-apiserver pid ${state.kubeApiserverPid}, kube-controller-manager pid ${state.kubeControllerManagerPid})`,
      '',
      'Use it with:',
      `  export KUBECONFIG=${state.kubeconfig}`,
      '  kubectl get --raw /readyz',
      `or: kubectl --kubeconfig ${kubeconfig} version`,
      '',
      `Logs: ${display(LOG_DIR)}/   Stop: npm run cluster:down`,
      '',
    ].join('\n'),
  );
}

/** Kills leftovers of a daemon that died without cleaning up, and removes its state. */
function clearStaleState(state: ClusterState | undefined): void {
  if (state) {
    for (const pid of [state.kubeControllerManagerPid, state.kubeApiserverPid, state.etcdPid]) {
      if (isOurs(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
  for (const path of [
    STATE_FILE,
    KUBECONFIG,
    join(STATE_DIR, 'pki'),
    join(STATE_DIR, 'etcd'),
    join(STATE_DIR, 'owner.json'),
  ]) {
    rmSync(path, { recursive: true, force: true });
  }
}

async function up(): Promise<number> {
  const existing = readState();
  if (existing && isAlive(existing.daemonPid)) {
    if (await readyz()) {
      process.stdout.write('The local control plane is already running and healthy.\n');
      printUsage(existing);
      return 0;
    }
    process.stderr.write(
      `A control plane process (pid ${existing.daemonPid}) is running but not healthy; restarting it.\n`,
    );
    await down({ quiet: true });
  }
  clearStaleState(readState());
  await mkdir(STATE_DIR, { recursive: true });

  await ensureControlPlaneBinaries(); // in the foreground, so build progress is visible

  process.stdout.write('starting etcd, kube-apiserver and kube-controller-manager...\n');
  const started = Date.now();
  const logFd = openSync(DAEMON_LOG, 'w');
  const daemon = spawn(process.execPath, ['--import', 'tsx', join(GO_MODULE_DIR, 'cli.ts'), 'serve'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env },
  });
  closeSync(logFd);
  daemon.unref();

  const deadline = Date.now() + 180_000;
  for (;;) {
    const state = readState();
    if (state && state.daemonPid === daemon.pid) {
      process.stdout.write(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      printUsage(state);
      return 0;
    }
    if (daemon.exitCode !== null || daemon.signalCode !== null || !isAlive(daemon.pid)) {
      process.stderr.write(
        `the control plane failed to start; ${display(DAEMON_LOG)}:\n${readFileSync(DAEMON_LOG, 'utf8')}\n`,
      );
      return 1;
    }
    if (Date.now() > deadline) {
      process.stderr.write(
        `the control plane did not become ready in time; see ${display(DAEMON_LOG)} and ${display(LOG_DIR)}/\n`,
      );
      await down({ quiet: true });
      return 1;
    }
    await sleep(200);
  }
}

async function serve(): Promise<void> {
  const plane = await startControlPlane({ dataDir: STATE_DIR, logDir: LOG_DIR, loadClient: false });
  // The operator's namespace exists from the start, so `kubectl apply --dry-run=server -k deploy/` can be
  // tried on this cluster once the CRDs are (a dry run creates nothing, not even the namespace its objects
  // need; the account `default` needs its CRD: `kubectl apply -k crds/` first, as deploy/README.md says).
  execFileSync('kubectl', ['--kubeconfig', plane.kubeconfigPath, 'create', 'namespace', 'cph-route-operator-system'], {
    stdio: 'ignore',
  });
  const state: ClusterState = {
    daemonPid: process.pid,
    etcdPid: plane.pids.etcd,
    kubeApiserverPid: plane.pids.kubeApiserver,
    kubeControllerManagerPid: plane.pids.kubeControllerManager,
    server: plane.server,
    version: plane.version,
    kubeconfig: plane.kubeconfigPath,
  };
  writeFileSync(`${STATE_FILE}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${STATE_FILE}.tmp`, STATE_FILE);
  process.stdout.write(`serving ${plane.server} (daemon pid ${process.pid})\n`);

  let stopping = false;
  const shutdown = async (reason: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`stopping: ${reason}\n`);
    await plane.stop();
    rmSync(STATE_FILE, { force: true });
    process.exit(code);
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal, 0));
  // If either child dies, say so and take the rest down rather than serve half a control plane.
  setInterval(() => {
    if (!isAlive(plane.pids.etcd) || !isAlive(plane.pids.kubeApiserver) || !isAlive(plane.pids.kubeControllerManager))
      void shutdown('a control plane process exited; see logs/', 1);
  }, 2000);
}

async function down(options: { quiet?: boolean } = {}): Promise<number> {
  const state = readState();
  if (!state || !isAlive(state.daemonPid)) {
    clearStaleState(state);
    if (!options.quiet) process.stdout.write('The local control plane is not running.\n');
    return 0;
  }
  process.kill(state.daemonPid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isAlive(state.daemonPid) && Date.now() < deadline) await sleep(100);
  if (isAlive(state.daemonPid)) process.kill(state.daemonPid, 'SIGKILL');
  // The daemon's children die with it (parent-death signal); wait for that, then make sure.
  const childDeadline = Date.now() + 10_000;
  while (
    (isOurs(state.etcdPid) || isOurs(state.kubeApiserverPid) || isOurs(state.kubeControllerManagerPid)) &&
    Date.now() < childDeadline
  )
    await sleep(100);
  clearStaleState(state);
  if (!options.quiet) process.stdout.write('Stopped the local control plane.\n');
  return 0;
}

async function status(): Promise<number> {
  const state = readState();
  if (state && isAlive(state.daemonPid) && (await readyz())) {
    printUsage(state);
    return 0;
  }
  process.stdout.write('The local control plane is not running (npm run cluster:up starts it).\n');
  return 3;
}

async function main(argv: readonly string[]): Promise<void> {
  const command = argv[0];
  switch (command) {
    case 'up':
      process.exitCode = await up();
      return;
    case 'down':
      process.exitCode = await down();
      return;
    case 'status':
      process.exitCode = await status();
      return;
    case 'ensure': {
      const binaries = await ensureControlPlaneBinaries();
      process.stdout.write(
        `control plane ${binaries.version} ready in the cache:\n  ${binaries.etcd}\n  ${binaries.kubeApiserver}\n  ${binaries.kubeControllerManager}\n`,
      );
      return;
    }
    case 'serve':
      await serve();
      return;
    default:
      process.stderr.write('usage: tsx test/cluster/cli.ts up | down | status | ensure\n');
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
