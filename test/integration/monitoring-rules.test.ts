/**
 * The alerts of deploy/monitoring/prometheusrule.yaml under promtool (built from the Prometheus Go module,
 * test/tools/prometheus.ts): spec.groups, written out as a plain rules file, passes `promtool check rules`, and
 * test/monitoring/rules.test.yaml passes `promtool test rules`. That file fires every alert and keeps each quiet
 * where it should; to show the tests would catch a broken alert, each alert's expression is broken in turn
 * (replaced by one that never fires, its comparison turned around, a metric name misspelt) and the same tests
 * must then fail.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ensurePromtool } from '../tools/prometheus.js';
import { metricNamesInQuery } from '../support/promql-names.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ruleTests = join(root, 'test/monitoring/rules.test.yaml');

interface Rule {
  alert: string;
  expr: string;
  [key: string]: unknown;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}

function shippedGroups(): RuleGroup[] {
  const file = parseYaml(readFileSync(join(root, 'deploy/monitoring/prometheusrule.yaml'), 'utf8')) as {
    spec: { groups: RuleGroup[] };
  };
  return file.spec.groups;
}

/** Ways to break an expression that still parse: each must make the rule tests fail. */
const mutations: Array<{ name: string; apply: (expr: string) => string }> = [
  { name: 'never fires', apply: () => 'vector(1) > 2' },
  {
    name: 'comparison turned around',
    apply: (expr) => {
      const flipped = expr.replace(/(==|<|>)(?=\s*[\d.]+\b)/, (op) => ({ '==': '!=', '<': '>=', '>': '<=' })[op] ?? op);
      if (flipped === expr) throw new Error(`no comparison with a number in ${expr}`);
      return flipped;
    },
  },
  {
    name: 'a metric name misspelt',
    apply: (expr) => {
      const [first] = metricNamesInQuery(expr);
      if (!first) throw new Error(`no metric in ${expr}`);
      return expr.replace(new RegExp(`\\b${first}\\b`), `${first}_misspelt`);
    },
  },
];

describe('alerts under promtool (deploy/monitoring/prometheusrule.yaml, test/monitoring/rules.test.yaml)', function () {
  this.timeout(120_000);
  let promtool = '';
  let dir = '';

  /** Writes `groups` as rules.yaml beside a copy of the rule tests and runs promtool `args` there. */
  function promtoolOn(groups: RuleGroup[], args: string[]): { status: number | null; output: string } {
    writeFileSync(join(dir, 'rules.yaml'), stringifyYaml({ groups }));
    const result = spawnSync(promtool, args, { cwd: dir, encoding: 'utf8' });
    if (result.error) throw result.error;
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  before(async function () {
    this.timeout(30 * 60_000); // the first run builds promtool from the Prometheus Go module
    promtool = await ensurePromtool();
    dir = mkdtempSync(join(tmpdir(), 'promtool-rules-'));
    copyFileSync(ruleTests, join(dir, 'rules.test.yaml'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('promtool check rules accepts the shipped rules', () => {
    const result = promtoolOn(shippedGroups(), ['check', 'rules', 'rules.yaml']);
    expect(result.output).to.contain(`SUCCESS: ${shippedGroups().flatMap((g) => g.rules).length} rules found`);
    expect(result.status, result.output).to.equal(0);
  });

  it('promtool test rules passes', () => {
    const result = promtoolOn(shippedGroups(), ['test', 'rules', 'rules.test.yaml']);
    expect(result.status, result.output).to.equal(0);
    expect(result.output).to.contain('SUCCESS');
  });

  it('the rule tests fire every alert and keep every alert quiet somewhere', () => {
    const tests = parseYaml(readFileSync(ruleTests, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const fired = new Set(cases.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname));
    const quiet = new Set(cases.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => c.alertname));
    const alerts = shippedGroups().flatMap((g) => g.rules.map((r) => r.alert));
    expect([...fired].sort()).to.deep.equal([...alerts].sort());
    expect([...quiet].sort()).to.deep.equal([...alerts].sort());
  });

  for (const { alert } of shippedGroups().flatMap((g) => g.rules)) {
    for (const mutation of mutations) {
      it(`fails when ${alert}'s expression is broken: ${mutation.name}`, () => {
        const groups = shippedGroups().map((group) => ({
          ...group,
          rules: group.rules.map((rule) =>
            rule.alert === alert ? { ...rule, expr: mutation.apply(rule.expr) } : rule,
          ),
        }));
        // Still valid rules: the failure below is the tests catching the change, not a parse error.
        const check = promtoolOn(groups, ['check', 'rules', 'rules.yaml']);
        expect(check.status, check.output).to.equal(0);
        const result = promtoolOn(groups, ['test', 'rules', 'rules.test.yaml']);
        expect(result.status, `promtool test rules passed with a broken ${alert}`).to.not.equal(0);
        // The failure is the broken alert's own, not another one's.
        expect(result.output).to.contain(`alertname: ${alert},`);
      });
    }
  }
});
