/**
 * The operator's Prometheus metrics, in one registry (no global state, so tests and several operators in one
 * process do not collide). Wherever controller-runtime has a metric, it is exposed under controller-runtime's
 * name and labels, so dashboards and alerts made for controller-runtime operators work unchanged; the
 * operator's own metrics share the prefix `cph_route_operator_`. docs/operations.md lists them all.
 * Guarantees:
 * - controller_runtime_reconcile_{total,errors_total,time_seconds}, controller_runtime_terminal_reconcile_errors_total,
 *   controller_runtime_{active_workers,max_concurrent_reconciles} by `controller`; the workqueue_* family by
 *   `name` and `controller`; leader_election_master_status{name}; rest_client_requests_total{code,method,host}.
 * - Counters end in `_total`, durations are in seconds; label values come from closed lists, except the
 *   names of resources in cph_route_operator_resource_condition, whose series go with the resource.
 * - The hooks other runtime modules call (ControllerMetrics, KubeClient onRequest/onWrite) never throw.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControllerMetrics, ReconcileOutcome } from './controller.js';
import type { UnfinishedWork, WorkQueueMetrics } from './workqueue.js';

export interface OperatorMetricsOptions {
  /** Collect Node.js process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
}

/** The operator's prefix for metrics controller-runtime has no name for. */
export const METRIC_PREFIX = 'cph_route_operator_';

/** controller-runtime's reconcile time buckets (pkg/internal/controller/metrics). */
const reconcileTimeBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75,
  2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
/** controller-runtime's workqueue duration buckets: 10 ns to 1000 s, by tens (ExponentialBuckets(10e-9, 10, 12)). */
const workqueueBuckets = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));
const sweepBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** CPH call outcomes as the metric labels them (cph_route_operator_cph_requests_total{outcome}). */
export type CphRequestOutcome =
  | 'success'
  | 'throttled'
  | 'client_error'
  | 'server_error'
  | 'network_error'
  | 'auth_error';

/** The client's finer outcome (src/cph/errors.ts `callOutcome`) folded into the metric's six. */
export function cphRequestOutcome(outcome: string): CphRequestOutcome {
  switch (outcome) {
    case 'success':
    case 'ok':
      return 'success';
    case 'throttled':
      return 'throttled';
    case 'authError':
      return 'auth_error';
    case 'serverError':
    case 'invalidResponse':
      return 'server_error';
    case 'timeout':
    case 'networkError':
    case 'aborted':
      return 'network_error';
    default:
      return 'client_error';
  }
}

/** Phone states of cph_route_operator_phones, keyed by the status summary's field. */
export const phoneStateLabels = {
  inSync: 'InSync',
  drifted: 'Drifted',
  pending: 'Pending',
  failed: 'Failed',
  notFound: 'NotFound',
  conflicted: 'Conflict',
  waiting: 'Waiting',
} as const;

export type JobOutcomeLabel = 'success' | 'failed' | 'timeout';
export type SweepOutcome = 'success' | 'failed';

/** The labels of one series of cph_route_operator_resource_condition. */
export interface ConditionLabels {
  kind: string;
  namespace: string;
  name: string;
  type: string;
  status: string;
  reason: string;
}

export class OperatorMetrics implements ControllerMetrics {
  readonly registry = new Registry();
  // controller-runtime
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalReconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly activeWorkersGauge: Gauge<'controller'>;
  readonly maxConcurrentReconciles: Gauge<'controller'>;
  readonly workqueueDepth: Gauge<'name' | 'controller'>;
  readonly workqueueAdds: Counter<'name' | 'controller'>;
  readonly workqueueQueueDuration: Histogram<'name' | 'controller'>;
  readonly workqueueWorkDuration: Histogram<'name' | 'controller'>;
  readonly workqueueUnfinishedWork: Gauge<'name' | 'controller'>;
  readonly workqueueLongestRunning: Gauge<'name' | 'controller'>;
  readonly workqueueRetries: Counter<'name' | 'controller'>;
  readonly leaderElectionStatus: Gauge<'name'>;
  readonly restClientRequests: Counter<'code' | 'method' | 'host'>;
  // the operator's own
  readonly cphRequests: Counter<'api' | 'outcome'>;
  readonly cphThrottled: Counter<'api'>;
  readonly phoneEntriesSkipped: Counter<'reason'>;
  readonly jobs: Counter<'outcome'>;
  readonly phones: Gauge<'state'>;
  readonly driftCorrections: Counter;
  readonly inventorySweeps: Counter<'outcome'>;
  readonly inventorySweepDuration: Histogram;
  readonly resourceCondition: Gauge<keyof ConditionLabels>;
  readonly kubeWrites: Counter<'kind'>;
  /** Per controller: how to read its queue's work in progress when scraped. */
  private readonly unfinishedWork = new Map<string, () => UnfinishedWork>();

