/**
 * Runs the real `cph-route-operator` command as a separate process, the way a cluster runs it: flags,
 * environment credentials, a kubeconfig. Its log lines are kept for the assertions that scan them (no
 * secret may appear) and are printed when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { applySimulatorAccount } from './accounts.js';
import { waitFor } from './wait.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface OperatorProcessOptions {
  kubeconfigPath: string;
  /**
   * The simulator the operator's default account points at: an ambient ClusterCloudPhoneAccount for it is
   * applied (with `adminKubeconfigPath`) and named by --default-account, unless `defaultAccount` is given.
   */
  cphEndpoint: string;
  projectId: string;
  /** --default-account to pass instead (false: none). */
  defaultAccount?: string | false;
  /** Who applies the default account; default `kubeconfigPath` (an operator with least privilege cannot). */
  adminKubeconfigPath?: string;
  iamEndpoint?: string;
  caFile?: string;
  env?: Record<string, string>;
  extraArgs?: string[];
  /** Prefix for log lines echoed on failure. */
  name?: string;
  /** How long to wait for /healthz; the first start compiles the TypeScript (slow on a loaded machine). Default 90 s. */
  startTimeoutMs?: number;
}

export interface OperatorProcess {
  readonly name: string;
  readonly metricsUrl: string;
  readonly healthUrl: string;
  readonly child: ChildProcess;
  /** Every line the operator wrote so far. */
  logs(): string[];
  /** Reads the Prometheus text of /metrics and returns the sum of a metric's samples matching `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited(): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startOperator(options: OperatorProcessOptions): Promise<OperatorProcess> {
  const metricsPort = await freePort();
  const healthPort = await freePort();
  const name = options.name ?? 'operator';
  let defaultAccount = options.defaultAccount;
  if (defaultAccount === undefined) {
    const kc = new KubeConfig();
    kc.loadFromFile(options.adminKubeconfigPath ?? options.kubeconfigPath);
    defaultAccount = await applySimulatorAccount(kc, options.cphEndpoint, options.projectId);
  }
  const extra = options.extraArgs ?? [];
  const args = [
    '--import',
    'tsx',
    path.join(repoRoot, 'src/main.ts'),
    '--kubeconfig',
    options.kubeconfigPath,
    ...(defaultAccount ? ['--default-account', defaultAccount] : []),
    // Simulators listen on loopback; tests that check the allowlist pass their own.
    ...(extra.includes('--allowed-endpoint-hosts') ? [] : ['--allowed-endpoint-hosts', '127.0.0.1,localhost']),
    '--metrics-bind-address',
    `127.0.0.1:${metricsPort}`,
    '--health-probe-bind-address',
    `127.0.0.1:${healthPort}`,
    '--log-format',
    'json',
    '--log-level',
    'debug',
    ...(options.iamEndpoint ? ['--iam-endpoint', options.iamEndpoint] : []),
    ...(options.caFile ? ['--cph-ca-file', options.caFile] : []),
    ...extra,
  ];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return superviseOperator(child, {
    name,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    startTimeoutMs: options.startTimeoutMs ?? 90_000,
  });
}

export interface SuperviseOptions {
  name: string;
  /** Where the operator serves /metrics. */
  metricsUrl: string;
  /** Base URL of /healthz and /readyz. */
  healthUrl: string;
  startTimeoutMs: number;
}

/**
 * Watches an operator already started in `child` (its stdout and stderr piped): keeps its log lines, reads its
 * metrics, and resolves once /healthz answers. Signals sent by stop() go to `child`; a child that forwards them
 * (`podman run`, see test/image/) stops the process it runs.
 */
export async function superviseOperator(child: ChildProcess, options: SuperviseOptions): Promise<OperatorProcess> {
  const { name, metricsUrl, healthUrl } = options;
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const operator: OperatorProcess = {
    name,
    metricsUrl,
    healthUrl,
    child,
    logs: () => [...lines],
    async metric(metricName, labels = {}) {
      const text = await (await fetch(metricsUrl)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(metricName)) continue;
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
        if (!match || match[1] !== metricName) continue;
        const sampleLabels = Object.fromEntries(
          [...(match[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
        );
        if (Object.entries(labels).every(([key, value]) => sampleLabels[key] === value)) sum += Number(match[4]);
      }
      return sum;
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exit;
    },
    exited: () => exit,
  };
  process.once('exit', () => child.kill('SIGKILL'));
  // An operator that exits before it answers fails the start at once, with its last lines.
  const started = await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return 'exited';
      return (await fetch(`${healthUrl}/healthz`)).ok ? 'healthy' : undefined;
    },
    { timeoutMs: options.startTimeoutMs, what: `${name} /healthz` },
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${String(error)}\n${lines.slice(-40).join('\n')}`);
  });
  if (started === 'exited') {
    throw new Error(
      `${name} exited with ${child.exitCode ?? child.signalCode} before /healthz answered:\n${lines.slice(-40).join('\n')}`,
    );
  }
  return operator;
}
