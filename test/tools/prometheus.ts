/**
 * prometheus and promtool for the monitoring tests, built from their Go module (github.com/prometheus/prometheus,
 * pinned in ./prometheus/go.mod with a tools.go for both commands) into the project's cache beside the control
 * plane, by the same harness (ensureGoTool). Never a downloaded binary. `tsx test/tools/prometheus.ts` builds
 * both ahead of the tests and prints their paths.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGoTool, type ProgressSink } from '../cluster/build.js';

/** The Go module version of github.com/prometheus/prometheus in ./prometheus/go.mod. Must match it. */
export const PROMETHEUS_MODULE_VERSION = 'v0.316.0';
/** Prometheus 3.x is published as Go module v0.3XX.Y: the release v0.316.0 is, which --version reports. */
export const PROMETHEUS_RELEASE = '3.16.0';

const PROMETHEUS_MODULE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'prometheus');

/** What Prometheus's own build (promu) sets at link time that matters here: the version. */
const PROMETHEUS_LDFLAGS = `-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_RELEASE}`;

export function ensurePromtool(options: { progress?: ProgressSink } = {}): Promise<string> {
  return ensureGoTool(
    {
      name: 'promtool',
      goPackage: 'github.com/prometheus/prometheus/cmd/promtool',
      version: PROMETHEUS_MODULE_VERSION,
      moduleDir: PROMETHEUS_MODULE_DIR,
      ldflags: PROMETHEUS_LDFLAGS,
    },
    options,
  );
}

/** The server, without the web UI's assets (the `builtinassets` tag): the API, scraping and rules are all there. */
export function ensurePrometheus(options: { progress?: ProgressSink } = {}): Promise<string> {
  return ensureGoTool(
    {
      name: 'prometheus',
      goPackage: 'github.com/prometheus/prometheus/cmd/prometheus',
      version: PROMETHEUS_MODULE_VERSION,
      moduleDir: PROMETHEUS_MODULE_DIR,
      ldflags: PROMETHEUS_LDFLAGS,
    },
    options,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  for (const ensure of [ensurePromtool, ensurePrometheus]) {
    const binary = await ensure();
    const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).split('\n')[0];
    process.stdout.write(`${binary} (${version}) ready after ${Math.round((Date.now() - started) / 1000)} s\n`);
  }
}
