/**
 * The fleet benchmark (`npm run bench`): the real operator process (dist/main.js) against a real etcd +
 * kube-apiserver and the CPH simulator with latency, job duration and a per-API gateway rate limit.
 * P phones, all drifted, are split over R CloudPhoneRoute resources; the benchmark measures
 *   1. convergence: from the operator being ready until every phone is on its route in CPH and every
 *      resource reports it (Ready, summary.inSync = its phones), beside the lower bound (bench-math.ts);
 *   2. CPH calls by operation (the simulator's counters) beside the theoretical minimum;
 *   3. steady state: CPH calls and Kubernetes writes per drift interval over several intervals;
 *   4. drift correction latency for random out-of-band changes (p50, p99);
 *   5. the operator's peak RSS (VmHWM) and CPU time (/proc/<pid>), the operator running with the NODE_OPTIONS
 *      of deploy/base/manager/deployment.yaml (its V8 heap budget), as in a cluster, unless --node-options
 *      gives other node flags;
 *   6. the same scenario done by a per-resource SDK-style loop (baseline.ts) against a fresh simulator.
 * With --accounts N, N simulators (one per CPH account, each its own project and keys) share the phones and the
 * resources evenly; the report's top-level figures are the fleet's totals and `accounts` has each account's.
 * With --restart, the operator is killed (SIGKILL) after the steady state and a new one started: its time to
 * /readyz, to having swept every account, and the route changes it sent (0 expected) are reported.
 * It writes a JSON report and SVG charts of converged phones over time. docs/benchmarks.md has the results.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { startControlPlane, type ControlPlane } from '../cluster/harness.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { CphClient } from '../../src/cph/client.js';
import { AkSkAuth } from '../../src/cph/auth.js';
import { ApiWindowLimiter, TokenBucket } from '../../src/cph/rate-limiter.js';
import { systemClock } from '../../src/runtime/clock.js';
import { installCrd, Routes } from '../support/routes.js';
import { freePort } from '../support/operator-process.js';
import { applyClusterAccount, applySimulatorAccount } from '../support/accounts.js';
import { SimAdmin, type SimCounters } from '../support/sim-admin.js';
import { waitFor } from '../support/wait.js';
import {
  aggregateAccounts,
  listPageSize,
  parseBenchArgs,
  percentile,
  planAccounts,
  round,
  splitAccounts,
  splitPhones,
  type BenchOptions,
} from './bench-math.js';
import { runBaseline } from './baseline.js';
import { renderLineChart } from './svg-chart.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Account i's project and key pair (account 0's are the operator's ambient credentials). */
const projectIdOf = (i: number): string => `benchproject${String(i).padStart(19, '0')}a`;
const akOf = (i: number): string => `BENCHACCESSKEY${String(i + 1).padStart(6, '0')}`;
const skOf = (i: number): string => `bench-secret-key-not-a-real-one-${String(i).padStart(9, '0')}`;
const projectId = projectIdOf(0);
const ak = akOf(0);
const sk = skOf(0);
const namespace = 'bench';
const wanted = 'routing' as const;

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The operator as a child process: node dist/main.js, metrics and probes on free loopback ports. */
interface OperatorChild {
  child: ChildProcess;
  pid: number;
  metricsUrl: string;
  readyUrl: string;
  lines: string[];
  spawnedAt: number;
}

/**
 * The node flags of the operator process: by default NODE_OPTIONS exactly as the Deployment sets it, so that the
 * memory figures are the ones users get; with --node-options, those flags on node's command line instead.
 */
interface OperatorNodeFlags {
  source: 'deployment' | '--node-options';
  /** Flags before dist/main.js on node's command line. */
  argv: string[];
  /** NODE_OPTIONS of the operator's environment, if any. */
  env: string | undefined;
}

const deploymentPath = path.join(repoRoot, 'deploy/base/manager/deployment.yaml');

function operatorNodeFlags(options: BenchOptions): OperatorNodeFlags {
  if (options.nodeOptions !== undefined) return { source: '--node-options', argv: options.nodeOptions, env: undefined };
  return { source: 'deployment', argv: [], env: deploymentNodeOptions(readFileSync(deploymentPath, 'utf8')) };
}

/** The value of NODE_OPTIONS in the env of the Deployment's `operator` container. */
function deploymentNodeOptions(yamlText: string): string {
  const field = (value: unknown, key: string): unknown =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)[key]
      : undefined;
  const named = (list: unknown, name: string): unknown =>
    Array.isArray(list) ? list.find((item) => field(item, 'name') === name) : undefined;
  const podSpec = field(field(field(parseYaml(yamlText), 'spec'), 'template'), 'spec');
  const value = field(named(field(named(field(podSpec, 'containers'), 'operator'), 'env'), 'NODE_OPTIONS'), 'value');
  if (typeof value !== 'string')
    throw new Error(`${deploymentPath}: the operator container sets no NODE_OPTIONS value`);
  return value;
}