  constructor(options: OperatorMetricsOptions = {}) {
    const registers = [this.registry];
    const queueLabels = ['name', 'controller'] as const;
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: reconcileTimeBuckets,
      registers,
    });
    this.activeWorkersGauge = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    });
    this.maxConcurrentReconciles = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    });
    this.workqueueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames: queueLabels,
      registers,
    });
    this.workqueueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: queueLabels,
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: queueLabels,
      buckets: workqueueBuckets,
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: queueLabels,
      buckets: workqueueBuckets,
      registers,
    });
    const unfinished = this.unfinishedWork;
    this.workqueueUnfinishedWork = new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      labelNames: queueLabels,
      registers,
      collect() {
        for (const [controller, read] of unfinished) this.set({ name: controller, controller }, read().seconds);
      },
    });
    this.workqueueLongestRunning = new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames: queueLabels,
      registers,
      collect() {
        for (const [controller, read] of unfinished) this.set({ name: controller, controller }, read().longestSeconds);
      },
    });
    this.workqueueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: queueLabels,
      registers,
    });
    this.leaderElectionStatus = new Gauge({
      name: 'leader_election_master_status',
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
      labelNames: ['name'],
      registers,
    });
    this.restClientRequests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests, partitioned by status code, method, and host.',
      labelNames: ['code', 'method', 'host'],
      registers,
    });

    this.cphRequests = new Counter({
      name: `${METRIC_PREFIX}cph_requests_total`,
      help: 'HTTP requests sent to the CPH API (each attempt), by API and outcome: success, throttled, client_error, server_error, network_error (timeouts included), auth_error.',
      labelNames: ['api', 'outcome'],
      registers,
    });
    this.cphThrottled = new Counter({
      name: `${METRIC_PREFIX}cph_throttled_total`,
      help: 'CPH requests refused for the rate limit (HTTP 429 or a throttling error code), by API.',
      labelNames: ['api'],
      registers,
    });
    this.phoneEntriesSkipped = new Counter({
      name: `${METRIC_PREFIX}cph_phone_entries_skipped_total`,
      help: 'ListCloudPhones entries left out of a sweep because they cannot be used as phones, counted at every sweep, by reason: noPhoneId (phone_id absent, empty or not an ID), notAnObject.',
      labelNames: ['reason'],
      registers,
    });
    this.jobs = new Counter({
      name: `${METRIC_PREFIX}jobs_total`,
      help: 'Route change jobs followed to their end, by outcome: success, failed, timeout (CPH gave up on the job).',
      labelNames: ['outcome'],
      registers,
    });
    this.phones = new Gauge({
      name: `${METRIC_PREFIX}phones`,
      help: 'Phones managed by CloudPhoneRoute resources, by state: InSync, Drifted, Pending, Failed, NotFound, Conflict, Waiting.',
      labelNames: ['state'],
      registers,
    });
    this.driftCorrections = new Counter({
      name: `${METRIC_PREFIX}drift_corrections_total`,
      help: 'Phones whose route change was sent because their route differed from the wanted one.',
      registers,
    });
    this.inventorySweeps = new Counter({
      name: `${METRIC_PREFIX}inventory_sweeps_total`,
      help: 'Phone inventory sweeps (paged list of every phone of a CPH account), by outcome: success, failed.',
      labelNames: ['outcome'],
      registers,
    });
    this.inventorySweepDuration = new Histogram({
      name: `${METRIC_PREFIX}inventory_sweep_duration_seconds`,
      help: 'Time a successful phone inventory sweep took, from its first list call to its snapshot.',
      buckets: sweepBuckets,
      registers,
    });
    this.resourceCondition = new Gauge({
      name: `${METRIC_PREFIX}resource_condition`,
      help: 'Current conditions of each CloudPhoneRoute, CloudPhoneAccount and ClusterCloudPhoneAccount: 1 per condition (namespace "" for cluster-scoped kinds); a series goes when its condition changes or its resource is deleted.',
      labelNames: ['kind', 'namespace', 'name', 'type', 'status', 'reason'],
      registers,
    });
    this.kubeWrites = new Counter({
      name: `${METRIC_PREFIX}kube_writes_total`,
      help: 'Write requests (create, update, patch, delete) sent to the Kubernetes API, by resource (plural, or plural/subresource).',
      labelNames: ['kind'],
      registers,
    });
    this.driftCorrections.inc(0);
    for (const state of Object.values(phoneStateLabels)) this.phones.set({ state }, 0);
    for (const outcome of ['success', 'failed', 'timeout'] as const) this.jobs.inc({ outcome }, 0);
    for (const outcome of ['success', 'failed'] as const) this.inventorySweeps.inc({ outcome }, 0);
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters (promtool: non-counter metrics should not have "_total" suffix); the same
      // numbers stay available by type in nodejs_active_{handles,requests,resources}.
      for (const name of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ])
        this.registry.removeSingleMetric(name);
    }
  }

  // ControllerMetrics

  controllerCreated(controller: string, maxConcurrentReconciles: number): void {
    this.maxConcurrentReconciles.set({ controller }, maxConcurrentReconciles);
    this.activeWorkersGauge.set({ controller }, 0);
    // As controller-runtime does: every result and the error counters exist from the start, at 0.
    for (const result of ['success', 'error', 'requeue', 'requeue_after'])
      this.reconcileTotal.inc({ controller, result }, 0);
    this.reconcileErrors.inc({ controller }, 0);
    this.terminalReconcileErrors.inc({ controller }, 0);
  }

  activeWorkers(controller: string, delta: number): void {
    this.activeWorkersGauge.inc({ controller }, delta);
  }

  reconcileFinished(controller: string, outcome: ReconcileOutcome, durationSeconds: number): void {
    // controller-runtime counts a terminal error as an error too, and also on its own.
    this.reconcileTotal.inc({ controller, result: outcome === 'terminal' ? 'error' : outcome });
    if (outcome === 'error' || outcome === 'terminal') this.reconcileErrors.inc({ controller });
    if (outcome === 'terminal') this.terminalReconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, durationSeconds);
  }

  queueDepth(controller: string, depth: number): void {
    this.workqueueDepth.set({ name: controller, controller }, depth);
  }

  workQueue(controller: string, unfinished: () => UnfinishedWork): WorkQueueMetrics {
    const labels = { name: controller, controller };
    this.unfinishedWork.set(controller, unfinished);
    this.workqueueDepth.set(labels, 0);
    this.workqueueAdds.inc(labels, 0);
    this.workqueueRetries.inc(labels, 0);
    return {
      added: () => this.workqueueAdds.inc(labels),
      queued: (seconds) => this.workqueueQueueDuration.observe(labels, seconds),
      worked: (seconds) => this.workqueueWorkDuration.observe(labels, seconds),
      retried: () => this.workqueueRetries.inc(labels),
    };
  }

  // Kubernetes client

  /** One request to the Kubernetes API: `code` is the HTTP status, or '<error>' when no answer came. */
  restClientRequest(code: string, method: string, host: string): void {
    this.restClientRequests.inc({ code, method, host });
  }

  kubeWrite(resource: string): void {
    this.kubeWrites.inc({ kind: resource });
  }

  setLeader(name: string, leading: boolean): void {
    this.leaderElectionStatus.set({ name }, leading ? 1 : 0);
  }

  // CPH

  /** One CPH HTTP attempt; `outcome` is the client's (src/cph/errors.ts `callOutcome`). */
  cphCall(api: string, outcome: string): void {
    const label = cphRequestOutcome(outcome);
    this.cphRequests.inc({ api, outcome: label });
    if (label === 'throttled') this.cphThrottled.inc({ api });
  }

  phoneEntriesSkippedBy(reason: string, entries: number): void {
    this.phoneEntriesSkipped.inc({ reason }, entries);
  }

  jobEnded(outcome: JobOutcomeLabel): void {
    this.jobs.inc({ outcome });
  }

  sweepEnded(outcome: SweepOutcome, durationSeconds?: number): void {
    this.inventorySweeps.inc({ outcome });
    if (outcome === 'success' && durationSeconds !== undefined) this.inventorySweepDuration.observe(durationSeconds);
  }

  /** Phone totals keyed by the status summary's fields (inSync, drifted, ...). */
  setPhones(counts: Partial<Record<keyof typeof phoneStateLabels, number>>): void {
    for (const [field, state] of Object.entries(phoneStateLabels)) {
      const count = counts[field as keyof typeof phoneStateLabels];
      if (count !== undefined) this.phones.set({ state }, count);
    }
  }

  driftCorrected(phones = 1): void {
    this.driftCorrections.inc(phones);
  }

  /** The exposition text for /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
