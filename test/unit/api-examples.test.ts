import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseCloudPhoneRoute } from '../../src/api/v1alpha1/parse.js';
import { parseAccountObject } from '../../src/api/v1alpha1/account-parse.js';
import { phoneInScope } from '../../src/api/v1alpha1/account-rules.js';
import { accountKinds, CLUSTER_ACCOUNT_KIND, type AccountKind } from '../../src/api/v1alpha1/account-types.js';
import { KIND } from '../../src/api/v1alpha1/constants.js';

// Every CloudPhoneRoute and account the project ships as an example must be one the operator accepts
// (parse.ts and account-parse.ts agree with the CRDs; test/integration/crd*.test.ts prove it on a real API
// server), and the examples must fit together: each accountRef names a shipped account, each account's
// secretRef a shipped Secret.
const repo = fileURLToPath(new URL('../..', import.meta.url));

function yamlFiles(dir: string): string[] {
  let out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    // A Helm chart's templates are not YAML until rendered; test/integration/helm-chart.test.ts checks them.
    if (entry.isDirectory() && entry.name === 'templates' && dir.includes('helm')) continue;
    if (entry.isDirectory()) out = out.concat(yamlFiles(path));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out;
}

interface Shipped {
  file: string;
  doc: Record<string, unknown>;
}

function shipped(dirs: readonly string[], kinds: readonly string[]): Shipped[] {
  const out: Shipped[] = [];
  for (const dir of dirs) {
    for (const file of yamlFiles(join(repo, dir))) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const value: unknown = doc.toJS();
        if (typeof value === 'object' && value !== null && kinds.includes(String((value as { kind?: unknown }).kind))) {
          out.push({ file: file.slice(repo.length), doc: value as Record<string, unknown> });
        }
      }
    }
  }
  return out;
}

/** Examples may leave the namespace to kubectl -n. */
function inNamespace(doc: Record<string, unknown>): Record<string, unknown> {
  return { ...doc, metadata: { namespace: 'default', ...(doc.metadata as object) } };
}

describe('shipped CloudPhoneRoute examples', () => {
  const routes = shipped(['examples', 'deploy'], [KIND]);
  it('there are some', () => expect(routes.length).to.be.greaterThan(0));
  for (const { file, doc } of routes) {
    it(`${file}: ${String((doc.metadata as { name?: unknown } | undefined)?.name)} parses`, () => {
      const route = parseCloudPhoneRoute(inNamespace(doc));
      expect(route.spec.trafficType).to.be.oneOf(['direct', 'routing']);
    });
  }
});

describe('shipped account examples', () => {
  const accounts = shipped(['examples', 'deploy'], accountKinds);
  const secrets = shipped(['examples'], ['Secret']).map((s) => String((s.doc.metadata as { name?: unknown }).name));

  it('there is one of each kind in examples/', () => {
    for (const kind of accountKinds)
      expect(
        accounts.filter((a) => a.file.startsWith('examples/') && a.doc.kind === kind),
        kind,
      ).to.have.length.greaterThan(0);
  });
  for (const { file, doc } of accounts) {
    const kind = doc.kind as AccountKind;
    it(`${file}: ${kind} ${String((doc.metadata as { name?: unknown }).name)} parses, and its Secret is shipped`, () => {
      const account = parseAccountObject(kind === CLUSTER_ACCOUNT_KIND ? doc : inNamespace(doc), kind);
      const ref = account.spec.credentials.secretRef;
      if (ref && file.startsWith('examples/')) expect(secrets, `${file}: Secret ${ref.name}`).to.include(ref.name);
    });
  }

  it("examples/: each route's accountRef names a shipped account whose scope admits the route's name prefix", () => {
    const parsed = accounts
      .filter((a) => a.file.startsWith('examples/'))
      .map((a) =>
        parseAccountObject(a.doc.kind === CLUSTER_ACCOUNT_KIND ? a.doc : inNamespace(a.doc), a.doc.kind as AccountKind),
      );
    const routes = shipped(['examples'], [KIND]).map((r) => parseCloudPhoneRoute(inNamespace(r.doc)));
    expect(routes.some((r) => r.spec.accountRef !== undefined)).to.equal(true);
    for (const route of routes) {
      const ref = route.spec.accountRef;
      if (!ref) continue;
      const account = parsed.find((a) => a.kind === ref.kind && a.metadata.name === ref.name);
      expect(account, `${route.metadata.name}: ${ref.kind} ${ref.name}`).to.not.equal(undefined);
      const prefix = route.spec.selector?.phoneNamePrefix;
      if (prefix !== undefined)
        expect(phoneInScope(account!.spec.phoneScope, { phoneName: `${prefix}1` }), route.metadata.name).to.equal(true);
    }
  });

  it('examples/cluster-account.yaml is the default account: ambient credentials, every phone', () => {
    const cluster = accounts.find((a) => a.file === 'examples/cluster-account.yaml');
    const account = parseAccountObject(cluster?.doc, CLUSTER_ACCOUNT_KIND);
    expect(account.metadata.name).to.equal('default');
    expect(account.spec.credentials).to.deep.equal({ ambient: true });
    expect(account.spec.phoneScope).to.deep.equal({});
  });
});
