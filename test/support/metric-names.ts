/**
 * The metric names the operator exposes, as agreed for issue 15: controller-runtime's names and labels
 * wherever controller-runtime has one, and the operator's own under cph_route_operator_. The alerts
 * (deploy/monitoring/prometheusrule.yaml) and the dashboard (deploy/monitoring/dashboard.json) may name only
 * these; test/unit/monitoring.test.ts checks, and the Prometheus e2e scrapes the real thing.
 * A histogram is listed by its base name; a query names its _bucket, _sum or _count series.
 */
export const operatorMetricNames: readonly string[] = [
  // controller-runtime (labels: controller; result on reconcile_total)
  'controller_runtime_reconcile_total',
  'controller_runtime_reconcile_errors_total',
  'controller_runtime_reconcile_time_seconds',
  'controller_runtime_active_workers',
  'controller_runtime_max_concurrent_reconciles',
  // client-go's work queue (labels: name, controller)
  'workqueue_depth',
  'workqueue_adds_total',
  'workqueue_queue_duration_seconds',
  'workqueue_work_duration_seconds',
  'workqueue_unfinished_work_seconds',
  'workqueue_longest_running_processor_seconds',
  'workqueue_retries_total',
  // client-go's leader election (label: name, the Lease) and REST client (code, method, host)
  'leader_election_master_status',
  'rest_client_requests_total',
  // the operator's own
  'cph_route_operator_cph_requests_total',
  'cph_route_operator_cph_throttled_total',
  'cph_route_operator_jobs_total',
  'cph_route_operator_phones',
  'cph_route_operator_drift_corrections_total',
  'cph_route_operator_inventory_sweeps_total',
  'cph_route_operator_inventory_sweep_duration_seconds',
  'cph_route_operator_resource_condition',
  'cph_route_operator_kube_writes_total',
];

/** Histograms among them: queries name their _bucket, _sum and _count series. */
export const operatorHistogramNames: readonly string[] = [
  'controller_runtime_reconcile_time_seconds',
  'workqueue_queue_duration_seconds',
  'workqueue_work_duration_seconds',
  'cph_route_operator_inventory_sweep_duration_seconds',
];

/** The series names a query may use: every metric, and the _bucket/_sum/_count series of each histogram. */
export function queryableSeriesNames(): Set<string> {
  const names = new Set(operatorMetricNames);
  for (const histogram of operatorHistogramNames)
    for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${histogram}${suffix}`);
  return names;
}
