import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseCloudPhoneRoute } from '../../src/api/v1alpha1/parse.js';

// Every CloudPhoneRoute the project ships as an example must be one the operator accepts (parse.ts agrees
// with the CRD, test/integration/crd.test.ts proves it on a real API server).
const repo = fileURLToPath(new URL('../..', import.meta.url));

function yamlFiles(dir: string): string[] {
  let out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out = out.concat(yamlFiles(path));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out;
}

describe('shipped CloudPhoneRoute examples', () => {
  const routes: Array<{ file: string; doc: Record<string, unknown> }> = [];
  for (const dir of ['examples', 'deploy']) {
    for (const file of yamlFiles(join(repo, dir))) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const value = doc.toJS() as Record<string, unknown> | null;
        if (value && value.kind === 'CloudPhoneRoute') routes.push({ file: file.slice(repo.length), doc: value });
      }
    }
  }

  it('there are some', () => expect(routes.length).to.be.greaterThan(0));
  for (const { file, doc } of routes) {
    const meta = (doc.metadata ?? {}) as Record<string, unknown>;
    it(`${file}: ${String(meta.name)} parses`, () => {
      // Examples may leave the namespace to kubectl -n.
      const route = parseCloudPhoneRoute({ ...doc, metadata: { namespace: 'default', ...meta } });
      expect(route.spec.trafficType).to.be.oneOf(['direct', 'routing']);
    });
  }
});
