/**
 * Builds the local control plane from Go modules and caches the binaries outside the repo, keyed by version.
 * kube-apiserver and kube-controller-manager come from the same k8s.io/kubernetes module (required in
 * ./go.mod, with one replace per staging module) and etcd from go.etcd.io/etcd/server/v3 at the version
 * Kubernetes pins. A build happens only when a binary is
 * missing; it writes to a temporary name and renames at the end, so an interrupted build never leaves a
 * half-written binary in the cache.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Kubernetes release the control plane is built from. Must match ./go.mod. */
export const KUBERNETES_VERSION = 'v1.36.3';
/** The etcd release k8s.io/kubernetes v1.36.3 pins (its go.mod: go.etcd.io/etcd/server/v3 v3.6.8). */
export const ETCD_VERSION = 'v3.6.8';

/** The folder holding go.mod for the control plane. */
export const GO_MODULE_DIR = dirname(fileURLToPath(import.meta.url));

export interface ControlPlaneBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly version: string;
}

/** The project's cache outside the repo: built binaries that survive clones. */
function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cph-route-operator');
}

export function controlPlaneCacheDir(version: string = KUBERNETES_VERSION): string {
  return join(cacheRoot(), 'control-plane', version);
}

interface BuildTarget {
  readonly name: 'kube-apiserver' | 'kube-controller-manager' | 'etcd';
  readonly goPackage: string;
  readonly version: string;
}

const TARGETS: readonly BuildTarget[] = [
  { name: 'etcd', goPackage: 'go.etcd.io/etcd/server/v3', version: ETCD_VERSION },
  { name: 'kube-apiserver', goPackage: 'k8s.io/kubernetes/cmd/kube-apiserver', version: KUBERNETES_VERSION },
  // Built after kube-apiserver: most of its packages are then already in the Go build cache.
  {
    name: 'kube-controller-manager',
    goPackage: 'k8s.io/kubernetes/cmd/kube-controller-manager',
    version: KUBERNETES_VERSION,
  },
];

/**
 * The -X flags that make /version report the real release, as the Kubernetes release build does
 * (hack/lib/version.sh). The release commit is not known to the module proxy, so gitCommit stays empty.
 */
export function versionLdflags(version: string, buildDate: string): string {
  const match = /^v(\d+)\.(\d+)\./.exec(version);
  if (!match) throw new Error(`not a Kubernetes release version: ${version}`);
  const [, major, minor] = match;
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitCommit=`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=${buildDate}`,
    );
  }
  return flags.join(' ');
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export type ProgressSink = (line: string) => void;

const defaultProgress: ProgressSink = (line) => process.stderr.write(`${line}\n`);

function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}

function run(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; onStderrLine?: (line: string) => void },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (options.onStderrLine) options.onStderrLine(line);
        // Keep only what a failure report needs: the lines that are not package names from -v.
        if (!/^[\w.\-/]+$/.test(line)) stderr += `${line}\n`;
      }
    });
    child.on('error', (error) =>
      reject(new Error(`cannot run ${command}: ${error.message} (is Go installed and on PATH?)`)),
    );
    child.on('close', (code, signal) => {
      if (pending && !/^[\w.\-/]+$/.test(pending)) stderr += pending;
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${stderr.slice(-8000)}`));
    });
  });
}

/** One Go command built from its module into the cache: the control plane's parts and the test tools alike. */
export interface GoBuild {
  readonly name: string;
  readonly goPackage: string;
  readonly version: string;
  /** The folder whose go.mod pins the module and its dependencies. */
  readonly moduleDir: string;
  readonly ldflags?: string;
}

async function goBuild(build: GoBuild, outputPath: string, progress: ProgressSink): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CGO_ENABLED: '0',
    GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim(),
  };
  const cwd = build.moduleDir;
  const started = Date.now();
  progress(
    `building ${build.name} ${build.version}: a one-time step of several minutes (cached in ${dirname(outputPath)})`,
  );
  const { stdout: depsOut } = await run('go', ['list', '-deps', build.goPackage], { env, cwd });
  const total = depsOut.split('\n').filter((line) => line.trim() !== '').length;
  let compiled = 0;
  const ticker = setInterval(() => {
    progress(
      `  ${build.name}: ${compiled} of at most ${total} packages compiled, ${formatElapsed(Date.now() - started)} elapsed`,
    );
  }, 15_000);
  const temporary = `${outputPath}.partial-${process.pid}`;
  try {
    await run(
      'go',
      ['build', '-v', '-trimpath', '-ldflags', build.ldflags ?? '-s -w', '-o', temporary, build.goPackage],
      {
        env,
        cwd,
        onStderrLine: (line) => {
          if (/^[\w.\-/]+$/.test(line)) compiled += 1;
        },
      },
    );
    await rename(temporary, outputPath);
  } finally {
    clearInterval(ticker);
    await rm(temporary, { force: true });
  }
  progress(`built ${build.name} ${build.version} in ${formatElapsed(Date.now() - started)}`);
}

/** Deletes `<binary>.partial-<pid>` files left by builds whose process was killed. */
async function removeAbandonedPartials(cacheDir: string): Promise<void> {
  for (const entry of await readdir(cacheDir)) {
    const match = /\.partial-(\d+)$/.exec(entry);
    if (!match) continue;
    let alive = true;
    try {
      process.kill(Number(match[1]), 0);
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) await rm(join(cacheDir, entry), { force: true });
  }
}

/**
 * Returns the cached binaries, building those that are missing. Safe to call from several processes: each
 * build writes to its own temporary file and the last rename wins with an identical binary.
 */
export async function ensureControlPlaneBinaries(
  options: { progress?: ProgressSink } = {},
): Promise<ControlPlaneBinaries> {
  const progress = options.progress ?? defaultProgress;
  const cacheDir = controlPlaneCacheDir();
  await mkdir(cacheDir, { recursive: true });
  await removeAbandonedPartials(cacheDir);
  const paths = {
    etcd: join(cacheDir, 'etcd'),
    'kube-apiserver': join(cacheDir, 'kube-apiserver'),
    'kube-controller-manager': join(cacheDir, 'kube-controller-manager'),
  };
  const buildDate = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const target of TARGETS) {
    if (await isExecutable(paths[target.name])) continue;
    const ldflags = versionLdflags(KUBERNETES_VERSION, buildDate);
    await goBuild({ ...target, moduleDir: GO_MODULE_DIR, ldflags }, paths[target.name], progress);
  }
  return {
    etcd: paths.etcd,
    kubeApiserver: paths['kube-apiserver'],
    kubeControllerManager: paths['kube-controller-manager'],
    version: KUBERNETES_VERSION,
  };
}

/** Where a test tool built from a Go module is cached: beside the control plane, keyed by name and version. */
export function toolCacheDir(name: string, version: string): string {
  return join(cacheRoot(), 'tools', `${name}-${version}`);
}

/**
 * Returns the cached binary of a test tool (helm, promtool, ...), building it from its Go module when missing.
 * Each tool has its own go.mod under test/tools/<name>, so its dependencies never move the control plane's.
 */
export async function ensureGoTool(build: GoBuild, options: { progress?: ProgressSink } = {}): Promise<string> {
  const cacheDir = toolCacheDir(build.name, build.version);
  await mkdir(cacheDir, { recursive: true });
  await removeAbandonedPartials(cacheDir);
  const path = join(cacheDir, build.name);
  if (!(await isExecutable(path))) await goBuild(build, path, options.progress ?? defaultProgress);
  return path;
}
