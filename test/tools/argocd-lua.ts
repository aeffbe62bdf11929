/**
 * argocd-lua (./argocd-lua/main.go): runs an Argo CD health or action script under gopher-lua the way Argo CD's
 * util/lua does, for the Argo CD tests. Built from its Go module into the project's cache by the same harness as
 * the control plane (ensureGoTool). Its source is ours, so the cache key carries a hash of it: an edit of
 * main.go, go.mod or go.sum builds a new binary. `tsx test/tools/argocd-lua.ts` builds it ahead of the tests.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGoTool, type ProgressSink } from '../cluster/build.js';

/** The gopher-lua version in ./argocd-lua/go.mod. Must match it. */
export const GOPHER_LUA_VERSION = 'v1.1.2';

const ARGOCD_LUA_MODULE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'argocd-lua');

export function ensureArgoCdLua(options: { progress?: ProgressSink } = {}): Promise<string> {
  const source = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'main.go']) source.update(readFileSync(join(ARGOCD_LUA_MODULE_DIR, file)));
  return ensureGoTool(
    {
      name: 'argocd-lua',
      goPackage: '.',
      version: `${GOPHER_LUA_VERSION}-${source.digest('hex').slice(0, 12)}`,
      moduleDir: ARGOCD_LUA_MODULE_DIR,
    },
    options,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  const binary = await ensureArgoCdLua();
  process.stdout.write(`${binary} ready after ${Math.round((Date.now() - started) / 1000)} s\n`);
}
