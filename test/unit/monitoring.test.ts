/**
 * deploy/monitoring/ checked without a Prometheus: the dashboard's and the alerts' queries name only metrics the
 * operator exposes (test/support/metric-names.ts), every alert has a runbook section in the docs, and the
 * kustomize component adds a ServiceMonitor that selects the operator's metrics Service, the PrometheusRule and
 * the dashboard ConfigMap to an install; the Helm chart renders the same three when its values ask for them,
 * from copies of the rules' spec and the dashboard in its files/ (Helm reads nothing outside the chart), which
 * must equal deploy/monitoring/'s. After changing those, refresh the copies with
 *
 *   MONITORING_CHART_WRITE=1 npx mocha test/unit/monitoring.test.ts
 *
 * promtool runs the rules in test/integration/monitoring-rules.test.ts.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { dashboardSvg, legendOf, type RangeSeries } from '../monitoring/dashboard-png.js';
import { queryableSeriesNames } from '../support/metric-names.js';
import { ensureHelm } from '../tools/helm.js';
import { metricNamesInQuery } from '../support/promql-names.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const monitoringDir = join(root, 'deploy/monitoring');

interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string }[];
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(join(monitoringDir, 'dashboard.json'), 'utf8')) as { panels: Panel[] };
const ruleFile = parseYaml(readFileSync(join(monitoringDir, 'prometheusrule.yaml'), 'utf8')) as K8sObject & {
  spec: { groups: { name: string; rules: Rule[] }[] };
};
const rules = ruleFile.spec.groups.flatMap((group) => group.rules);
const chartDir = join(root, 'deploy/helm/cph-route-operator');
const chartRulesPath = join(chartDir, 'files/prometheusrule-spec.yaml');
const chartDashboardPath = join(chartDir, 'files/dashboard.json');

/** The chart's copy of the PrometheusRule's spec. */
function chartRulesText(): string {
  return `# spec of deploy/monitoring/prometheusrule.yaml, copied for the chart (Helm reads only files inside it);
# test/unit/monitoring.test.ts fails while the two differ. Regenerate: MONITORING_CHART_WRITE=1 npx mocha test/unit/monitoring.test.ts
${stringifyYaml(ruleFile.spec, { lineWidth: 0 })}`;
}

/** The alerts issue 15 asks for, by name. */
const requiredAlerts = [
  'CloudPhoneResourceStalled',
  'CloudPhoneReconcileErrors',
  'CloudPhoneCphThrottled',
  'CloudPhoneCphUnavailable',
  'CloudPhoneOperatorNoLeader',
  'CloudPhoneWorkQueueNotDraining',
  'CloudPhoneDriftCorrectionsSpiking',
];

/** The doc that holds "## Alerts and runbooks". */
function runbookDocs(): string {
  return readFileSync(join(root, 'docs/operations.md'), 'utf8');
}

