/**
 * deploy/argocd/argocd-cm-patch.yaml installs the health check into Argo CD, under one key per kind of
 * cloudphone.dev (CloudPhoneRoute, ClusterCloudPhoneAccount, CloudPhoneAccount); each key's Lua text must
 * be the text of deploy/argocd/health-cloudphone.lua (the file the Lua tests run), byte for byte. It also
 * installs the CloudPhoneRoute actions (reconcile, suspend, resume) of deploy/argocd/actions/ under
 * resource.customizations.actions.cloudphone.dev_CloudPhoneRoute, in the YAML Argo CD reads there
 * (discovery.lua and definitions, each script byte for byte). The patch is generated from the .lua files by
 * renderArgoCdConfigMapPatch below; after changing one, regenerate it with
 *
 *   ARGOCD_CM_WRITE=1 npx mocha test/unit/argocd-cm.test.ts
 *
 * The Application example (deploy/argocd/application.yaml) and the kustomization it syncs
 * (deploy/argocd/app/) are checked here too: the CRDs land in an earlier sync wave than any resource,
 * accounts before routes, and the sample resources skip the dry run that would fail before the CRDs exist.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { CRD_NAME, GROUP, KIND } from '../../src/api/v1alpha1/constants.js';
import {
  accountKinds,
  CLUSTER_ACCOUNT_CRD_NAME,
  NAMESPACED_ACCOUNT_CRD_NAME,
} from '../../src/api/v1alpha1/account-types.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const luaPath = join(root, 'deploy/argocd/health-cloudphone.lua');
const patchPath = join(root, 'deploy/argocd/argocd-cm-patch.yaml');
/** Argo CD looks health checks up by group and kind, one key each (resource.customizations.health.<group>_<kind>). */
const HEALTH_KEYS = [KIND, ...accountKinds].map((kind) => `resource.customizations.health.${GROUP}_${kind}`);
/** Argo CD looks resource actions up the same way, under resource.customizations.actions.<group>_<kind>. */
const ACTIONS_KEY = `resource.customizations.actions.${GROUP}_${KIND}`;
const actionsDir = join(root, 'deploy/argocd/actions');
/** The actions of a CloudPhoneRoute, in the order Argo CD lists them; each is deploy/argocd/actions/<name>.lua. */
const ROUTE_ACTIONS = ['reconcile', 'suspend', 'resume'] as const;

interface ArgoCdScripts {
  health: string;
  discovery: string;
  actions: Record<(typeof ROUTE_ACTIONS)[number], string>;
}

function readArgoCdScripts(): ArgoCdScripts {
  const read = (name: string) => readFileSync(join(actionsDir, `${name}.lua`), 'utf8');
  return {
    health: readFileSync(luaPath, 'utf8'),
    discovery: read('discovery'),
    actions: { reconcile: read('reconcile'), suspend: read('suspend'), resume: read('resume') },
  };
}

/** A script as the body of a YAML literal block, indented by `indent` spaces. */
function literalBlock(lua: string, indent: number): string {
  if (!lua.endsWith('\n') || lua.endsWith('\n\n')) throw new Error('a Lua script must end with exactly one newline');
  if (/\t|[ ]+\n/.test(lua))
    throw new Error('a Lua script must have no tabs and no trailing spaces (YAML literal block)');
  const pad = ' '.repeat(indent);
  return lua
    .slice(0, -1)
    .split('\n')
    .map((line) => (line === '' ? '' : `${pad}${line}`))
    .join('\n');
}
const WAVE = 'argocd.argoproj.io/sync-wave';
const SYNC_OPTIONS = 'argocd.argoproj.io/sync-options';

