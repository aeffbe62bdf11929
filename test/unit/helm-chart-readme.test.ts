/**
 * The chart's README lists every value of values.yaml with its default and description (scripts/chart-readme.ts),
 * so the two cannot drift apart: a new value needs a `# --` comment, and `npm run chart:readme` rewrites the table.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CHART_DIR, documentedValues, valuesTable, withTable } from '../../scripts/chart-readme.js';

const valuesYaml = readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8');

describe('deploy/helm/cph-route-operator/README.md (generated from values.yaml)', () => {
  it('its values table is the one values.yaml gives (run `npm run chart:readme` after changing values.yaml)', () => {
    const readme = readFileSync(path.join(CHART_DIR, 'README.md'), 'utf8');
    expect(withTable(readme, valuesTable(valuesYaml))).to.equal(readme);
  });

  it('every value is documented, and each documented default is the one Helm reads', () => {
    const values = parseYaml(valuesYaml) as Record<string, unknown>;
    const documented = documentedValues(valuesYaml);
    expect(documented.map((v) => v.key)).to.include.members([
      'image.repository',
      'image.digest',
      'replicaCount',
      'watchNamespaces',
      'defaultAccount.endpoint',
      'crds.templated',
      'crds.keep',
    ]);
    for (const value of documented) {
      const fromYaml = value.key.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], values);
      expect(value.defaultValue, value.key).to.deep.equal(fromYaml);
    }
  });

  it('a value without a "# --" comment is an error, not a missing row', () => {
    expect(() => documentedValues('image:\n  # -- documented\n  tag: ""\n  digest: ""\n')).to.throw(
      /image\.digest has no "# -- " comment/,
    );
    expect(documentedValues('# -- first\na: 1\nb:\n  # -- nested first\n  c: [x]\n')).to.deep.equal([
      { key: 'a', defaultValue: 1, description: 'first' },
      { key: 'b.c', defaultValue: ['x'], description: 'nested first' },
    ]);
  });
});