async function spawnOperator(
  cp: ControlPlane,
  account: string,
  options: BenchOptions,
  nodeFlags: OperatorNodeFlags,
): Promise<OperatorChild> {
  const main = path.join(repoRoot, 'dist/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm run bench does)`);
  const metricsPort = await freePort();
  const healthPort = await freePort();
  const args = [
    ...nodeFlags.argv,
    main,
    '--kubeconfig',
    cp.kubeconfigPath,
    // Where and as whom: the ambient ClusterCloudPhoneAccount of the simulator, applied before the start.
    '--default-account',
    account,
    '--allowed-endpoint-hosts',
    '127.0.0.1',
    // The Secrets of accounts 1..N-1 are in the benchmark's namespace.
    '--cluster-resource-namespace',
    namespace,
    '--cph-qps',
    String(options.cphQps),
    '--cph-burst',
    String(options.cphBurst),
    '--cph-api-qps',
    String(options.cphApiQps),
    '--metrics-bind-address',
    `127.0.0.1:${metricsPort}`,
    '--health-probe-bind-address',
    `127.0.0.1:${healthPort}`,
    '--log-format',
    'json',
    '--log-level',
    process.env.BENCH_OPERATOR_LOG_LEVEL ?? 'info',
    ...options.operatorArgs,
  ];
  const spawnedAt = performance.now();
  // setpriv execs node in place (same PID): the operator is killed with this process even on SIGKILL.
  const wrapped = hasSetpriv()
    ? (['setpriv', ['--pdeathsig', 'SIGKILL', '--', process.execPath, ...args]] as const)
    : ([process.execPath, args] as const);
  const child = spawn(wrapped[0], [...wrapped[1]], {
    cwd: repoRoot,
    // The simulator's key pair as the operator's own (ambient) credentials, which its account uses, and the
    // Deployment's NODE_OPTIONS. Nothing else of this process's environment (its own NODE_OPTIONS included)
    // is passed on.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HUAWEICLOUD_SDK_AK: ak,
      HUAWEICLOUD_SDK_SK: sk,
      ...(nodeFlags.env !== undefined ? { NODE_OPTIONS: nodeFlags.env } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
    if (lines.length > 200_000) lines.splice(0, lines.length - 100_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  process.once('exit', () => child.kill('SIGKILL'));
  if (child.pid === undefined) throw new Error('operator did not start');
  return {
    child,
    pid: child.pid,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
    lines,
    spawnedAt,
  };
}

interface RecordedCall {
  at: number;
  operation: string;
  /** A ListCloudPhones page of a sweep (not a limit=1 credential check). */
  page: boolean;
}

/** Records when each CPH call arrived (for the report's call timeline), by wrapping the simulator's handler. */
function recordCalls(sim: RunningSimulator, log: RecordedCall[] = []): RecordedCall[] {
  const server = sim.server;
  const handle = server.handle.bind(server);
  server.handle = (req, res) => {
    const p = (req.url ?? '').split('?')[0] ?? '';
    const operation = p.startsWith('/_sim')
      ? ''
      : req.method === 'POST'
        ? 'ImportTraffic'
        : /\/jobs$/.test(p)
          ? 'ListJobs'
          : /\/jobs\//.test(p)
            ? 'ShowJob'
            : /\/phones$/.test(p)
              ? 'ListCloudPhones'
              : 'ShowCloudPhoneDetail';
    if (operation)
      log.push({
        at: performance.now(),
        operation,
        page: operation === 'ListCloudPhones' && !/[?&]limit=1(&|$)/.test(req.url ?? ''),
      });
    handle(req, res);
  };
  return log;
}

/** Per operation: how many calls, the first and last arrival, in seconds since t0. */
function callTimeline(
  calls: readonly RecordedCall[],
  t0: number,
  until: number,
): Record<string, { calls: number; first: number; last: number; at: number[] }> {
  const out: Record<string, { calls: number; first: number; last: number; at: number[] }> = {};
  for (const call of calls) {
    if (call.at < t0 || call.at > until) continue;
    const t = round((call.at - t0) / 1000, 2);
    const entry = (out[call.operation] ??= { calls: 0, first: t, last: t, at: [] });
    entry.calls += 1;
    entry.last = t;
    entry.at.push(t);
  }
  return out;
}

function hasSetpriv(): boolean {
  return spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore' }).status === 0;
}

async function metricSum(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === name) sum += Number(match[3]);
  }
  return sum;
}

/** Peak and current resident memory (MiB) and CPU seconds of a process, from /proc. */
function procStats(pid: number): { peakMiB: number; rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 a second on Linux).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { peakMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024, cpuSeconds: ticks / 100 };
}

/** Phones of the simulator on the wanted route now (jobs due by now are settled first). */
function onRoute(sim: RunningSimulator, ids: ReadonlySet<string> | undefined): number {
  const state = sim.server.state;
  state.settle(Date.now());
  let n = 0;
  for (const phone of state.fleet.phones) if (phone.trafficType === wanted && (!ids || ids.has(phone.phoneId))) n++;
  return n;
}

function callsByOperation(counters: SimCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [operation, counter] of Object.entries(counters.byOperation))
    if (counter.total > 0) out[operation] = counter.total;
  return out;
}

function diffCalls(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [operation, n] of Object.entries(after))
    if (n - (before[operation] ?? 0) > 0) out[operation] = n - (before[operation] ?? 0);
  return out;
}

const sum = (values: Iterable<number>): number => {
  let total = 0;
  for (const v of values) total += v;
  return total;
};

/** Follows the resources' status through a watch: Ready and summary.inSync per resource. */
class StatusWatch {
  readonly perRoute = new Map<string, { ready: boolean; inSync: number }>();
  readonly inSyncTimeline: Array<[number, number]> = [];
  private abort: AbortController | undefined;
  private t0 = performance.now();

  constructor(
    private readonly kc: KubeConfig,
    private readonly sizes: ReadonlyMap<string, number>,
  ) {}

