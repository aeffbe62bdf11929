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
import { applySimulatorAccount } from '../support/accounts.js';
import { SimAdmin, type SimCounters } from '../support/sim-admin.js';
import { waitFor } from '../support/wait.js';
import {
  lowerBound,
  minimumCalls,
  parseBenchArgs,
  percentile,
  round,
  splitPhones,
  type BenchOptions,
} from './bench-math.js';
import { runBaseline } from './baseline.js';
import { renderLineChart } from './svg-chart.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const projectId = 'benchproject0000000000000000000a';
const ak = 'BENCHACCESSKEY000001';
const sk = 'bench-secret-key-not-a-real-one-000000000';
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

/** Records when each CPH call arrived (for the report's call timeline), by wrapping the simulator's handler. */
function recordCalls(sim: RunningSimulator): Array<{ at: number; operation: string }> {
  const log: Array<{ at: number; operation: string }> = [];
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
    if (operation) log.push({ at: performance.now(), operation });
    handle(req, res);
  };
  return log;
}

/** Per operation: how many calls, the first and last arrival, in seconds since t0. */
function callTimeline(
  calls: ReadonlyArray<{ at: number; operation: string }>,
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

  allReady(): boolean {
    if (this.perRoute.size < this.sizes.size) return false;
    for (const name of this.sizes.keys()) if (!this.perRoute.get(name)?.ready) return false;
    return true;
  }

  stop(): void {
    this.abort?.abort();
  }
}

