/**
 * The Argo CD resource actions of CloudPhoneRoute (deploy/argocd/actions/: discovery, reconcile, suspend,
 * resume), run under gopher-lua set up as Argo CD's util/lua sets up an action (test/tools/argocd-lua, built
 * from its Go module into the tools cache) against test/fixtures/argocd/actions/, laid out like Argo CD's own
 * resource_customizations/<group>/<kind>/actions/action_test.yaml. The clock the scripts read (os.date) is
 * fixed per case with the runner's -now flag, so the reconcile action's timestamp is checked exactly.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ensureArgoCdLua } from '../tools/argocd-lua.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const actionsDir = join(root, 'deploy/argocd/actions');
const fixtures = join(root, 'test/fixtures/argocd/actions');
const REQUESTED_AT = 'cloudphone.dev/reconcile-requested-at';

/** The actions argocd-cm-patch.yaml installs (its definitions; test/unit/argocd-cm.test.ts checks their text). */
function installedActions(): string[] {
  const patch = parseYaml(readFileSync(join(root, 'deploy/argocd/argocd-cm-patch.yaml'), 'utf8')) as {
    data: Record<string, string>;
  };
  const actions = parseYaml(patch.data['resource.customizations.actions.cloudphone.dev_CloudPhoneRoute'] ?? '') as {
    definitions: { name: string }[];
  };
  return actions.definitions.map((d) => d.name).sort();
}

interface ActionTests {
  discoveryTests: { inputPath: string; result: Record<string, { disabled: boolean }> }[];
  actionTests: { action: string; now: string; inputPath: string; expectedOutputPath: string }[];
}

let runner = '';

function runScript(mode: 'discovery' | 'action', script: string, object: unknown, now?: string): unknown {
  const args = [...(now ? ['-now', now] : []), mode, script];
  const result = spawnSync(runner, args, { input: JSON.stringify(object), encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`argocd-lua exited ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

function loadFixture(path: string): Record<string, unknown> {
  return parseYaml(readFileSync(join(fixtures, path), 'utf8')) as Record<string, unknown>;
}

describe('Argo CD actions of CloudPhoneRoute (deploy/argocd/actions/, run by gopher-lua as Argo CD runs them)', () => {
  const spec = parseYaml(readFileSync(join(fixtures, 'action_test.yaml'), 'utf8')) as ActionTests;

  before(async function () {
    this.timeout(10 * 60_000); // the first run builds argocd-lua from its Go module
    runner = await ensureArgoCdLua();
  });

  describe('discovery.lua, for the fixtures of action_test.yaml', () => {
    for (const testCase of spec.discoveryTests) {
      it(`${testCase.inputPath}: ${Object.entries(testCase.result)
        .filter(([, a]) => !a.disabled)
        .map(([name]) => name)
        .join(' and ')} enabled`, () => {
        const result = runScript('discovery', join(actionsDir, 'discovery.lua'), loadFixture(testCase.inputPath));
        expect(result).to.deep.equal(testCase.result);
      });
    }

    it('offers exactly the actions argocd-cm-patch.yaml defines', () => {
      for (const testCase of spec.discoveryTests)
        expect(Object.keys(testCase.result).sort()).to.deep.equal(installedActions());
    });
  });

  describe('the actions, for the fixtures of action_test.yaml', () => {
    for (const testCase of spec.actionTests) {
      it(`${testCase.action} turns ${testCase.inputPath} into ${testCase.expectedOutputPath}, nothing else changed`, () => {
        const script = join(actionsDir, `${testCase.action}.lua`);
        const result = runScript('action', script, loadFixture(testCase.inputPath), testCase.now);
        expect(result).to.deep.equal(loadFixture(testCase.expectedOutputPath));
      });
    }

    it('cover every action', () => {
      expect([...new Set(spec.actionTests.map((t) => t.action))].sort()).to.deep.equal(installedActions());
    });
  });

  describe('reconcile', () => {
    const reconcile = join(actionsDir, 'reconcile.lua');

    it('writes the current time of the real clock, in UTC, as RFC 3339', () => {
      const before = Date.now();
      const result = runScript('action', reconcile, loadFixture('testdata/route.yaml')) as {
        metadata: { annotations: Record<string, string> };
      };
      const value = result.metadata.annotations[REQUESTED_AT] ?? '';
      expect(value).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      // Second resolution: the value is the second the script ran in, not later than now.
      expect(Date.parse(value)).to.be.within(Math.floor(before / 1000) * 1000, Date.now());
    });

    it('gives a new value each second, so every request is one the operator has not handled', () => {
      const object = loadFixture('testdata/route.yaml');
      const first = runScript('action', reconcile, object, '2026-12-02T16:30:00Z') as {
        metadata: { annotations: Record<string, string> };
      };
      const second = runScript('action', reconcile, first, '2026-12-02T16:30:01Z') as typeof first;
      expect(second.metadata.annotations[REQUESTED_AT]).to.equal('2026-12-02T16:30:01Z');
      expect(second.metadata.annotations[REQUESTED_AT]).to.not.equal(first.metadata.annotations[REQUESTED_AT]);
    });
  });

  describe('the sandbox Argo CD gives actions', () => {
    it('stops a script after its one-second budget', () => {
      const loop = spawnSync(runner, ['action', join(fixtures, 'endless.lua')], {
        input: JSON.stringify(loadFixture('testdata/route.yaml')),
        encoding: 'utf8',
      });
      expect(loop.status).to.equal(1);
      expect(loop.stderr).to.contain('context deadline exceeded');
    });

    it('refuses an action that returns something other than the object', () => {
      const result = spawnSync(runner, ['action', join(fixtures, 'returns-string.lua')], {
        input: JSON.stringify(loadFixture('testdata/route.yaml')),
        encoding: 'utf8',
      });
      expect(result.status).to.equal(1);
      expect(result.stderr).to.contain('expect table output from Lua script, not string');
    });
  });
});
