/**
 * The pure parts of the fleet benchmark: the theoretical minimum of CPH calls, the lower bound on the time
 * to converge, percentiles, how phones are split over resources, and the command line. docs/benchmarks.md
 * derives the formulas; test/unit/bench-math.test.ts checks them.
 */

/** CPH's safe page size for ListCloudPhones, the most IDs one phones-traffic call takes, jobs per ListJobs page. */
export const listPageSize = 100;
export const maxIdsPerWrite = 100;
export const jobsPerListJobsPage = 100;

export interface Scenario {
  /** Phones the resources select (P). */
  phones: number;
  /** Phones whose route differs from the wanted one (D); the benchmark drifts all of them. */
  drifted: number;
  /**
   * Credentials checked before first use (A; default 0). The operator acts through an account only once a list
   * call (ListCloudPhones, limit 1) with its credentials succeeded; the benchmark's operator has one account.
   */
  verifiedCredentials?: number;
}

export interface MinimumCalls {
  ListCloudPhones: number;
  ImportTraffic: number;
  ListJobs: number;
  total: number;
}

/**
 * The fewest CPH calls that can bring P phones, D of them drifted, in line and know it:
 *   A ListCloudPhones of one phone, one per set of credentials checked before it is used (0 for a client that
 *   trusts its key; 1 for the operator with one account),
 *   ceil(P/100) ListCloudPhones (one sweep at the safe page size) to learn the actual routes,
 *   ceil(D/100) ImportTraffic (100 IDs a call),
 *   ceil(D/100) ListJobs: every job's outcome must be read once, and a ListJobs page holds at most 100 jobs
 *   (20 request IDs per call do not help past that: 20 full requests are 2,000 jobs, 20 pages). This assumes
 *   one poll round after the jobs end; every earlier round that finds jobs still running is extra.
 */
export function minimumCalls(scenario: Scenario): MinimumCalls {
  const list = (scenario.verifiedCredentials ?? 0) + Math.ceil(scenario.phones / listPageSize);
  const writes = Math.ceil(scenario.drifted / maxIdsPerWrite);
  const polls = Math.ceil(scenario.drifted / jobsPerListJobsPage);
  return { ListCloudPhones: list, ImportTraffic: writes, ListJobs: polls, total: list + writes + polls };
}

export interface Timing {
  /** Gateway limit, requests per second per API (L). */
  rateLimitPerApi: number;
  /** Latency of one call (the simulator adds it before answering), ms (l). */
  latencyMs: number;
  /** How long a route job runs, ms (J). */
  jobMs: number;
}

export interface LowerBound {
  seconds: number;
  /** max(ceil(P/100), ceil(D/100)) / L: the busiest API at the gateway's rate. */
  rateSeconds: number;
  /** 3 l: a list page read, the write that follows it, the poll that reads the job's end. */
  latencySeconds: number;
  jobSeconds: number;
}

/**
 * A lower bound on the time from the first call to knowing every phone is in line, for any client:
 * the gateway lets L calls per second through each API, so the last list page or the last write (whichever
 * API has more calls) cannot go out before max(N_list, N_write)/L; that write's phones had to be read first
 * (one latency) and the write itself takes one latency to be accepted; its jobs then run J; and one more call
 * must read their end. Reads and writes may overlap (they are different APIs), so they do not add up.
 *   T >= max(ceil(P/100), ceil(D/100)) / L + 3 l + J
 * Reading L as a steady rate (a token bucket without burst). A gateway with a one-second fixed window, as the
 * simulator has, lets up to L calls through at once, so with N <= L a perfect client could save up to N/L.
 */
export function lowerBound(scenario: Scenario, timing: Timing): LowerBound {
  // For any client: credential checks are the operator's choice, not the API's, so they are left out here.
  const min = minimumCalls({ phones: scenario.phones, drifted: scenario.drifted });
  const rateSeconds = Math.max(min.ListCloudPhones, min.ImportTraffic) / timing.rateLimitPerApi;
  const latencySeconds = (3 * timing.latencyMs) / 1000;
  const jobSeconds = timing.jobMs / 1000;
  return { seconds: rateSeconds + latencySeconds + jobSeconds, rateSeconds, latencySeconds, jobSeconds };
}

