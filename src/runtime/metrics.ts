/**
 * The operator's Prometheus metrics, in one registry (no global state, so tests and several operators in one
 * process do not collide). Names are those the dashboards and the steady-state benchmark read.
 * Guarantees:
 * - reconciles_total{result}, reconcile_duration_seconds, workqueue_depth, cph_calls_total{operation,outcome},
 *   cph_phone_entries_skipped_total{reason}, phones{state}, drift_corrections_total, leader,
 *   kube_writes_total{verb,resource}, plus Node process metrics.
 * - The hooks other runtime modules call (ControllerMetrics, KubeClient onWrite) never throw.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControllerMetrics, ReconcileOutcome } from './controller.js';
import type { WriteVerb } from './kube-client.js';

export interface OperatorMetricsOptions {
  /** Collect Node.js process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
}

export class OperatorMetrics implements ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles: Counter<'result'>;
  readonly reconcileDuration: Histogram;
  readonly workqueueDepth: Gauge;
  readonly cphCalls: Counter<'operation' | 'outcome'>;
  readonly phoneEntriesSkipped: Counter<'reason'>;
  readonly phones: Gauge<'state'>;
  readonly driftCorrections: Counter;
  readonly leader: Gauge;
  readonly kubeWrites: Counter<'verb' | 'resource'>;

  constructor(options: OperatorMetricsOptions = {}) {
    const registers = [this.registry];
    this.reconciles = new Counter({
      name: 'reconciles_total',
      help: 'Reconciles finished, by result: success, requeue_after, error (retried with backoff), terminal (not retried).',
      labelNames: ['result'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'reconcile_duration_seconds',
      help: 'Time spent in one reconcile.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.workqueueDepth = new Gauge({ name: 'workqueue_depth', help: 'Keys waiting in the work queue.', registers });
    this.cphCalls = new Counter({
      name: 'cph_calls_total',
      help: 'Calls to the CPH API, by operation and outcome.',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.phoneEntriesSkipped = new Counter({
      name: 'cph_phone_entries_skipped_total',
      help: 'ListCloudPhones entries left out of a sweep because they cannot be used as phones, counted at every sweep, by reason: noPhoneId (phone_id absent, empty or not an ID), notAnObject.',
      labelNames: ['reason'],
      registers,
    });
    this.phones = new Gauge({
      name: 'phones',
      help: 'Phones managed by CloudPhoneRoute resources, by state.',
      labelNames: ['state'],
      registers,
    });
    this.driftCorrections = new Counter({
      name: 'drift_corrections_total',
      help: 'Phones whose route was changed back after drifting from the wanted route.',
      registers,
    });
    this.leader = new Gauge({ name: 'leader', help: '1 while this replica is the leader, else 0.', registers });
    this.kubeWrites = new Counter({
      name: 'kube_writes_total',
      help: 'Write requests sent to the Kubernetes API, by verb and resource (plural or plural/subresource).',
      labelNames: ['verb', 'resource'],
      registers,
    });
    this.leader.set(0);
    this.workqueueDepth.set(0);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  reconcileFinished(_controller: string, outcome: ReconcileOutcome, durationSeconds: number): void {
    this.reconciles.inc({ result: outcome });
    this.reconcileDuration.observe(durationSeconds);
  }

  queueDepth(_controller: string, depth: number): void {
    this.workqueueDepth.set(depth);
  }

  cphCall(operation: string, outcome: string): void {
    this.cphCalls.inc({ operation, outcome });
  }

  phoneEntriesSkippedBy(reason: string, entries: number): void {
    this.phoneEntriesSkipped.inc({ reason }, entries);
  }

  setPhones(counts: Record<string, number>): void {
    for (const [state, count] of Object.entries(counts)) this.phones.set({ state }, count);
  }

  driftCorrected(phones = 1): void {
    this.driftCorrections.inc(phones);
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  kubeWrite(verb: WriteVerb, resource: string): void {
    this.kubeWrites.inc({ verb, resource });
  }

  /** The exposition text for /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
