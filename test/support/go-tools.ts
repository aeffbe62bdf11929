/**
 * The test tools built from Go modules into the tools cache (test/cluster/build.ts ensureGoTool), each pinned by
 * its own go.mod under test/tools/<name>: Prometheus and promtool (github.com/prometheus/prometheus) for the
 * monitoring tests, and argocd-lua (our runner around github.com/yuin/gopher-lua, the interpreter Argo CD embeds)
 * for the Argo CD health check and actions. The first call builds (minutes for Prometheus), later calls only
 * check the cache. `npx tsx test/support/go-tools.ts` builds all of them, as .ci/run does before the tests.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGoTool } from '../cluster/build.js';

const TOOLS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'tools');

/** The Go module version of github.com/prometheus/prometheus in test/tools/prometheus/go.mod (Prometheus 3.16.0). */
export const PROMETHEUS_MODULE_VERSION = 'v0.316.0';
/** Prometheus 3.x is published as Go module v0.3XX.Y: the release it reports in --version. */
export const PROMETHEUS_RELEASE = '3.16.0';
/** The gopher-lua version in test/tools/argocd-lua/go.mod. */
export const GOPHER_LUA_VERSION = 'v1.1.2';

/** -X flags so that `prometheus --version` names the release, as Prometheus's own build (promu) does. */
const prometheusLdflags = `-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_RELEASE}`;

export function ensurePromtool(): Promise<string> {
  return ensureGoTool({
    name: 'promtool',
    goPackage: 'github.com/prometheus/prometheus/cmd/promtool',
    version: PROMETHEUS_MODULE_VERSION,
    moduleDir: join(TOOLS_DIR, 'prometheus'),
    ldflags: prometheusLdflags,
  });
}

/** The Prometheus server, without the web UI's assets (the `builtinassets` tag): the API and /metrics suffice. */
export function ensurePrometheus(): Promise<string> {
  return ensureGoTool({
    name: 'prometheus',
    goPackage: 'github.com/prometheus/prometheus/cmd/prometheus',
    version: PROMETHEUS_MODULE_VERSION,
    moduleDir: join(TOOLS_DIR, 'prometheus'),
    ldflags: prometheusLdflags,
  });
}

/**
 * test/tools/argocd-lua: runs an Argo CD health or action script the way Argo CD's util/lua does. Its source is
 * ours, so the cache key carries a hash of it: an edit of main.go or go.mod builds a new binary.
 */
export function ensureArgoCdLua(): Promise<string> {
  const moduleDir = join(TOOLS_DIR, 'argocd-lua');
  const source = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'main.go']) source.update(readFileSync(join(moduleDir, file)));
  return ensureGoTool({
    name: 'argocd-lua',
    goPackage: '.',
    version: `${GOPHER_LUA_VERSION}-${source.digest('hex').slice(0, 12)}`,
    moduleDir,
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const ensure of [ensureArgoCdLua, ensurePromtool, ensurePrometheus]) {
    const started = Date.now();
    const path = await ensure();
    process.stderr.write(`${path} ready after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
}