/** Nearest-rank percentile (p in 0..100) of the values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)] as number;
}

/** Splits phone IDs into `parts` contiguous groups whose sizes differ by at most one. */
export function splitPhones<T>(ids: readonly T[], parts: number): T[][] {
  const groups: T[][] = [];
  const n = Math.max(1, Math.min(parts, ids.length || 1));
  let start = 0;
  for (let i = 0; i < n; i++) {
    const size = Math.floor(ids.length / n) + (i < ids.length % n ? 1 : 0);
    groups.push(ids.slice(start, start + size));
    start += size;
  }
  return groups;
}

/** One account's share of the fleet: its phones and its resources. */
export interface AccountShare {
  phones: number;
  routes: number;
}

/**
 * Splits P phones and R resources evenly over N accounts (sizes differ by at most one; the larger shares of
 * phones and of resources go to the same, first, accounts). Throws when an account would get no resource.
 */
export function splitAccounts(phones: number, routes: number, accounts: number): AccountShare[] {
  if (!Number.isInteger(accounts) || accounts < 1) throw new Error(`accounts must be an integer >= 1, got ${accounts}`);
  if (routes < accounts) throw new Error(`${accounts} accounts need at least as many resources, got ${routes}`);
  const share = (total: number, i: number): number => Math.floor(total / accounts) + (i < total % accounts ? 1 : 0);
  return Array.from({ length: accounts }, (_, i) => ({ phones: share(phones, i), routes: share(routes, i) }));
}

/** One account's targets: its minimum of calls (one credential check) and its lower bound, all phones drifted. */
export interface AccountPlan extends AccountShare {
  minimum: MinimumCalls;
  bound: LowerBound;
}

/**
 * Each account alone: minimum and bound of its own share. Accounts have separate gateways (each its own
 * project and keys), so they can proceed in parallel: the fleet's bound is the slowest account's, its
 * minimum the sum.
 */
export function planAccounts(shares: readonly AccountShare[], timing: Timing): AccountPlan[] {
  return shares.map((share) => {
    const scenario = { phones: share.phones, drifted: share.phones, verifiedCredentials: 1 };
    return { ...share, minimum: minimumCalls(scenario), bound: lowerBound(scenario, timing) };
  });
}

/** What was measured for one account. */
export interface AccountMeasurement {
  /** CPH calls by operation until the whole fleet converged. */
  calls: Record<string, number>;
  /** Seconds from the operator's readiness until its phones were on route and its resources Ready. */
  convergeSeconds: number | undefined;
  /** Its ListCloudPhones calls per drift interval in steady state. */
  steadyListCallsPerInterval: number;
}

export interface AccountFigures {
  account: number;
  phones: number;
  routes: number;
  cph_calls_total: number;
  cph_calls: Record<string, number>;
  cph_calls_min: number;
  cph_calls_ratio: number;
  lower_bound_seconds: number;
  converge_seconds: number | null;
  converge_ratio: number | null;
  steady_list_calls_per_interval: number;
  steady_list_calls_target: number;
}

export interface FleetTotals {
  cphCallsTotal: number;
  cphCallsMin: number;
  /** The slowest account's bound. */
  lowerBoundSeconds: number;
  /** The last account's convergence; undefined if one did not converge. */
  convergeSeconds: number | undefined;
}