  async start(): Promise<void> {
    this.abort = await new Watch(this.kc).watch(
      `/apis/cloudphone.dev/v1alpha1/namespaces/${namespace}/cloudphoneroutes`,
      {},
      (
        _phase,
        obj: {
          metadata?: { name?: string; generation?: number };
          status?: {
            observedGeneration?: number;
            summary?: { inSync?: number };
            conditions?: Array<{ type: string; status: string }>;
          };
        },
      ) => {
        const name = obj.metadata?.name ?? '';
        const status = obj.status;
        const ready =
          status?.observedGeneration === obj.metadata?.generation &&
          (status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
          (status?.summary?.inSync ?? 0) === this.sizes.get(name);
        this.perRoute.set(name, { ready, inSync: status?.summary?.inSync ?? 0 });
        this.inSyncTimeline.push([(performance.now() - this.t0) / 1000, this.inSync()]);
      },
      (err: unknown) => {
        if (err && !this.abort?.signal.aborted) log(`status watch ended: ${String(err)}`);
      },
    );
  }

  /** Starts the timeline's clock. */
  mark(t0: number): void {
    this.t0 = t0;
    this.inSyncTimeline.length = 0;
    this.inSyncTimeline.push([0, this.inSync()]);
  }

  inSync(): number {
    return sum([...this.perRoute.values()].map((r) => r.inSync));
  }

  allReady(names: Iterable<string> = this.sizes.keys()): boolean {
    for (const name of names) if (!this.perRoute.get(name)?.ready) return false;
    return true;
  }

  stop(): void {
    this.abort?.abort();
  }
}

async function ensureNamespace(kc: KubeConfig): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
}

/** One simulated CPH account: its simulator, its account object, its phones and its resources. */
interface BenchAccount {
  index: number;
  sim: RunningSimulator;
  /** The ClusterCloudPhoneAccount's name. */
  name: string;
  phoneIds: string[];
  groups: string[][];
  /** Names of its resources (filled by createRoutes). */
  routes: string[];
}

/**
 * Account 0 is the operator's --default-account with its ambient credentials (its routes name no account);
 * every other account is a ClusterCloudPhoneAccount whose keys are in a Secret, named by its routes' accountRef.
 */
async function applyAccount(kc: KubeConfig, index: number, sim: RunningSimulator): Promise<string> {
  if (index === 0) return applySimulatorAccount(kc, sim.url, projectIdOf(0));
  const name = `bench-account-${index}`;
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace,
    body: { metadata: { name }, stringData: { HUAWEICLOUD_SDK_AK: akOf(index), HUAWEICLOUD_SDK_SK: skOf(index) } },
  });
  await applyClusterAccount(kc, name, {
    endpoint: sim.url,
    projectId: projectIdOf(index),
    credentials: { secretRef: { name } },
    phoneScope: {},
  });
  return name;
}

async function createRoutes(
  kc: KubeConfig,
  accounts: readonly BenchAccount[],
  driftInterval: string,
): Promise<Map<string, number>> {
  const routes = new Routes(kc);
  const sizes = new Map<string, number>();
  const all = accounts.flatMap((account) => account.groups.map((phoneIds) => ({ account, phoneIds })));
  const width = String(all.length).length;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < all.length) {
      const i = next++;
      const name = `fleet-${String(i).padStart(width, '0')}`;
      const { account, phoneIds } = all[i] as (typeof all)[number];
      sizes.set(name, phoneIds.length);
      account.routes.push(name);
      const accountRef =
        account.index === 0 ? {} : { accountRef: { kind: 'ClusterCloudPhoneAccount', name: account.name } };
      for (let attempt = 0; ; attempt++) {
        try {
          await routes.create(namespace, name, {
            trafficType: wanted,
            phoneIds,
            driftCheckInterval: driftInterval,
            ...accountRef,
          });
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
          await sleep(200 * (attempt + 1));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, () => worker()));
  return sizes;
}

/** Waits until a sweep (a burst of ListCloudPhones) has ended: the counter moved, then stayed for `quietMs`. */
async function afterNextSweep(sim: RunningSimulator, quietMs: number, timeoutMs: number): Promise<void> {
  const lists = (): number => (sim.server.countersSnapshot() as SimCounters).byOperation.ListCloudPhones?.total ?? 0;
  const start = lists();
  await waitFor(() => lists() > start, { timeoutMs, intervalMs: 50, what: 'a list sweep' });
  let last = lists();
  let stableSince = performance.now();
  await waitFor(
    () => {
      const now = lists();
      if (now !== last) {
        last = now;
        stableSince = performance.now();
      }
      return performance.now() - stableSince >= quietMs;
    },
    { timeoutMs, intervalMs: 50, what: 'the end of a list sweep' },
  );
}

/** CPH counters summed over the accounts' simulators. */
function fleetCounters(accounts: readonly BenchAccount[]): {
  calls: Record<string, number>;
  rateLimited: number;
  routeWrites: number;
  costlyRepeats: number;
} {
  const calls: Record<string, number> = {};
  let rateLimited = 0;
  let routeWrites = 0;
  let costlyRepeats = 0;
  for (const { sim } of accounts) {
    const counters = sim.server.countersSnapshot() as SimCounters;
    for (const [operation, n] of Object.entries(callsByOperation(counters)))
      calls[operation] = (calls[operation] ?? 0) + n;
    rateLimited += Number(counters.rateLimited ?? 0);
    routeWrites += counters.routeWrites.total;
    costlyRepeats += counters.costlyRepeats.total;
  }
  return { calls, rateLimited, routeWrites, costlyRepeats };
}

const listCalls = (sim: RunningSimulator): number =>
  (sim.server.countersSnapshot() as SimCounters).byOperation.ListCloudPhones?.total ?? 0;

/** Waits for the operator's /readyz, failing early if it exits. */
async function untilReady(operator: OperatorChild): Promise<void> {
  await waitFor(
    async () => {
      if (operator.child.exitCode !== null || operator.child.signalCode !== null)
        throw new Error(
          `operator exited with ${operator.child.exitCode ?? operator.child.signalCode}:\n${operator.lines.slice(-30).join('\n')}`,
        );
      try {
        return (await fetch(operator.readyUrl)).ok;
      } catch {
        return false;
      }
    },
    { timeoutMs: 120_000, intervalMs: 20, what: 'operator /readyz' },
  );
}

