/**
 * Per-resource readiness as a metric: one series of cph_route_operator_resource_condition = 1 for each
 * condition in each watched object's status, read from the informers (so every replica reports what the
 * cluster says, leader or not, and a fresh operator reports it before its first reconcile).
 * Guarantees:
 * - A series exists exactly while its object has that condition with that status and reason: a changed
 *   condition replaces its series, a deleted object removes all of its series.
 * - Bounded: at most `maxConditionsPerObject` conditions per object, types and reasons longer than 128
 *   characters are cut (the API server's own limits are larger); status is True, False or Unknown.
 */
import type { EventSource } from './controller.js';
import type { KubeObject } from './informer.js';
import type { ConditionLabels } from './metrics.js';

/** What the tracker needs of a prom-client Gauge. */
export interface ConditionGauge {
  set(labels: ConditionLabels, value: number): void;
  remove(labels: ConditionLabels): void;
}

const maxConditionsPerObject = 8;
const maxLabelLength = 128;
const statuses = new Set(['True', 'False', 'Unknown']);

/** The series an object's status.conditions call for (malformed entries are left out). */
export function conditionSeries(kind: string, object: KubeObject): ConditionLabels[] {
  const conditions = (object as { status?: { conditions?: unknown } }).status?.conditions;
  if (!Array.isArray(conditions)) return [];
  const series: ConditionLabels[] = [];
  const seenTypes = new Set<string>();
  for (const condition of conditions) {
    if (series.length >= maxConditionsPerObject) break;
    if (!condition || typeof condition !== 'object') continue;
    const { type, status, reason } = condition as { type?: unknown; status?: unknown; reason?: unknown };
    if (typeof type !== 'string' || type === '' || typeof status !== 'string' || !statuses.has(status)) continue;
    if (seenTypes.has(type)) continue;
    seenTypes.add(type);
    series.push({
      kind,
      namespace: object.metadata.namespace ?? '',
      name: object.metadata.name,
      type: type.slice(0, maxLabelLength),
      status,
      reason: typeof reason === 'string' ? reason.slice(0, maxLabelLength) : '',
    });
  }
  return series;
}

const seriesKey = (labels: ConditionLabels): string =>
  [labels.kind, labels.namespace, labels.name, labels.type, labels.status, labels.reason].join('\u0000');

export class ResourceConditionMetrics {
  /** Per object (kind, namespace, name): the series it has now. */
  private readonly current = new Map<string, Map<string, ConditionLabels>>();

  constructor(private readonly gauge: ConditionGauge) {}

  /** Reports the conditions of every object `source` emits, as objects of `kind`. */
  watch(kind: string, source: EventSource<KubeObject>): void {
    source.addEventHandler({
      onAdd: (object) => this.update(kind, object, conditionSeries(kind, object)),
      onUpdate: (_old, object) => this.update(kind, object, conditionSeries(kind, object)),
      onDelete: (object) => this.update(kind, object, []),
    });
  }

  private update(kind: string, object: KubeObject, series: ConditionLabels[]): void {
    const objectKey = [kind, object.metadata.namespace ?? '', object.metadata.name].join('\u0000');
    const before = this.current.get(objectKey) ?? new Map<string, ConditionLabels>();
    const after = new Map(series.map((labels) => [seriesKey(labels), labels]));
    for (const [key, labels] of before) if (!after.has(key)) this.gauge.remove(labels);
    for (const [key, labels] of after) if (!before.has(key)) this.gauge.set(labels, 1);
    if (after.size > 0) this.current.set(objectKey, after);
    else this.current.delete(objectKey);
  }
}