async function createRoutes(kc: KubeConfig, groups: string[][], driftInterval: string): Promise<Map<string, number>> {
  const core = kc.makeApiClient(CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
  const routes = new Routes(kc);
  const sizes = new Map<string, number>();
  const width = String(groups.length).length;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < groups.length) {
      const i = next++;
      const name = `fleet-${String(i).padStart(width, '0')}`;
      const phoneIds = groups[i] as string[];
      sizes.set(name, phoneIds.length);
      for (let attempt = 0; ; attempt++) {
        try {
          await routes.create(namespace, name, { trafficType: wanted, phoneIds, driftCheckInterval: driftInterval });
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
  // One account: its credentials are checked with one ListCloudPhones (limit 1) before the first sweep.
  const scenario = { phones: options.phones, drifted: options.phones, verifiedCredentials: 1 };
  const timing = { rateLimitPerApi: options.rateLimit, latencyMs: options.latencyMs, jobMs: options.jobMs };
  const bound = lowerBound(scenario, timing);
  const minimum = minimumCalls(scenario);
  log(
    `P=${options.phones} R=${options.routes} latency=${options.latencyMs}ms job=${options.jobMs}ms limit=${options.rateLimit}/s per API, qps=${options.cphQps} (per API ${options.cphApiQps}); lower bound ${round(bound.seconds)} s, minimum ${minimum.total} calls`,
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

    const sim = await startSimulator(simSettings);
    cleanups.push(() => sim.close());
    const account = await applySimulatorAccount(kc, sim.url, projectId);
    const phoneIds = sim.server.state.fleet.phones.map((p) => p.phoneId);
    const groups = splitPhones(phoneIds, options.routes);
    log(`creating ${groups.length} CloudPhoneRoute resources`);
    const createdAt = performance.now();
    const sizes = await createRoutes(kc, groups, `${options.driftIntervalSeconds}s`);
    const createSeconds = (performance.now() - createdAt) / 1000;
    const watch = new StatusWatch(kc, sizes);
    await watch.start();
    cleanups.push(() => watch.stop());
    await waitFor(() => watch.perRoute.size >= sizes.size, {
      timeoutMs: 60_000,
      what: 'the watch to list every resource',
    });
    sim.server.resetCounters();
    const calls = recordCalls(sim);

    // ---- 1. convergence ----
    log('starting the operator (dist/main.js)');
    const operator = await spawnOperator(cp, account, options, nodeFlags);
    cleanups.push(async () => {
      if (operator.child.exitCode === null && operator.child.signalCode === null) {
        operator.child.kill('SIGTERM');
        await new Promise((resolve) => operator.child.once('exit', resolve));
      }
    });
    await waitFor(
      async () => {
        if (operator.child.exitCode !== null)
          throw new Error(`operator exited with ${operator.child.exitCode}:\n${operator.lines.slice(-30).join('\n')}`);
        return (await fetch(operator.readyUrl)).ok;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: 'operator /readyz' },
    );
    const t0 = performance.now();
    const startupSeconds = (t0 - operator.spawnedAt) / 1000;
    watch.mark(t0);
    const onRouteTimeline: Array<[number, number]> = [[0, onRoute(sim, undefined)]];
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
          `NOT converged after ${options.timeoutSeconds} s: ${onRoute(sim, undefined)} phones on route, ${watch.inSync()} in sync; measuring the rest anyway`,
        );
        converged = false;
        convergeSeconds = (performance.now() - t0) / 1000;
        break;
      }
      if (operator.child.exitCode !== null)
        throw new Error(`operator exited with ${operator.child.exitCode}:\n${operator.lines.slice(-30).join('\n')}`);
      await sleep(100);
      const t = (performance.now() - t0) / 1000;
      const n = onRoute(sim, undefined);
      onRouteTimeline.push([t, n]);
      if (onRouteSeconds === undefined && n === options.phones) onRouteSeconds = t;
      if (onRouteSeconds !== undefined && watch.allReady()) convergeSeconds = t;
      if (++rssSamples % 10 === 0) rssPeakSampled = Math.max(rssPeakSampled, procStats(operator.pid).rssMiB);
    }
    if (convergeSeconds === undefined) throw new Error('unreachable: left the convergence loop without a time');
    const convergeCounters = sim.server.countersSnapshot() as SimCounters;
    const convergeCalls = callsByOperation(convergeCounters);
    const convergeCallsTotal = sum(Object.values(convergeCalls));
    const convergeProc = procStats(operator.pid);
    const convergeTimeline = callTimeline(calls, t0, performance.now());
    const reconcilesAtConverge = {
      count: await metricSum(operator.metricsUrl, 'reconcile_duration_seconds_count'),
      seconds: round(await metricSum(operator.metricsUrl, 'reconcile_duration_seconds_sum'), 2),
      kube_writes: await metricSum(operator.metricsUrl, 'kube_writes_total'),
    };
    const processAtConverge = {
      heap_used_mib: round((await metricSum(operator.metricsUrl, 'nodejs_heap_size_used_bytes')) / 2 ** 20, 1),
      heap_total_mib: round((await metricSum(operator.metricsUrl, 'nodejs_heap_size_total_bytes')) / 2 ** 20, 1),
      external_mib: round((await metricSum(operator.metricsUrl, 'nodejs_external_memory_bytes')) / 2 ** 20, 1),
      eventloop_lag_p99_seconds: round(await metricSum(operator.metricsUrl, 'nodejs_eventloop_lag_p99_seconds'), 3),
      eventloop_lag_max_seconds: round(await metricSum(operator.metricsUrl, 'nodejs_eventloop_lag_max_seconds'), 3),
    };
    log(
      `converged in ${round(convergeSeconds)} s (phones on route at ${round(onRouteSeconds ?? 0)} s) with ${convergeCallsTotal} CPH calls ${JSON.stringify(convergeCalls)}`,
    );

    // ---- 2. steady state ----
    log(`steady state: ${options.steadyIntervals} drift intervals of ${options.driftIntervalSeconds} s`);
    await afterNextSweep(sim, 1000, driftIntervalMs * 3);
    await sleep(driftIntervalMs / 2);
    const steadyBefore = callsByOperation(sim.server.countersSnapshot() as SimCounters);
    const writesBefore = await metricSum(operator.metricsUrl, 'kube_writes_total');
    const reconcilesBefore = await metricSum(operator.metricsUrl, 'reconciles_total');
    await sleep(driftIntervalMs * options.steadyIntervals);
    const steadyCalls = diffCalls(callsByOperation(sim.server.countersSnapshot() as SimCounters), steadyBefore);
    const steadyWrites = (await metricSum(operator.metricsUrl, 'kube_writes_total')) - writesBefore;
    const steadyReconciles = (await metricSum(operator.metricsUrl, 'reconciles_total')) - reconcilesBefore;
    const steadyPerInterval: Record<string, number> = {};
    for (const [operation, n] of Object.entries(steadyCalls))
      steadyPerInterval[operation] = round(n / options.steadyIntervals, 2);
    const steadyTotalPerInterval = round(sum(Object.values(steadyCalls)) / options.steadyIntervals, 2);
    log(
      `steady: ${steadyTotalPerInterval} CPH calls per interval ${JSON.stringify(steadyPerInterval)}, ${steadyWrites} Kubernetes writes`,
    );

    // ---- 3. drift correction latency ----
    const samples = Math.min(options.driftSamples, options.phones);
    log(`drift latency: ${samples} out-of-band changes over ${2 * options.driftIntervalSeconds} s`);
    const admin = new SimAdmin(sim.url);
    cleanups.push(() => admin.close());
    let rng = options.seed * 2654435761 + 1;
    const random = (): number => {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      return rng / 2147483648;
    };
    const chosen = new Set<string>();
    while (chosen.size < samples) chosen.add(phoneIds[Math.floor(random() * phoneIds.length)] as string);
    const driftStart = performance.now();
    const drifts = [...chosen].map((phoneId) => ({
      phoneId,
      at: random() * 2 * driftIntervalMs,
      changedAt: 0,
      fixedAt: 0,
    }));
    const driftWrites = await metricSum(operator.metricsUrl, 'kube_writes_total');
    await Promise.all(
      drifts.map(async (drift) => {
        await sleep(drift.at);
        await admin.drift(drift.phoneId, 'direct');
        drift.changedAt = performance.now();
      }),
    );
    const driftDeadline = performance.now() + 3 * driftIntervalMs + options.jobMs + 30_000;
    while (drifts.some((d) => d.fixedAt === 0) && performance.now() < driftDeadline) {
      await sleep(50);
      const state = sim.server.state;
      state.settle(Date.now());
      for (const drift of drifts)
        if (drift.fixedAt === 0 && state.fleet.get(drift.phoneId)?.trafficType === wanted)
          drift.fixedAt = performance.now();
    }
    const driftLatencies = drifts.filter((d) => d.fixedAt > 0).map((d) => (d.fixedAt - d.changedAt) / 1000);
    const driftKubeWrites = (await metricSum(operator.metricsUrl, 'kube_writes_total')) - driftWrites;
    log(
      `drift: p50 ${round(percentile(driftLatencies, 50))} s, p99 ${round(percentile(driftLatencies, 99))} s over ${driftLatencies.length}/${samples} (${round((performance.now() - driftStart) / 1000)} s)`,
    );

    const finalProc = procStats(operator.pid);
    const rssPeakMiB = Math.max(finalProc.peakMiB, rssPeakSampled);
    operator.child.kill('SIGTERM');
    const exitCode = await new Promise<number | null>((resolve) =>
      operator.child.once('exit', (code) => resolve(code)),
    );
    const operatorLog = `${out.replace(/\.json$/i, '')}.operator.log`;
    await writeFile(operatorLog, `${operator.lines.join('\n')}\n`);
    watch.stop();

    // ---- 4. baseline ----
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
    const targetListCalls = Math.ceil(options.phones / 100);
    const report = {
      scenario: {
        phones: options.phones,
        routes: options.routes,
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
      rate_limited: convergeCounters.rateLimited,
      route_writes: convergeCounters.routeWrites.total,
      costly_repeats: convergeCounters.costlyRepeats.total,
      steady_window_seconds: options.steadyIntervals * options.driftIntervalSeconds,
      steady_intervals: options.steadyIntervals,
      steady_cph_calls_per_interval: steadyTotalPerInterval,
      steady_cph_calls_per_interval_by_operation: steadyPerInterval,
      steady_list_calls_target: targetListCalls,
      steady_k8s_writes: steadyWrites,
      steady_reconciles: steadyReconciles,
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
      baseline: baseline ?? null,
      targets: {
        cph_calls_at_most_1_1x_min: convergeCallsTotal <= 1.1 * minimum.total,
        converge_within_1_2x_lower_bound: converged && convergeSeconds <= 1.2 * bound.seconds,
        steady_list_calls_per_interval:
          (steadyPerInterval.ListCloudPhones ?? 0) === targetListCalls && steadyTotalPerInterval === targetListCalls,
        steady_zero_k8s_writes: steadyWrites === 0,
        rss_at_most_150_mib: rssPeakMiB <= 150,
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
        title: `Converged phones, P=${options.phones}, R=${options.routes} (operator)`,
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
