/**
 * The local build base: what the Dockerfile's NODE_IMAGE is when the image is built on this project's
 * machines, where no container registry can be reached and so the official Node.js image cannot be pulled.
 * It is made here, never pulled: a minimal Debian system of the machine's own release (mmdebstrap, minbase
 * variant, from Debian's packages) with the machine's own Node.js and npm put where the official image has
 * them (/usr/local), and the machine's CA bundle trusted by Node (NODE_EXTRA_CA_CERTS), as npm trusts it on
 * the machine, so that `npm ci` in the build reaches the npm registry. It is `podman import`ed under a name
 * that says the Node.js version and the Debian release, and built once: a later call finds it.
 *
 * Only the build stages run on it. The runtime stage of the image is assembled from it (the node binary and
 * its shared libraries), so the local image runs the machine's Node.js on the machine's Debian glibc.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { PodmanError, imageExists, podman } from './podman.js';

const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface BuildBase {
  name: string;
  nodeVersion: string;
  debianRelease: string;
}

/** The machine's Debian release codename (bookworm, trixie), from /etc/os-release. */
function debianRelease(): string {
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const codename = /^VERSION_CODENAME=(\w+)$/m.exec(osRelease)?.[1];
  if (!/^ID=debian$/m.test(osRelease) || !codename) {
    throw new PodmanError(
      'BaseBuildFailed',
      "the local build base is made with mmdebstrap from the machine's own Debian release; this machine is not Debian",
    );
  }
  return codename;
}

function buildBase(): BuildBase {
  const nodeVersion = process.version.replace(/^v/, '');
  const release = debianRelease();
  return {
    name: `localhost/cph-route-operator-base:node${nodeVersion}-${release}`,
    nodeVersion,
    debianRelease: release,
  };
}

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cph-route-operator', 'image');
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error || result.status !== 0) {
    throw new PodmanError(
      'BaseBuildFailed',
      `${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`,
      { cause: result.error },
    );
  }
}

/** Imports the root filesystem in `rootfs` as `name`: tar's output piped into `podman import`. */
async function importRootfs(rootfs: string, base: BuildBase): Promise<void> {
  const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '-cf', '-', '.'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const tarDone = new Promise<void>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', (code) =>
      code === 0 ? resolve() : reject(new PodmanError('BaseBuildFailed', `tar of ${rootfs} exited ${code}`)),
    );
  });
  await Promise.all([
    podman(
      [
        'import',
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change',
        `ENV NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`,
        '--change',
        'CMD ["node"]',
        '--message',
        `Debian ${base.debianRelease} (mmdebstrap minbase) with this machine's Node.js ${base.nodeVersion} and npm`,
        '-',
        base.name,
      ],
      { input: tar.stdout },
    ),
    tarDone,
  ]);
}

/** Builds and imports the local build base unless podman already has it; returns its name. */
export async function ensureBuildBase(progress: (line: string) => void = () => {}): Promise<BuildBase> {
  const base = buildBase();
  if (await imageExists(base.name)) return base;
  const nodePrefix = dirname(dirname(process.execPath));
  const npmDir = join(nodePrefix, 'lib', 'node_modules', 'npm');
  if (!existsSync(join(npmDir, 'bin', 'npm-cli.js'))) {
    throw new PodmanError('BaseBuildFailed', `npm not found at ${npmDir} (beside ${process.execPath})`);
  }
  const rootfs = join(cacheDir(), `base-rootfs-${process.pid}`);
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(dirname(rootfs), { recursive: true });
  try {
    progress(`building ${base.name}: mmdebstrap ${base.debianRelease} (minbase), a one-time step of a few minutes`);
    run('mmdebstrap', [
      '--variant=minbase',
      '--mode=root',
      '--quiet',
      ...['doc', 'man', 'info', 'locale'].map((dir) => `--dpkgopt=path-exclude=/usr/share/${dir}/*`),
      base.debianRelease,
      rootfs,
    ]);
    progress(`adding node ${process.execPath} and npm ${npmDir} under /usr/local, and ${CA_BUNDLE}`);
    cpSync(process.execPath, join(rootfs, 'usr/local/bin/node'));
    cpSync(npmDir, join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
    mkdirSync(join(rootfs, dirname(CA_BUNDLE)), { recursive: true });
    cpSync(CA_BUNDLE, join(rootfs, CA_BUNDLE));
    progress(`podman import ${base.name}`);
    await importRootfs(rootfs, base);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return base;
}