/** Stops an operator (SIGTERM, or SIGKILL for a crash) and waits for its exit. */
async function stopOperator(operator: OperatorChild, signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null> {
  if (operator.child.exitCode !== null || operator.child.signalCode !== null) return operator.child.exitCode;
  const exited = new Promise<number | null>((resolve) => operator.child.once('exit', (code) => resolve(code)));
  operator.child.kill(signal);
  return exited;
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const out = path.resolve(options.out);
  const chartPath = path.resolve(options.chart ?? `${out.replace(/\.json$/i, '')}.svg`);
  const baselineChartPath = `${chartPath.replace(/\.svg$/i, '')}-baseline.svg`;
  const driftIntervalMs = options.driftIntervalSeconds * 1000;
  const simSettings = {
    projectId,
    ak,
    sk,
    phones: options.phones,
    seed: options.seed,
    latencyMs: options.latencyMs,
    jobMs: options.jobMs,
    rateLimit: options.rateLimit,
  };
  // Each account alone (its own gateway): its credentials are checked with one ListCloudPhones (limit 1) before
  // its first sweep. The fleet's minimum is the sum, its bound the slowest account's.
  const timing = { rateLimitPerApi: options.rateLimit, latencyMs: options.latencyMs, jobMs: options.jobMs };
  const plans = planAccounts(splitAccounts(options.phones, options.routes, options.accounts), timing);
  const slowest = plans.reduce((a, b) => (b.bound.seconds > a.bound.seconds ? b : a));
  const bound = slowest.bound;
  const minimum = {
    ListCloudPhones: sum(plans.map((p) => p.minimum.ListCloudPhones)),
    ImportTraffic: sum(plans.map((p) => p.minimum.ImportTraffic)),
    ListJobs: sum(plans.map((p) => p.minimum.ListJobs)),
    total: sum(plans.map((p) => p.minimum.total)),
  };
  log(
    `P=${options.phones} R=${options.routes} accounts=${options.accounts} latency=${options.latencyMs}ms job=${options.jobMs}ms limit=${options.rateLimit}/s per API, qps=${options.cphQps} (per API ${options.cphApiQps}); lower bound ${round(bound.seconds)} s, minimum ${minimum.total} calls`,
  );
  const nodeFlags = operatorNodeFlags(options);
  log(
    nodeFlags.source === 'deployment'
      ? `operator NODE_OPTIONS="${nodeFlags.env ?? ''}" (the Deployment's)`
      : `operator node flags "${nodeFlags.argv.join(' ')}" (--node-options)`,
  );

  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (error) {
        log(`cleanup: ${String(error)}`);
      }
    }
  };
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      if (interrupted) return;
      interrupted = true;
      log(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  try {
    log('starting the control plane');
    const cp = await startControlPlane({ progress: (line) => log(line) });
    cleanups.push(() => cp.stop());
    const kc = cp.kubeConfig();
    await installCrd(kc);
    await ensureNamespace(kc);

    const accounts: BenchAccount[] = [];
    for (const [index, plan] of plans.entries()) {
      // Account 0 keeps the single-account settings (same seed, same phone IDs as before --accounts).
      const sim = await startSimulator({
        ...simSettings,
        projectId: projectIdOf(index),
        ak: akOf(index),
        sk: skOf(index),
        phones: plan.phones,
        seed: options.seed + index,
      });
      cleanups.push(() => sim.close());
      const name = await applyAccount(kc, index, sim);
      const phoneIds = sim.server.state.fleet.phones.map((p) => p.phoneId);
      accounts.push({ index, sim, name, phoneIds, groups: splitPhones(phoneIds, plan.routes), routes: [] });
    }
    const sim = (accounts[0] as BenchAccount).sim;
    const phoneIds = (accounts[0] as BenchAccount).phoneIds;
    const groups = (accounts[0] as BenchAccount).groups;
    log(`creating ${options.routes} CloudPhoneRoute resources over ${accounts.length} account(s)`);
    const createdAt = performance.now();
    const sizes = await createRoutes(kc, accounts, `${options.driftIntervalSeconds}s`);
    const createSeconds = (performance.now() - createdAt) / 1000;
    const watch = new StatusWatch(kc, sizes);
    await watch.start();
    cleanups.push(() => watch.stop());
    await waitFor(() => watch.perRoute.size >= sizes.size, {
      timeoutMs: 60_000,
      what: 'the watch to list every resource',
    });
    const calls: RecordedCall[] = [];
    const callsOf = accounts.map((account) => {
      account.sim.server.resetCounters();
      const own = recordCalls(account.sim);
      recordCalls(account.sim, calls);
      return own;
    });

    // ---- 1. convergence ----
    log('starting the operator (dist/main.js)');
    let operator = await spawnOperator(cp, (accounts[0] as BenchAccount).name, options, nodeFlags);
    const operatorLines: string[][] = [operator.lines];
    const operatorLog = `${out.replace(/\.json$/i, '')}.operator.log`;
    const writeOperatorLog = (): Promise<void> =>
      writeFile(operatorLog, `${operatorLines.map((lines) => lines.join('\n')).join('\n--- restart ---\n')}\n`);
    // Written on failure too: what the operator said is the evidence.
    cleanups.push(writeOperatorLog);
    cleanups.push(async () => {
      await stopOperator(operator, 'SIGTERM');
    });
    await untilReady(operator);
    const t0 = performance.now();
    const startupSeconds = (t0 - operator.spawnedAt) / 1000;
    watch.mark(t0);
    const onRouteAll = (): number => sum(accounts.map((a) => onRoute(a.sim, undefined)));
    const onRouteTimeline: Array<[number, number]> = [[0, onRouteAll()]];
    const kubeWritesTimeline: Array<[number, number]> = [[0, 0]];
    const accountConverged: Array<number | undefined> = accounts.map(() => undefined);
    const accountOnRoute: Array<number | undefined> = accounts.map(() => undefined);
    let onRouteSeconds: number | undefined;
    let convergeSeconds: number | undefined;
    let converged = true;
    let rssSamples = 0;
    let rssPeakSampled = 0;
    const deadline = t0 + options.timeoutSeconds * 1000;
    while (convergeSeconds === undefined) {
      if (performance.now() > deadline) {
        // Report what was measured rather than nothing: converge_seconds is then the timeout, flagged.
        log(
          `NOT converged after ${options.timeoutSeconds} s: ${onRouteAll()} phones on route, ${watch.inSync()} in sync; measuring the rest anyway`,
        );
        converged = false;
        convergeSeconds = (performance.now() - t0) / 1000;
        break;
      }
      if (operator.child.exitCode !== null || operator.child.signalCode !== null)
        throw new Error(
          `operator exited with ${operator.child.exitCode ?? operator.child.signalCode}:\n${operator.lines.slice(-30).join('\n')}`,
        );
      await sleep(100);
      const t = (performance.now() - t0) / 1000;
      let n = 0;
      for (const account of accounts) {
        const own = onRoute(account.sim, undefined);
        n += own;
        const i = account.index;
        if (accountOnRoute[i] === undefined && own === account.phoneIds.length) accountOnRoute[i] = t;
        if (accountOnRoute[i] !== undefined && accountConverged[i] === undefined && watch.allReady(account.routes))
          accountConverged[i] = t;
      }
      onRouteTimeline.push([t, n]);
      if (onRouteSeconds === undefined && n === options.phones) onRouteSeconds = t;
      if (accountConverged.every((c) => c !== undefined)) convergeSeconds = t;
      if (++rssSamples % 10 === 0) {
        rssPeakSampled = Math.max(rssPeakSampled, procStats(operator.pid).rssMiB);
        // Progress every 10 s: what a slow or failed run was doing.
        if (rssSamples % 100 === 0)
          log(
            `t=${round(t, 1)} s: ${n} phones on route, ${watch.inSync()} in sync, accounts done ${accountConverged.filter((c) => c !== undefined).length}/${accounts.length}, RSS ${round(procStats(operator.pid).rssMiB)} MiB, CPU ${round(procStats(operator.pid).cpuSeconds)} s`,
          );
        try {
          kubeWritesTimeline.push([
            round(t, 2),
            await metricSum(operator.metricsUrl, 'cph_route_operator_kube_writes_total'),
          ]);
        } catch {
          // The operator may have just died: the exit check above reports it with its last lines.
          await sleep(200);
        }
      }
    }
    if (convergeSeconds === undefined) throw new Error('unreachable: left the convergence loop without a time');
    const convergeFleet = fleetCounters(accounts);
    const convergeCalls = convergeFleet.calls;
    const convergeCallsPerAccount = accounts.map((a) =>
      callsByOperation(a.sim.server.countersSnapshot() as SimCounters),
    );
    const convergeCallsTotal = sum(Object.values(convergeCalls));
    const convergeProc = procStats(operator.pid);
    const convergeTimeline = callTimeline(calls, t0, performance.now());
    const reconcilesAtConverge = {
      count: await metricSum(operator.metricsUrl, 'controller_runtime_reconcile_time_seconds_count'),
      seconds: round(await metricSum(operator.metricsUrl, 'controller_runtime_reconcile_time_seconds_sum'), 2),
      kube_writes: await metricSum(operator.metricsUrl, 'cph_route_operator_kube_writes_total'),
    };
    kubeWritesTimeline.push([round(convergeSeconds, 2), reconcilesAtConverge.kube_writes]);
    const processAtConverge = {
      heap_used_mib: round((await metricSum(operator.metricsUrl, 'nodejs_heap_size_used_bytes')) / 2 ** 20, 1),
      heap_total_mib: round((await metricSum(operator.metricsUrl, 'nodejs_heap_size_total_bytes')) / 2 ** 20, 1),
      external_mib: round((await metricSum(operator.metricsUrl, 'nodejs_external_memory_bytes')) / 2 ** 20, 1),
      eventloop_lag_p99_seconds: round(await metricSum(operator.metricsUrl, 'nodejs_eventloop_lag_p99_seconds'), 3),
      eventloop_lag_max_seconds: round(await metricSum(operator.metricsUrl, 'nodejs_eventloop_lag_max_seconds'), 3),
    };
    log(
      `converged in ${round(convergeSeconds)} s (phones on route at ${round(onRouteSeconds ?? 0)} s) with ${convergeCallsTotal} CPH calls ${JSON.stringify(convergeCalls)}, ${reconcilesAtConverge.kube_writes} Kubernetes writes`,
    );

    // ---- 2. steady state ----
    log(`steady state: ${options.steadyIntervals} drift intervals of ${options.driftIntervalSeconds} s`);
    await afterNextSweep(sim, 1000, driftIntervalMs * 3);
    await sleep(driftIntervalMs / 2);
    const steadyBefore = fleetCounters(accounts).calls;
    const steadyListsBefore = accounts.map((a) => listCalls(a.sim));
    const steadyCpuBefore = procStats(operator.pid).cpuSeconds;
    const writesBefore = await metricSum(operator.metricsUrl, 'cph_route_operator_kube_writes_total');
    const reconcilesBefore = await metricSum(operator.metricsUrl, 'controller_runtime_reconcile_total');
    await sleep(driftIntervalMs * options.steadyIntervals);
    const steadyCalls = diffCalls(fleetCounters(accounts).calls, steadyBefore);
    const steadyListsPerAccount = accounts.map((a, i) =>
      round((listCalls(a.sim) - (steadyListsBefore[i] ?? 0)) / options.steadyIntervals, 2),
    );
    const steadyCpuSeconds = procStats(operator.pid).cpuSeconds - steadyCpuBefore;
    const steadyWrites = (await metricSum(operator.metricsUrl, 'cph_route_operator_kube_writes_total')) - writesBefore;
    const steadyReconciles =
      (await metricSum(operator.metricsUrl, 'controller_runtime_reconcile_total')) - reconcilesBefore;
    const steadyPerInterval: Record<string, number> = {};
    for (const [operation, n] of Object.entries(steadyCalls))
      steadyPerInterval[operation] = round(n / options.steadyIntervals, 2);
    const steadyTotalPerInterval = round(sum(Object.values(steadyCalls)) / options.steadyIntervals, 2);
    const steadyCpuPerInterval = steadyCpuSeconds / options.steadyIntervals;
    log(
      `steady: ${steadyTotalPerInterval} CPH calls per interval ${JSON.stringify(steadyPerInterval)}, per account ${JSON.stringify(steadyListsPerAccount)} lists, ${steadyWrites} Kubernetes writes, ${round(steadyCpuPerInterval)} CPU s per interval`,
    );

    // ---- 3. restart: kill -9 in steady state, a new process ----
    let restart: Record<string, unknown> | null = null;
    let firstOperatorPeakMiB = 0;
    if (options.restart) {
      firstOperatorPeakMiB = Math.max(procStats(operator.pid).peakMiB, rssPeakSampled);
      const writesBeforeKill = accounts.map((a) => (a.sim.server.countersSnapshot() as SimCounters).routeWrites.total);
      const pagesBefore = callsOf.map((own) => own.length);
      log('restart: kill -9 the operator, start a new one');
      await stopOperator(operator, 'SIGKILL');
      const killedAt = performance.now();
      operator = await spawnOperator(cp, (accounts[0] as BenchAccount).name, options, nodeFlags);
      operatorLines.push(operator.lines);
      await untilReady(operator);
      const readyAt = performance.now();
      // Swept: the account had a whole sweep's pages (not credential checks) since the kill.
      const sweptAt: Array<number | undefined> = accounts.map(() => undefined);
      await waitFor(
        () => {
          for (const account of accounts) {
            const i = account.index;
            if (sweptAt[i] !== undefined) continue;
            const pages = (callsOf[i] ?? []).slice(pagesBefore[i]).filter((c) => c.page).length;
            if (pages >= Math.ceil(account.phoneIds.length / listPageSize)) sweptAt[i] = performance.now();
          }
          return sweptAt.every((t) => t !== undefined);
        },
        { timeoutMs: 3 * driftIntervalMs + 120_000, intervalMs: 20, what: 'every account swept after the restart' },
      );
      // Changes would follow a sweep at once; a job's duration more is ample to see any.
      await sleep(options.jobMs + 2000);
      const routeWritesAfter = accounts.map(
        (a, i) => (a.sim.server.countersSnapshot() as SimCounters).routeWrites.total - (writesBeforeKill[i] ?? 0),
      );
      const allSweptAt = Math.max(...(sweptAt as number[]));
      restart = {
        ready_seconds: round((readyAt - killedAt) / 1000),
        swept_all_seconds: round((allSweptAt - killedAt) / 1000),
        swept_seconds_per_account: sweptAt.map((t) => round(((t ?? killedAt) - killedAt) / 1000)),
        route_changes_after_restart: sum(routeWritesAfter),
        route_changes_per_account: routeWritesAfter,
        k8s_writes_after_restart: await metricSum(operator.metricsUrl, 'cph_route_operator_kube_writes_total'),
        rss_first_operator_peak_mib: round(firstOperatorPeakMiB, 1),
        rss_new_operator_peak_mib: round(procStats(operator.pid).peakMiB, 1),
      };
      log(`restart: ${JSON.stringify(restart)}`);
    }

    // ---- 4. drift correction latency ----
    const samples = Math.min(options.driftSamples, options.phones);
    log(`drift latency: ${samples} out-of-band changes over ${2 * options.driftIntervalSeconds} s`);
    const admins = accounts.map((a) => new SimAdmin(a.sim.url));
    cleanups.push(() => {
      for (const admin of admins) admin.close();
    });
    let rng = options.seed * 2654435761 + 1;
    const random = (): number => {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      return rng / 2147483648;
    };
    const chosen = new Map<string, { account: number; phoneId: string }>();
    while (chosen.size < samples) {
      // One account: the same picks as before --accounts existed.
      const account = (
        accounts.length === 1 ? accounts[0] : accounts[Math.floor(random() * accounts.length)]
      ) as BenchAccount;
      const phoneId = account.phoneIds[Math.floor(random() * account.phoneIds.length)] as string;
      chosen.set(`${account.index}/${phoneId}`, { account: account.index, phoneId });
    }
    const driftStart = performance.now();
    const drifts = [...chosen.values()].map((pick) => ({
      ...pick,
      at: random() * 2 * driftIntervalMs,
      changedAt: 0,
      fixedAt: 0,
    }));
    const driftWrites = await metricSum(operator.metricsUrl, 'cph_route_operator_kube_writes_total');
    await Promise.all(
      drifts.map(async (drift) => {
        await sleep(drift.at);
        await (admins[drift.account] as SimAdmin).drift(drift.phoneId, 'direct');
        drift.changedAt = performance.now();
      }),
    );
    const driftDeadline = performance.now() + 3 * driftIntervalMs + options.jobMs + 30_000;
    while (drifts.some((d) => d.fixedAt === 0) && performance.now() < driftDeadline) {
      await sleep(50);
      for (const account of accounts) account.sim.server.state.settle(Date.now());
      for (const drift of drifts)
        if (
          drift.fixedAt === 0 &&
          (accounts[drift.account] as BenchAccount).sim.server.state.fleet.get(drift.phoneId)?.trafficType === wanted
        )
          drift.fixedAt = performance.now();
    }
    const driftLatencies = drifts.filter((d) => d.fixedAt > 0).map((d) => (d.fixedAt - d.changedAt) / 1000);
    const driftKubeWrites =
      (await metricSum(operator.metricsUrl, 'cph_route_operator_kube_writes_total')) - driftWrites;
    log(
      `drift: p50 ${round(percentile(driftLatencies, 50))} s, p99 ${round(percentile(driftLatencies, 99))} s over ${driftLatencies.length}/${samples} (${round((performance.now() - driftStart) / 1000)} s)`,
    );

    const finalProc = procStats(operator.pid);
    const rssPeakMiB = Math.max(finalProc.peakMiB, rssPeakSampled, firstOperatorPeakMiB);
    const exitCode = await stopOperator(operator, 'SIGTERM');
    await writeOperatorLog();
    watch.stop();
    // ---- 5. baseline ----
    let baseline: Record<string, unknown> | undefined;
    const baselineTimeline: Array<[number, number]> = [];
    let baselineConfirmed: Array<[number, number]> = [];
    if (options.baseline) {
      log(`baseline: per-resource SDK loop, ${options.baselineConcurrency} resources at once, fresh simulator`);
      const fresh = await startSimulator(simSettings);
      cleanups.push(() => fresh.close());
      const freshIds = fresh.server.state.fleet.phones.map((p) => p.phoneId);
      if (freshIds.join() !== phoneIds.join())
        throw new Error('the fresh simulator has other phone IDs than the first: same seed expected');
      const client = new CphClient({
        endpoint: fresh.url,
        projectId,
        auth: new AkSkAuth({ ak, sk }, systemClock),
        rateLimiter: new TokenBucket({ qps: options.cphQps, burst: options.cphBurst, clock: systemClock }),
        apiWindow: new ApiWindowLimiter({ limit: options.cphApiQps, windowMs: 1_050, clock: systemClock }),
        userAgent: 'bench-baseline',
      });
      cleanups.push(() => client.close());
      const b0 = performance.now();
      let baselineOnRoute: number | undefined;
      let done = false;
      const sampler = (async () => {
        while (!done) {
          const t = (performance.now() - b0) / 1000;
          const n = onRoute(fresh, undefined);
          baselineTimeline.push([t, n]);
          if (baselineOnRoute === undefined && n === options.phones) baselineOnRoute = t;
          await sleep(200);
        }
      })();
      const result = await runBaseline(
        client,
        groups.map((ids, i) => ({ name: `fleet-${i}`, trafficType: wanted, phoneIds: ids })),
        { concurrency: options.baselineConcurrency, jobPollMs: 1000 },
      );
      done = true;
      await sampler;
      baselineConfirmed = result.confirmed;
      const baselineCalls = callsByOperation(fresh.server.countersSnapshot() as SimCounters);
      const baselineTotal = sum(Object.values(baselineCalls));
      baseline = {
        converge_seconds: round(result.seconds),
        phones_on_route_seconds: baselineOnRoute === undefined ? null : round(baselineOnRoute),
        cph_calls_total: baselineTotal,
        cph_calls: baselineCalls,
        rate_limited: (fresh.server.countersSnapshot() as SimCounters).rateLimited,
        failed_jobs: result.failedJobs,
        concurrency: options.baselineConcurrency,
        job_poll_seconds: 1,
        converge_ratio_to_operator: round(result.seconds / convergeSeconds),
        cph_calls_ratio_to_operator: round(baselineTotal / convergeCallsTotal),
      };
      log(`baseline: ${round(result.seconds)} s, ${baselineTotal} CPH calls ${JSON.stringify(baselineCalls)}`);
      client.close();
      await fresh.close();
    }

    // ---- report ----
    const targetListCalls = sum(plans.map((p) => Math.ceil(p.phones / listPageSize)));
    const perAccount = aggregateAccounts(
      plans,
      accounts.map((_account, i) => ({
        calls: convergeCallsPerAccount[i] ?? {},
        convergeSeconds: accountConverged[i],
        steadyListCallsPerInterval: steadyListsPerAccount[i] ?? 0,
      })),
    );
    const accountFigures = perAccount.accounts.map((figures, i) => ({
      ...figures,
      phones_on_route_seconds: accountOnRoute[i] === undefined ? null : round(accountOnRoute[i] as number),
    }));
    const writesPerResource = reconcilesAtConverge.kube_writes / options.routes;
    const report = {
      scenario: {
        phones: options.phones,
        routes: options.routes,
        accounts: options.accounts,
        drifted: options.phones,
        latency_ms: options.latencyMs,
        job_ms: options.jobMs,
        rate_limit_per_api: options.rateLimit,
        operator_cph_qps: options.cphQps,
        operator_cph_burst: options.cphBurst,
        operator_cph_api_qps: options.cphApiQps,
        operator_args: options.operatorArgs,
        operator_node_options:
          nodeFlags.source === 'deployment' ? (nodeFlags.env ?? '').split(/\s+/).filter(Boolean) : nodeFlags.argv,
        operator_node_options_source: nodeFlags.source,
        drift_check_interval_seconds: options.driftIntervalSeconds,
        seed: options.seed,
      },
      machine: {
        cpus: os.cpus().length,
        cpu_model: os.cpus()[0]?.model ?? '',
        memory_gib: round(os.totalmem() / 2 ** 30, 1),
        node: process.version,
        platform: `${os.type()} ${os.release()}`,
        kubernetes: cp.version,
      },
      resources_create_seconds: round(createSeconds),
      operator_startup_seconds: round(startupSeconds),
      converged,
      converge_seconds: round(convergeSeconds),
      phones_on_route_seconds: round(onRouteSeconds ?? convergeSeconds),
      lower_bound_seconds: round(bound.seconds),
      lower_bound_terms: {
        rate_seconds: round(bound.rateSeconds),
        latency_seconds: round(bound.latencySeconds),
        job_seconds: round(bound.jobSeconds),
      },
      converge_ratio: round(convergeSeconds / bound.seconds),
      cph_calls: convergeCalls,
      cph_calls_total: convergeCallsTotal,
      cph_calls_min: minimum.total,
      cph_calls_min_by_operation: {
        ListCloudPhones: minimum.ListCloudPhones,
        ImportTraffic: minimum.ImportTraffic,
        ListJobs: minimum.ListJobs,
      },
      cph_calls_ratio: round(convergeCallsTotal / minimum.total),
      rate_limited: convergeFleet.rateLimited,
      route_writes: convergeFleet.routeWrites,
      costly_repeats: convergeFleet.costlyRepeats,
      k8s_writes_at_converge: reconcilesAtConverge.kube_writes,
      k8s_writes_per_resource: round(writesPerResource),
      steady_window_seconds: options.steadyIntervals * options.driftIntervalSeconds,
      steady_intervals: options.steadyIntervals,
      steady_cph_calls_per_interval: steadyTotalPerInterval,
      steady_cph_calls_per_interval_by_operation: steadyPerInterval,
      steady_list_calls_target: targetListCalls,
      steady_k8s_writes: steadyWrites,
      steady_reconciles: steadyReconciles,
      steady_cpu_seconds_per_interval: round(steadyCpuPerInterval),
      steady_cpu_seconds_per_interval_per_10k_phones: round(steadyCpuPerInterval / (options.phones / 10_000), 3),
      drift_samples: samples,
      drift_corrected: driftLatencies.length,
      drift_p50_seconds: round(percentile(driftLatencies, 50)),
      drift_p99_seconds: round(percentile(driftLatencies, 99)),
      drift_max_seconds: round(Math.max(...driftLatencies)),
      drift_k8s_writes: driftKubeWrites,
      rss_peak_mib: round(rssPeakMiB, 1),
      rss_at_converge_mib: round(convergeProc.rssMiB, 1),
      rss_final_mib: round(finalProc.rssMiB, 1),
      process_at_converge: processAtConverge,
      cpu_seconds_to_converge: round(convergeProc.cpuSeconds),
      cpu_seconds_total: round(finalProc.cpuSeconds),
      operator_exit_code: exitCode,
      converge_reconciles: reconcilesAtConverge,
      converge_call_timeline: convergeTimeline,
      converge_k8s_writes_timeline: kubeWritesTimeline,
      accounts: accountFigures,
      restart,
      baseline:
        baseline ??
        (options.accounts > 1 ? 'skipped: a single-account SDK loop has no counterpart with several accounts' : null),
      targets: {
        cph_calls_at_most_1_05x_min: convergeCallsTotal <= 1.05 * minimum.total,
        converge_within_1_3x_lower_bound: converged && convergeSeconds <= 1.3 * bound.seconds,
        converge_within_1_5x_lower_bound: converged && convergeSeconds <= 1.5 * bound.seconds,
        k8s_writes_per_resource_at_most_2: writesPerResource <= 2,
        steady_list_calls_per_account_per_interval: accountFigures.every(
          (a) => a.steady_list_calls_per_interval === a.steady_list_calls_target,
        ),
        steady_only_list_calls:
          (steadyPerInterval.ListCloudPhones ?? 0) === targetListCalls && steadyTotalPerInterval === targetListCalls,
        steady_zero_k8s_writes: steadyWrites === 0,
        rss_at_most_256_mib: rssPeakMiB <= 256,
        restart_zero_route_changes: restart === null ? null : restart.route_changes_after_restart === 0,
      },
      charts: { converged: chartPath, baseline: options.baseline ? baselineChartPath : null },
    };
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);

    const thin = (points: Array<[number, number]>, max = 600): Array<[number, number]> => {
      if (points.length <= max) return points;
      const step = points.length / max;
      const kept: Array<[number, number]> = [];
      for (let i = 0; i < max; i++) kept.push(points[Math.floor(i * step)] as [number, number]);
      kept.push(points[points.length - 1] as [number, number]);
      return kept;
    };
    const inSync = watch.inSyncTimeline.filter(([t]) => t <= convergeSeconds + 1);
    await writeFile(
      chartPath,
      renderLineChart({
        title: `Converged phones, P=${options.phones}, R=${options.routes}${options.accounts > 1 ? `, ${options.accounts} accounts` : ''} (operator)`,
        xLabel: `seconds since the operator was ready (job ${options.jobMs / 1000} s, ${options.rateLimit} req/s per API, ${options.latencyMs} ms latency)`,
        yLabel: 'phones',
        series: [
          { name: 'on route in CPH', points: thin(onRouteTimeline), color: '#1f77b4', step: true },
          { name: 'reported inSync in status', points: thin(inSync), color: '#2ca02c', step: true, dashed: true },
        ],
        markers: [
          { x: bound.seconds, label: `lower bound ${round(bound.seconds, 1)} s`, color: '#d62728' },
          { x: convergeSeconds, label: `converged ${round(convergeSeconds, 1)} s`, color: '#555555' },
        ],
        yMax: options.phones,
      }),
    );
    if (options.baseline) {
      await writeFile(
        baselineChartPath,
        renderLineChart({
          title: `Operator vs per-resource SDK loop, P=${options.phones}, R=${options.routes}`,
          xLabel: 'seconds since start',
          yLabel: 'phones on route in CPH',
          series: [
            { name: 'operator', points: thin(onRouteTimeline), color: '#1f77b4', step: true },
            { name: 'baseline (SDK loop)', points: thin(baselineTimeline), color: '#ff7f0e', step: true },
            { name: 'baseline confirmed', points: thin(baselineConfirmed), color: '#ff7f0e', step: true, dashed: true },
          ],
          markers: [{ x: bound.seconds, label: 'lower bound', color: '#d62728' }],
          yMax: options.phones,
        }),
      );
    }
    log(`wrote ${out} and ${chartPath}`);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
