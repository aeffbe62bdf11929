/**
 * podman as this project runs it: Debian's podman (4.3) with runc, configured by the project's own
 * containers.conf beside this file (through CONTAINERS_CONF, never by edits to /etc). Every podman call of
 * the image build and of the image test goes through `podman()`, so the settings are in one place.
 *
 * The names of the two local images live here too: the build base (./base.ts) and the operator image.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const IMAGE_TOOLS_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(IMAGE_TOOLS_DIR, '..', '..');
export const CONTAINERS_CONF = join(IMAGE_TOOLS_DIR, 'containers.conf');

/** The operator image `npm run image:build` builds and `npm run test:image` runs. */
export const OPERATOR_IMAGE = 'localhost/cph-route-operator:local';

export type PodmanErrorCode = 'PodmanMissing' | 'PodmanFailed' | 'BaseBuildFailed';

export class PodmanError extends Error {
  readonly code: PodmanErrorCode;

  constructor(code: PodmanErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PodmanError';
    this.code = code;
  }
}

export interface PodmanResult {
  stdout: string;
  stderr: string;
}

export interface PodmanOptions {
  /** Bytes written to podman's standard input. */
  input?: NodeJS.ReadableStream;
  /** Echo podman's output as it comes (long builds), besides returning it. */
  echo?: boolean;
}

/** The environment podman runs with: the caller's, with the project's containers.conf. */
export function podmanEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF };
}

/** Throws PodmanMissing, naming what installs it, when podman or runc is not on the PATH. */
export function requirePodman(): void {
  for (const tool of ['podman', 'runc']) {
    const found = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (found.error || found.status !== 0) {
      throw new PodmanError(
        'PodmanMissing',
        `${tool} is not installed: apt-get install podman runc (as .ci/run does)`,
        { cause: found.error },
      );
    }
  }
}

/** Runs `podman ARGS` to its end; rejects with PodmanFailed (and podman's stderr) on a non-zero exit. */
export function podman(args: string[], options: PodmanOptions = {}): Promise<PodmanResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', args, {
      env: podmanEnv(),
      stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => {
      out.push(chunk);
      if (options.echo) process.stdout.write(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err.push(chunk);
      if (options.echo) process.stderr.write(chunk);
    });
    if (options.input && child.stdin) options.input.pipe(child.stdin);
    child.once('error', (error) =>
      reject(new PodmanError('PodmanMissing', `cannot run podman: ${error.message}`, { cause: error })),
    );
    child.once('close', (code) => {
      const result = { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (code === 0) resolve(result);
      else
        reject(
          new PodmanError(
            'PodmanFailed',
            `podman ${args.join(' ')} exited ${code}:\n${result.stderr.trim().split('\n').slice(-20).join('\n')}`,
          ),
        );
    });
  });
}

export async function imageExists(name: string): Promise<boolean> {
  try {
    await podman(['image', 'exists', name]);
    return true;
  } catch (error) {
    if (error instanceof PodmanError && error.code === 'PodmanFailed') return false;
    throw error;
  }
}

export interface ImageInfo {
  id: string;
  sizeBytes: number;
}

export async function inspectImage(name: string): Promise<ImageInfo> {
  const { stdout } = await podman(['image', 'inspect', '--format', '{{.Id}} {{.Size}}', name]);
  const match = /^([0-9a-f]{64}) (\d+)$/.exec(stdout.trim());
  if (!match)
    throw new PodmanError('PodmanFailed', `podman image inspect ${name}: unexpected output "${stdout.trim()}"`);
  return { id: match[1]!, sizeBytes: Number(match[2]) };
}

export function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