/** The argocd-cm patch for the given scripts: each script as a literal block at its place. */
function renderArgoCdConfigMapPatch(scripts: ArgoCdScripts): string {
  const body = literalBlock(scripts.health, 4);
  const entries = HEALTH_KEYS.map((key) => `  ${key}: |\n${body}\n`).join('');
  const definitions = ROUTE_ACTIONS.map(
    (name) => `    - name: ${name}\n      action.lua: |\n${literalBlock(scripts.actions[name], 8)}\n`,
  ).join('');
  const actions = `  ${ACTIONS_KEY}: |\n    discovery.lua: |\n${literalBlock(scripts.discovery, 6)}\n    definitions:\n${definitions}`;
  return `# Installs the health check of the cloudphone.dev kinds (CloudPhoneRoute, ClusterCloudPhoneAccount,
# CloudPhoneAccount) into Argo CD, one key per kind, each with the same script, and the actions of
# CloudPhoneRoute (reconcile, suspend, resume). GENERATED from health-cloudphone.lua and actions/*.lua beside
# this file: edit those, then run
#   ARGOCD_CM_WRITE=1 npx mocha test/unit/argocd-cm.test.ts
# (test/unit/argocd-cm.test.ts fails while the two differ).
#
# Apply to a running Argo CD (merged into its existing argocd-cm; nothing else there changes):
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file deploy/argocd/argocd-cm-patch.yaml
# With Argo CD's Helm chart, put the same keys and script under configs.cm instead.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
${entries}${actions}`;
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function wave(object: K8sObject): number {
  return Number(object.metadata.annotations?.[WAVE] ?? '0');
}

describe('Argo CD install snippets (deploy/argocd/)', () => {
  describe('argocd-cm-patch.yaml', () => {
    const scripts = readArgoCdScripts();

    if (process.env.ARGOCD_CM_WRITE === '1') {
      it('is rewritten from health-cloudphone.lua and actions/*.lua (ARGOCD_CM_WRITE=1)', () => {
        writeFileSync(patchPath, renderArgoCdConfigMapPatch(scripts));
      });
    }

    it('carries health-cloudphone.lua byte for byte under the health key of each cloudphone.dev kind', () => {
      const patch = parseYaml(readFileSync(patchPath, 'utf8')) as K8sObject;
      for (const key of HEALTH_KEYS) {
        expect(
          patch.data?.[key],
          `${key}: the Lua in argocd-cm-patch.yaml differs from health-cloudphone.lua: run ARGOCD_CM_WRITE=1 npx mocha test/unit/argocd-cm.test.ts`,
        ).to.equal(scripts.health);
      }
    });

    it('carries the CloudPhoneRoute actions as Argo CD reads them: discovery.lua and one definition per action, byte for byte', () => {
      const patch = parseYaml(readFileSync(patchPath, 'utf8')) as K8sObject;
      const actions = parseYaml(patch.data?.[ACTIONS_KEY] ?? '') as {
        'discovery.lua': string;
        definitions: { name: string; 'action.lua': string }[];
      };
      expect(Object.keys(actions)).to.deep.equal(['discovery.lua', 'definitions']);
      expect(actions['discovery.lua']).to.equal(scripts.discovery);
      expect(actions.definitions.map((d) => d.name)).to.deep.equal([...ROUTE_ACTIONS]);
      for (const definition of actions.definitions) {
        expect(Object.keys(definition), definition.name).to.deep.equal(['name', 'action.lua']);
        expect(definition['action.lua'], definition.name).to.equal(
          scripts.actions[definition.name as (typeof ROUTE_ACTIONS)[number]],
        );
      }
    });

    it('is exactly what the generator writes (no hand edits)', () => {
      expect(readFileSync(patchPath, 'utf8')).to.equal(renderArgoCdConfigMapPatch(scripts));
    });

    it('patches argocd-cm in the argocd namespace and nothing else', () => {
      const patch = parseYaml(readFileSync(patchPath, 'utf8')) as K8sObject;
      expect(patch.apiVersion).to.equal('v1');
      expect(patch.kind).to.equal('ConfigMap');
      expect(patch.metadata).to.include({ name: 'argocd-cm', namespace: 'argocd' });
      expect(Object.keys(patch.data ?? {})).to.deep.equal([...HEALTH_KEYS, ACTIONS_KEY]);
    });
  });

  describe('application.yaml and the kustomization it syncs (deploy/argocd/app)', () => {
    const app = parseYaml(readFileSync(join(root, 'deploy/argocd/application.yaml'), 'utf8')) as K8sObject & {
      spec: { source: { path: string }; syncPolicy: { syncOptions: string[] } };
    };
    let rendered: K8sObject[] = [];

    before(() => {
      const out = execFileSync('kubectl', ['kustomize', join(root, app.spec.source.path)], { encoding: 'utf8' });
      rendered = parseAllDocuments(out).map((d) => d.toJSON() as K8sObject);
    });

    it('is an Argo CD Application syncing deploy/argocd/app', () => {
      expect(app.apiVersion).to.equal('argoproj.io/v1alpha1');
      expect(app.kind).to.equal('Application');
      expect(app.spec.source.path).to.equal('deploy/argocd/app');
    });

    it('puts the CRDs and the namespace in wave -1, before everything else (wave 0 or later)', () => {
      const crds = rendered.filter((o) => o.kind === 'CustomResourceDefinition');
      const namespace = rendered.find((o) => o.kind === 'Namespace');
      expect(crds.map((crd) => crd.metadata.name)).to.have.members([
        CRD_NAME,
        CLUSTER_ACCOUNT_CRD_NAME,
        NAMESPACED_ACCOUNT_CRD_NAME,
      ]);
      for (const crd of crds) expect(wave(crd), crd.metadata.name).to.equal(-1);
      expect(wave(namespace!)).to.equal(-1);
      for (const object of rendered.filter((o) => o.kind !== 'CustomResourceDefinition' && o.kind !== 'Namespace')) {
        expect(wave(object), `${object.kind}/${object.metadata.name}`).to.be.at.least(0);
      }
    });

    it('syncs the sample CloudPhoneRoutes after the operator, skipping the dry run that fails before the CRD exists', () => {
      const routes = rendered.filter((o) => o.kind === 'CloudPhoneRoute');
      expect(routes).to.have.length.greaterThan(0);
      const deployment = rendered.find((o) => o.kind === 'Deployment')!;
      for (const route of routes) {
        expect(wave(route), route.metadata.name).to.be.greaterThan(wave(deployment));
        expect(route.metadata.annotations?.[SYNC_OPTIONS], route.metadata.name).to.contain(
          'SkipDryRunOnMissingResource=true',
        );
      }
    });

    it('syncs accounts after the operator and before the routes, skipping the dry run too', () => {
      // deploy/argocd/app holds no account: render a copy of it with one of each kind added.
      const dir = mkdtempSync(join(tmpdir(), 'argocd-app-'));
      try {
        for (const folder of ['deploy', 'crds']) cpSync(join(root, folder), join(dir, folder), { recursive: true });
        const appDir = join(dir, app.spec.source.path);
        const accounts = accountKinds.map((kind) => ({
          apiVersion: `${GROUP}/v1alpha1`,
          kind,
          metadata: { name: `sample-${kind.toLowerCase()}` },
          spec: {},
        }));
        writeFileSync(join(appDir, 'accounts.yaml'), accounts.map((a) => JSON.stringify(a)).join('\n---\n'));
        const kustomization = parseYaml(readFileSync(join(appDir, 'kustomization.yaml'), 'utf8')) as {
          resources: string[];
        };
        kustomization.resources.push('accounts.yaml');
        writeFileSync(join(appDir, 'kustomization.yaml'), stringifyYaml(kustomization));
        const objects = parseAllDocuments(execFileSync('kubectl', ['kustomize', appDir], { encoding: 'utf8' })).map(
          (d) => d.toJSON() as K8sObject,
        );
        const deployment = objects.find((o) => o.kind === 'Deployment')!;
        const routes = objects.filter((o) => o.kind === 'CloudPhoneRoute');
        for (const kind of accountKinds) {
          const account = objects.find((o) => o.kind === kind)!;
          expect(wave(account), kind).to.be.greaterThan(wave(deployment));
          for (const route of routes)
            expect(wave(account), `${kind} before ${route.metadata.name}`).to.be.lessThan(wave(route));
          expect(account.metadata.annotations?.[SYNC_OPTIONS], kind).to.contain('SkipDryRunOnMissingResource=true');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('creates the namespace of the sample resources (the destination namespace)', () => {
      expect(app.spec.syncPolicy.syncOptions).to.include('CreateNamespace=true');
    });
  });
});