/** The report's per-account entries and the fleet's totals from them. */
export function aggregateAccounts(
  plans: readonly AccountPlan[],
  measured: readonly AccountMeasurement[],
): { accounts: AccountFigures[]; totals: FleetTotals } {
  if (plans.length !== measured.length) throw new Error(`${plans.length} plans but ${measured.length} measurements`);
  const accounts = plans.map((plan, i): AccountFigures => {
    const m = measured[i] as AccountMeasurement;
    const total = Object.values(m.calls).reduce((a, b) => a + b, 0);
    return {
      account: i,
      phones: plan.phones,
      routes: plan.routes,
      cph_calls_total: total,
      cph_calls: m.calls,
      cph_calls_min: plan.minimum.total,
      cph_calls_ratio: round(total / plan.minimum.total),
      lower_bound_seconds: round(plan.bound.seconds),
      converge_seconds: m.convergeSeconds === undefined ? null : round(m.convergeSeconds),
      converge_ratio: m.convergeSeconds === undefined ? null : round(m.convergeSeconds / plan.bound.seconds),
      steady_list_calls_per_interval: m.steadyListCallsPerInterval,
      steady_list_calls_target: Math.ceil(plan.phones / listPageSize),
    };
  });
  const times = measured.map((m) => m.convergeSeconds);
  return {
    accounts,
    totals: {
      cphCallsTotal: accounts.reduce((a, f) => a + f.cph_calls_total, 0),
      cphCallsMin: plans.reduce((a, p) => a + p.minimum.total, 0),
      lowerBoundSeconds: Math.max(...plans.map((p) => p.bound.seconds)),
      convergeSeconds: times.some((t) => t === undefined) ? undefined : Math.max(...(times as number[])),
    },
  };
}

/** Rounds to `digits` decimals (for the report). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export interface BenchOptions {
  phones: number;
  routes: number;
  out: string;
  chart: string | undefined;
  latencyMs: number;
  jobMs: number;
  rateLimit: number;
  cphQps: number;
  cphBurst: number;
  cphApiQps: number;
  driftIntervalSeconds: number;
  steadyIntervals: number;
  driftSamples: number;
  seed: number;
  baseline: boolean;
  baselineConcurrency: number;
  timeoutSeconds: number;
  /** Extra operator flags, e.g. ['--max-concurrent-reconciles', '16']. */
  operatorArgs: string[];
  /**
   * Node flags for the operator process, e.g. ['--max-old-space-size=96'], given on its command line instead of
   * the Deployment's NODE_OPTIONS; [] runs it with V8's defaults. Undefined (no --node-options): the operator
   * gets the NODE_OPTIONS of deploy/base/manager/deployment.yaml, as it does in a cluster.
   */
  nodeOptions: string[] | undefined;
  /** CPH accounts (N): N simulators, each its own project and keys, phones and resources split evenly. */
  accounts: number;
  /** After the steady state: kill -9 the operator, start another, measure its readiness, sweeps and writes. */
  restart: boolean;
}

export const benchUsage = `Usage: npm run bench -- [options]
  --phones <P>              phones, all drifted at the start (default 10000)
  --routes <R>              CloudPhoneRoute resources the phones are split over (default 100)
  --accounts <N>            CPH accounts, one simulator each, phones and resources split evenly (default 1;
                            above 1 the baseline is skipped)
  --restart                 after the steady state, kill -9 the operator and start another: time to /readyz,
                            to every account swept, route changes sent after the restart
  --out <file>              JSON report (default bench.json)
  --chart <file>            SVG chart of converged phones over time (default: <out without .json>.svg)
  --latency-ms <ms>         simulator latency per call (default 50)
  --job-ms <ms>             simulator route job duration (default 5000)
  --rate-limit <n>          simulator gateway limit, requests/s per API (default 50)
  --cph-api-qps <n>         operator --cph-api-qps, calls of one API per second (default: the rate limit)
  --cph-qps <n>             operator --cph-qps, all APIs together (default: 3 x the rate limit, the
                            gateway's allowance over the three APIs a convergence uses)
  --cph-burst <n>           operator --cph-burst (default: --cph-qps)
  --drift-interval <s>      spec.driftCheckInterval in seconds (default 10, 30 above 5000 phones)
  --steady-intervals <n>    drift intervals observed in steady state (default 3)
  --drift-samples <n>       out-of-band changes for the drift latency (default 40)
  --seed <n>                simulator seed (default 7)
  --baseline-concurrency <n> resources the baseline handles at once (default 4)
  --no-baseline             skip the baseline
  --timeout <s>             give up converging after this long (default 600)
  --operator-args "<flags>" extra cph-route-operator flags, space-separated (default none)
  --node-options "<flags>"  node flags for the operator process, space-separated, instead of the
                            Deployment's (default: NODE_OPTIONS of deploy/base/manager/deployment.yaml,
                            what the operator gets in a cluster; "" runs it with V8's defaults)`;