/** GitHub's anchor of a Markdown heading: lower case, spaces to dashes, punctuation dropped. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

describe('monitoring (deploy/monitoring/)', () => {
  describe('metricNamesInQuery', () => {
    const cases: Array<[string, string[]]> = [
      ['up', ['up']],
      [
        'sum by (controller, result) (rate(controller_runtime_reconcile_total{controller=~"a|b"}[5m]))',
        ['controller_runtime_reconcile_total'],
      ],
      [
        'histogram_quantile(0.99, sum by (le) (rate(workqueue_queue_duration_seconds_bucket{name="x"}[$__rate_interval])))',
        ['workqueue_queue_duration_seconds_bucket'],
      ],
      ['(max(leader_election_master_status{name="l"}) or on() vector(0)) < 1', ['leader_election_master_status']],
      ['a_total / ignoring(x) group_left(y) b_info > 1e3 and c offset 1d', ['a_total', 'b_info', 'c']],
      ['sum(rate(x_total[1d] offset 30m)) > 5 * sum without (pod) (y)', ['x_total', 'y']],
      ['count(z{label="sum(not_a_metric)"})', ['z']],
    ];
    for (const [expr, names] of cases) {
      it(`${expr} names ${names.join(', ')}`, () => {
        expect(metricNamesInQuery(expr)).to.deep.equal(names);
      });
    }
  });

  describe('dashboard.json', () => {
    const known = queryableSeriesNames();

    it('has panels, each with at least one query, and unique ids', () => {
      expect(dashboard.panels.length).to.be.greaterThan(10);
      for (const panel of dashboard.panels) expect(panel.targets ?? [], panel.title).to.not.be.empty;
      const ids = dashboard.panels.map((p) => p.id);
      expect(new Set(ids).size).to.equal(ids.length);
    });

    it('every query names only metrics the operator exposes', () => {
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          const names = metricNamesInQuery(target.expr);
          expect(names, `${panel.title}: ${target.expr}`).to.not.be.empty;
          for (const name of names) expect(known.has(name), `${panel.title}: ${name} is not exposed`).to.equal(true);
        }
      }
    });

    it('shows every metric family of the operator somewhere', () => {
      const used = new Set(
        dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNamesInQuery(t.expr))),
      );
      const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
      const families = new Set([...used].map(base));
      for (const family of [
        'controller_runtime_reconcile_total',
        'controller_runtime_reconcile_errors_total',
        'controller_runtime_reconcile_time_seconds',
        'workqueue_depth',
        'leader_election_master_status',
        'rest_client_requests_total',
        'cph_route_operator_cph_requests_total',
        'cph_route_operator_cph_throttled_total',
        'cph_route_operator_jobs_total',
        'cph_route_operator_phones',
        'cph_route_operator_drift_corrections_total',
        'cph_route_operator_inventory_sweeps_total',
        'cph_route_operator_inventory_sweep_duration_seconds',
        'cph_route_operator_resource_condition',
      ])
        expect(families.has(family), family).to.equal(true);
    });

    it('lays the panels out on the 24-column grid without overlaps', () => {
      const cells = new Set<string>();
      for (const { title, gridPos } of dashboard.panels) {
        expect(gridPos.x + gridPos.w, title).to.be.at.most(24);
        for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++)
          for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
            expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).to.equal(false);
            cells.add(`${x},${y}`);
          }
      }
    });
  });

  describe('prometheusrule.yaml', () => {
    const known = queryableSeriesNames();

    it('has exactly the alerts issue 15 asks for', () => {
      expect(rules.map((r) => r.alert)).to.have.members(requiredAlerts);
      expect(rules).to.have.length(requiredAlerts.length);
    });

    for (const rule of rules) {
      describe(rule.alert, () => {
        it('names only metrics the operator exposes', () => {
          const names = metricNamesInQuery(rule.expr);
          expect(names).to.not.be.empty;
          for (const name of names) expect(known.has(name), `${name} is not exposed`).to.equal(true);
        });

        it('has a severity, a summary, a description and a for: duration', () => {
          expect(rule.labels?.severity).to.be.oneOf(['warning', 'critical']);
          expect(rule.annotations?.summary).to.be.a('string').and.not.empty;
          expect(rule.annotations?.description).to.be.a('string').and.not.empty;
          expect(rule.for).to.match(/^\d+[smh]$/);
        });

        it('links a runbook: a section of docs/operations.md named after the alert', () => {
          const url = rule.annotations?.runbook_url ?? '';
          expect(url).to.match(/\/docs\/operations\.md#[a-z0-9-]+$/);
          const anchor = url.slice(url.indexOf('#') + 1);
          expect(anchor).to.equal(anchorOf(rule.alert));
          const headings = [...runbookDocs().matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchorOf(m[1] ?? ''));
          expect(headings, `no heading "### ${rule.alert}" in docs/operations.md`).to.include(anchor);
        });
      });
    }

    it('the Stalled alert fires after 10 minutes, per resource', () => {
      const stalled = rules.find((r) => r.alert === 'CloudPhoneResourceStalled');
      expect(stalled?.for).to.equal('10m');
      expect(stalled?.expr).to.match(/max by \(kind, namespace, name\)/);
    });
  });

  describe('the kustomize component', () => {
    let objects: K8sObject[] = [];

    before(() => {
      // An install that uses the component, the way deploy/README.md shows it.
      const dir = mkdtempSync(join(tmpdir(), 'monitoring-component-'));
      try {
        writeFileSync(
          join(dir, 'kustomization.yaml'),
          `resources:\n  - ${relative(dir, join(root, 'deploy'))}\ncomponents:\n  - ${relative(dir, monitoringDir)}\n`,
        );
        const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
        objects = parseAllDocuments(out).map((d) => d.toJSON() as K8sObject);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('adds a ServiceMonitor that selects the metrics Service and scrapes its metrics port', () => {
      const monitor = objects.find((o) => o.kind === 'ServiceMonitor');
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'cph-route-operator-metrics');
      if (!monitor || !service) throw new Error('no ServiceMonitor or no metrics Service in the install');
      expect(monitor.metadata.namespace).to.equal(service.metadata.namespace);
      const selector = (monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      expect(service.metadata.labels).to.include(selector);
      const ports = (service.spec as { ports: { name: string }[] }).ports.map((p) => p.name);
      const endpoints = (monitor.spec as { endpoints: { port: string; path: string }[] }).endpoints;
      for (const endpoint of endpoints) {
        expect(ports).to.include(endpoint.port);
        expect(endpoint.path).to.equal('/metrics');
      }
    });

    it('adds the PrometheusRule as written', () => {
      const rule = objects.find((o) => o.kind === 'PrometheusRule');
      expect(rule?.spec).to.deep.equal(ruleFile.spec);
    });

    it('adds the dashboard as a ConfigMap the Grafana sidecar picks up, byte for byte', () => {
      const configMap = objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name === 'cph-route-operator-dashboard',
      );
      expect(configMap?.metadata.labels?.grafana_dashboard).to.equal('1');
      expect(configMap?.data?.['cph-route-operator.json']).to.equal(
        readFileSync(join(monitoringDir, 'dashboard.json'), 'utf8'),
      );
    });
  });

  describe('the dashboard picture (test/monitoring/dashboard-png.ts)', () => {
    it('names series as Grafana legends do', () => {
      expect(legendOf('{{controller}} {{result}}', { controller: 'cloudphoneroute', result: 'error' })).to.equal(
        'cloudphoneroute error',
      );
      expect(legendOf('', { kind: 'CloudPhoneRoute', name: 'a' })).to.equal('kind=CloudPhoneRoute, name=a');
    });

    it('draws one chart per panel at its place on the grid, with its title and its series', () => {
      const results = new Map<string, RangeSeries[]>();
      for (const panel of dashboard.panels)
        for (const target of panel.targets ?? [])
          results.set(target.expr, [
            {
              metric: { outcome: 'throttled' },
              values: [
                [100, '1'],
                [102, '3'],
              ],
            },
          ]);
      const svg = dashboardSvg({ title: 'cph-route-operator', panels: dashboard.panels }, results, 100);
      expect(svg.match(/<svg /g)).to.have.length(dashboard.panels.length + 1);
      for (const panel of dashboard.panels) expect(svg).to.contain(`>${panel.title.replace(/"/g, '&quot;')}</text>`);
      expect(svg).to.contain(`<svg x="${dashboard.panels[0]?.gridPos.x === 0 ? 4 : ''}" y="4"`);
      expect(svg.match(/<polyline /g)?.length).to.be.greaterThan(dashboard.panels.length);
    });
  });

  describe('the Helm chart (deploy/helm/cph-route-operator, values metrics.*)', () => {
    if (process.env.MONITORING_CHART_WRITE === '1') {
      it("rewrites the chart's copies (MONITORING_CHART_WRITE=1)", () => {
        writeFileSync(chartRulesPath, chartRulesText());
        writeFileSync(chartDashboardPath, readFileSync(join(monitoringDir, 'dashboard.json')));
      });
    }

    it("files/ holds deploy/monitoring's rules spec and dashboard, unchanged", () => {
      expect(
        readFileSync(chartRulesPath, 'utf8'),
        'run MONITORING_CHART_WRITE=1 npx mocha test/unit/monitoring.test.ts',
      ).to.equal(chartRulesText());
      expect(parseYaml(readFileSync(chartRulesPath, 'utf8'))).to.deep.equal(ruleFile.spec);
      expect(readFileSync(chartDashboardPath, 'utf8')).to.equal(
        readFileSync(join(monitoringDir, 'dashboard.json'), 'utf8'),
      );
    });

    function helmTemplate(helm: string, values: string[]): K8sObject[] {
      const args = ['template', 'cph-route-operator', chartDir, '--namespace', 'cph-route-operator-system'];
      for (const value of values) args.push('--set', value);
      return parseAllDocuments(execFileSync(helm, args, { encoding: 'utf8' }))
        .map((d) => d.toJSON() as K8sObject | null)
        .filter((o): o is K8sObject => o !== null);
    }

    it('renders none of them by default, and the same ServiceMonitor, PrometheusRule and dashboard as the component when enabled', async function () {
      this.timeout(10 * 60_000); // helm is built from its Go module on a first run
      const helm = await ensureHelm();
      const monitoringKinds = (objects: K8sObject[]) =>
        objects.filter(
          (o) =>
            o.kind === 'ServiceMonitor' ||
            o.kind === 'PrometheusRule' ||
            (o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1'),
        );
      expect(monitoringKinds(helmTemplate(helm, []))).to.deep.equal([]);
      const objects = helmTemplate(helm, [
        'metrics.serviceMonitor.enabled=true',
        'metrics.serviceMonitor.labels.release=kube-prometheus-stack',
        'metrics.prometheusRule.enabled=true',
        'metrics.dashboard.enabled=true',
      ]);
      const monitor = objects.find((o) => o.kind === 'ServiceMonitor');
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'cph-route-operator-metrics');
      if (!monitor || !service) throw new Error('no ServiceMonitor or no metrics Service rendered');
      expect(monitor.metadata.labels?.release).to.equal('kube-prometheus-stack');
      const selector = (monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      expect(service.metadata.labels).to.include(selector);
      const component = parseYaml(readFileSync(join(monitoringDir, 'servicemonitor.yaml'), 'utf8')) as K8sObject;
      expect((monitor.spec as { endpoints: unknown }).endpoints).to.deep.equal(
        (component.spec as { endpoints: unknown }).endpoints,
      );
      expect(objects.find((o) => o.kind === 'PrometheusRule')?.spec).to.deep.equal(ruleFile.spec);
      const dashboardMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
      expect(dashboardMap?.data?.['cph-route-operator.json']).to.equal(
        readFileSync(join(monitoringDir, 'dashboard.json'), 'utf8'),
      );
    });
  });
});
