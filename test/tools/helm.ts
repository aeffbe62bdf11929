/**
 * The helm command for the chart tests, built from its Go module (helm.sh/helm/v3, pinned in ./helm/go.mod)
 * into the project's cache beside the control plane, by the same harness (ensureGoTool). Never a downloaded
 * binary. `tsx test/tools/helm.ts` builds it ahead of the tests and prints its path.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGoTool, type ProgressSink } from '../cluster/build.js';

/** Must match ./helm/go.mod. */
export const HELM_VERSION = 'v3.21.4';

const HELM_MODULE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'helm');

/** The Kubernetes minor of the k8s.io modules helm is built with (client-go v0.36.x in ./helm/go.mod). */
const HELM_KUBERNETES_MINOR = '36';

/**
 * What helm's own Makefile sets at link time: its version, and the Kubernetes version `helm template` and
 * `helm lint` assume without a cluster (else 1.20, which the deprecation rules would judge by).
 */
const HELM_LDFLAGS = [
  '-s -w',
  `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
  '-X helm.sh/helm/v3/internal/version.gitTreeState=clean',
  ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [
    `-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`,
    `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${HELM_KUBERNETES_MINOR}`,
  ]),
].join(' ');

export function ensureHelm(options: { progress?: ProgressSink } = {}): Promise<string> {
  return ensureGoTool(
    {
      name: 'helm',
      goPackage: 'helm.sh/helm/v3/cmd/helm',
      version: HELM_VERSION,
      moduleDir: HELM_MODULE_DIR,
      ldflags: HELM_LDFLAGS,
    },
    options,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  const helm = await ensureHelm();
  const version = execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim();
  process.stdout.write(`${helm} (${version}) ready after ${Math.round((Date.now() - started) / 1000)} s\n`);
}