/** Parses the benchmark's flags; throws an Error naming the flag on bad input. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--no-baseline' || arg === '--restart' || arg === '--help' || arg === '-h') {
      flags.add(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      values.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}\n${benchUsage}`);
    const next = argv[i + 1];
    if (next === undefined) throw new Error(`${arg} needs a value`);
    values.set(arg.slice(2), next);
    i++;
  }
  if (flags.has('--help') || flags.has('-h')) throw new Error(benchUsage);
  const known = [
    'phones',
    'routes',
    'accounts',
    'out',
    'chart',
    'latency-ms',
    'job-ms',
    'rate-limit',
    'cph-qps',
    'cph-burst',
    'cph-api-qps',
    'drift-interval',
    'steady-intervals',
    'drift-samples',
    'seed',
    'baseline-concurrency',
    'timeout',
    'operator-args',
    'node-options',
  ];
  for (const key of values.keys()) if (!known.includes(key)) throw new Error(`unknown flag --${key}\n${benchUsage}`);
  const num = (key: string, fallback: number, min: number): number => {
    const raw = values.get(key);
    if (raw === undefined) return fallback;
    const n = Number(raw.replace(/s$/, ''));
    if (!Number.isFinite(n) || n < min) throw new Error(`--${key} must be a number >= ${min}, got ${raw}`);
    return n;
  };
  const phones = Math.floor(num('phones', 10_000, 1));
  const routes = Math.floor(num('routes', 100, 1));
  if (routes > phones) throw new Error(`--routes (${routes}) cannot exceed --phones (${phones})`);
  const accounts = Math.floor(num('accounts', 1, 1));
  if (accounts > routes) throw new Error(`--accounts (${accounts}) cannot exceed --routes (${routes})`);
  const rateLimit = num('rate-limit', 50, 1);
  const out = values.get('out') ?? 'bench.json';
  // The lower bound lets each API run at the gateway's rate; so does the operator's budget by default.
  const cphQps = num('cph-qps', 3 * rateLimit, 0.1);
  return {
    phones,
    routes,
    out,
    chart: values.get('chart'),
    latencyMs: num('latency-ms', 50, 0),
    jobMs: num('job-ms', 5000, 0),
    rateLimit,
    cphQps,
    cphBurst: Math.floor(num('cph-burst', cphQps, 1)),
    cphApiQps: Math.floor(num('cph-api-qps', rateLimit, 1)),
    driftIntervalSeconds: num('drift-interval', phones > 5000 ? 30 : 10, 10),
    steadyIntervals: Math.floor(num('steady-intervals', 3, 1)),
    driftSamples: Math.floor(num('drift-samples', 40, 1)),
    seed: Math.floor(num('seed', 7, 0)),
    // The baseline is a single-account SDK loop: it has no counterpart with several accounts.
    baseline: !flags.has('--no-baseline') && accounts === 1,
    baselineConcurrency: Math.floor(num('baseline-concurrency', 4, 1)),
    timeoutSeconds: num('timeout', 600, 1),
    operatorArgs: words(values.get('operator-args')),
    nodeOptions: values.has('node-options') ? words(values.get('node-options')) : undefined,
    accounts,
    restart: flags.has('--restart'),
  };
}

function words(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter((w) => w !== '');
}
