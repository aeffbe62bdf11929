/**
 * The Dockerfile cannot be built here (no Docker engine on the development machines or in CI), so these
 * tests check it without Docker:
 *   - statically: multi-stage, one Node.js LTS base, the build stage compiles, the runtime stage installs
 *     production dependencies only and never runs package.json's "prepare", runs as a non-root numeric
 *     user, starts the file package.json's bin names; every file it copies exists and is let through by
 *     .dockerignore, and .dockerignore keeps out what must not enter the image;
 *   - by rehearsal: the runtime stage's own steps (npm ci --omit=dev --ignore-scripts, then the compiled
 *     dist/) in a scratch folder, and `node dist/main.js --help` there with NODE_ENV=production, which
 *     fails if the operator imports a development-only package at run time.
 * A real `docker build` and a run of the image remain to be done where a Docker engine is available.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Dockerfile instructions, with line continuations joined and comments dropped. */
export function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.trimEnd().endsWith('\\') && i + 1 < lines.length) {
      line = line.trimEnd().slice(0, -1);
      i++;
      if (/^\s*#/.test(lines[i]!)) continue; // comment lines inside a continuation are skipped
      line += ' ' + lines[i]!.trim();
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`Dockerfile line ${start + 1}: cannot parse "${line}"`);
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 });
  }
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!from) throw new Error(`Dockerfile line ${instruction.line}: cannot parse FROM ${instruction.args}`);
      stages.push({ base: from[1]!, name: from[2], instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before FROM`);
      const [name, value = ''] = instruction.args.split('=', 2);
      globalArgs.set(name!, value);
    } else {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/**
 * Whether .dockerignore keeps `path` (relative, '/'-separated) out of the build context, with the
 * semantics of moby's patternmatcher: the last matching rule wins, '!' re-includes, and a rule matches a
 * path when it matches the path itself or one of its parent folders. '*' stays within one path element,
 * '**' spans any number of them.
 */
export function isIgnored(dockerignore: string, path: string): boolean {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negated = l.startsWith('!');
      let pattern = (negated ? l.slice(1) : l).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      if (pattern === '') pattern = '.';
      const regex = new RegExp(
        '^' +
          pattern
            .split(/(\*\*\/?|\*|\?)/)
            .map((part) => {
              if (part === '**/' ) return '(?:.*/)?';
              if (part === '**') return '.*';
              if (part === '*') return '[^/]*';
              if (part === '?') return '[^/]';
              return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
            })
            .join('') +
          '$',
      );
      return { negated, regex };
    });
  const elements = path.split('/');
  const candidates = elements.map((_, i) => elements.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.regex.test(c))) ignored = !rule.negated;
  }
  return ignored;
}

/** The exec-form JSON array of an ENTRYPOINT/CMD, or undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? (parsed as string[]) : undefined;
  } catch {
    return undefined;
  }
}

describe('Dockerfile (checked without Docker)', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');
  const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    engines: { node: string };
    scripts: Record<string, string>;
  };
  const { globalArgs, stages } = parseDockerfile(dockerfile);
  const build = stages.find((s) => s.name === 'build');
  const runtime = stages[stages.length - 1]!;
  const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const copies = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');

  describe('stages and base image', () => {
    it('has a build stage and a separate runtime stage', () => {
      expect(stages.length).to.be.at.least(2);
      expect(build, 'a stage named "build"').to.not.equal(undefined);
      expect(runtime).to.not.equal(build);
      expect(runtime.name).to.equal('runtime');
    });

    it('bases every stage on one Node.js LTS image (an even major line, >= 26, slim Debian)', () => {
      const image = globalArgs.get('NODE_IMAGE');
      expect(image, 'ARG NODE_IMAGE=<default> before the first FROM').to.be.a('string');
      for (const stage of stages) expect(stage.base).to.equal('${NODE_IMAGE}');
      const tag = /^node:(\d+)-(trixie|bookworm)-slim$/.exec(image!);
      expect(tag, `NODE_IMAGE default "${image}" should be node:<major>-<debian>-slim`).to.not.equal(null);
      const major = Number(tag![1]);
      // Node.js 26 became Active LTS on 2026-10-28; odd lines up to 25 never were LTS.
      expect(major).to.be.at.least(26);
      expect(major % 2, 'an even (LTS) major line').to.equal(0);
      const minimum = /^>=\s*(\d+)/.exec(packageJson.engines.node);
      expect(major).to.be.at.least(Number(minimum![1]), 'package.json engines.node');
    });
  });

  describe('build stage', () => {
    it('installs all dependencies with npm ci before copying the sources, without running "prepare"', () => {
      const install = runs(build!).find((r) => /\bnpm ci\b/.test(r));
      expect(install, 'RUN npm ci').to.be.a('string');
      expect(install).to.match(/--ignore-scripts/);
      expect(install).to.not.match(/--omit=dev|--production/);
      const installIndex = build!.instructions.findIndex((i) => i.args === install);
      const copySrcIndex = build!.instructions.findIndex((i) => i.keyword === 'COPY' && /\bsrc\b/.test(i.args));
      expect(installIndex).to.be.lessThan(copySrcIndex, 'dependencies are a layer of their own, cached across source changes');
    });

    it('compiles with npm run build, whose script is the production tsconfig', () => {
      expect(runs(build!)).to.include('npm run build');
      expect(packageJson.scripts.build).to.equal('tsc -p tsconfig.build.json');
    });
  });

  describe('runtime stage', () => {
    it('installs production dependencies only, with install scripts (and so "prepare") off', () => {
      const installs = runs(runtime).filter((r) => /\bnpm\b/.test(r));
      expect(installs).to.have.length(1);
      expect(installs[0]).to.match(/\bnpm ci\b/);
      expect(installs[0]).to.match(/--omit=dev\b/);
      expect(installs[0]).to.match(/--ignore-scripts\b/);
      expect(packageJson.scripts.prepare, 'the script --ignore-scripts must keep from running').to.equal('npm run build');
      for (const stage of stages) for (const run of runs(stage)) expect(run).to.not.match(/\bnpm (install|i)\b/);
    });

    it('sets NODE_ENV=production', () => {
      const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
      expect(env.some((e) => /(^|\s)NODE_ENV=production(\s|$)/.test(e))).to.equal(true);
    });

    it('copies only package.json, package-lock.json and the compiled dist/ from the build stage', () => {
      const sources = copies(runtime).map((c) => c.args);
      expect(sources).to.deep.equal(['package.json package-lock.json ./', '--from=build /src/dist ./dist']);
      expect(runtime.instructions.some((i) => i.keyword === 'ADD')).to.equal(false);
    });

    it('runs as the non-root numeric user 65532, set after every RUN', () => {
      const users = runtime.instructions.filter((i) => i.keyword === 'USER');
      expect(users).to.have.length(1);
      const [uid, gid] = users[0]!.args.split(':');
      expect(uid).to.equal('65532');
      expect(gid).to.equal('65532');
      const userIndex = runtime.instructions.indexOf(users[0]!);
      const lastRun = runtime.instructions.map((i) => i.keyword).lastIndexOf('RUN');
      expect(userIndex).to.be.greaterThan(lastRun);
    });

    it("matches deploy/'s Deployment: the same UID and the ports of the metrics and health flags", () => {
      const deployment = readFileSync(join(root, 'deploy/base/manager/deployment.yaml'), 'utf8');
      expect(deployment).to.match(/runAsUser: 65532/);
      const expose = runtime.instructions.find((i) => i.keyword === 'EXPOSE')!.args.split(/\s+/);
      expect(expose).to.deep.equal(['8080', '8081']);
      expect(deployment).to.contain('--metrics-bind-address=:8080');
      expect(deployment).to.contain('--health-probe-bind-address=:8081');
    });

    it('starts node dist/main.js in exec form, the file package.json names as the cph-route-operator bin', () => {
      const entrypoints = runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT');
      expect(entrypoints).to.have.length(1);
      expect(execForm(entrypoints[0]!.args)).to.deep.equal(['node', 'dist/main.js']);
      expect(packageJson.bin['cph-route-operator']).to.equal('dist/main.js');
      const buildConfig = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
      expect(buildConfig.compilerOptions).to.include({ rootDir: 'src', outDir: 'dist' }, 'src/main.ts compiles to dist/main.js');
    });
  });

  describe('build context (.dockerignore)', () => {
    it('lets through every file the Dockerfile copies from the context, and each exists', () => {
      for (const stage of stages) {
        for (const copy of copies(stage).filter((c) => !c.args.startsWith('--from='))) {
          const sources = copy.args.split(/\s+/).slice(0, -1);
          for (const source of sources) {
            expect(existsSync(join(root, source)), `${source} exists`).to.equal(true);
            expect(isIgnored(dockerignore, source), `${source} is in the build context`).to.equal(false);
          }
        }
      }
      expect(isIgnored(dockerignore, 'src/runtime/logger.ts')).to.equal(false);
    });

    it('keeps out dependencies, build output, VCS data, tests, docs, local state and secrets', () => {
      for (const path of [
        'node_modules/yaml/package.json',
        'dist/main.js',
        '.git/HEAD',
        '.local/cluster/kubeconfig',
        'test/unit/signer.test.ts',
        'docs/architecture.svg',
        'coverage/lcov.info',
        'deploy/overlays/example/credentials.env',
        '.env',
        'src/.env',
        'src/secret.env',
        'npm-debug.log',
        'Dockerfile',
      ]) {
        expect(isIgnored(dockerignore, path), path).to.equal(true);
      }
    });

    it('the matcher follows moby semantics on known cases', () => {
      expect(isIgnored('node_modules\n', 'node_modules/a/b.js')).to.equal(true);
      expect(isIgnored('*\n!src/\n', 'src/a/b.ts')).to.equal(false);
      expect(isIgnored('*\n!src/\n**/*.env\n', 'src/a/b.env')).to.equal(true);
      expect(isIgnored('*.md\n', 'docs/README.md')).to.equal(false);
      expect(isIgnored('**/*.md\n', 'docs/README.md')).to.equal(true);
    });
  });

  describe('rehearsal of the runtime stage without Docker', function () {
    this.timeout(240_000);
    let scratch = '';

    after(() => {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('npm ci --omit=dev --ignore-scripts and the compiled dist/ are enough to run `node dist/main.js --help`', function () {
      if (!existsSync(join(root, 'src/main.ts'))) {
        // The command lands with the reconciler issue; until then there is nothing to start.
        this.skip();
      }
      scratch = mkdtempSync(join(tmpdir(), 'runtime-stage-'));
      const app = join(scratch, 'app');
      // COPY package.json package-lock.json ./
      cpSync(join(root, 'package.json'), join(app, 'package.json'));
      cpSync(join(root, 'package-lock.json'), join(app, 'package-lock.json'));
      // RUN npm ci --omit=dev --ignore-scripts (from the npm cache when it can)
      const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: app,
        encoding: 'utf8',
      });
      expect(install.status, `npm ci failed: ${install.stderr}`).to.equal(0);
      expect(existsSync(join(app, 'node_modules/typescript')), 'no dev dependency installed').to.equal(false);
      // The build stage: tsc -p tsconfig.build.json, with the output in the scratch app.
      const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], {
        cwd: root,
        encoding: 'utf8',
      });
      expect(existsSync(join(app, 'dist/main.js')), `tsc produced no dist/main.js: ${tsc.stdout}${tsc.stderr}`).to.equal(true);
      // ENV NODE_ENV=production; ENTRYPOINT ["node", "dist/main.js"] with --help
      const run = spawnSync(process.execPath, ['dist/main.js', '--help'], {
        cwd: app,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOME: scratch },
        timeout: 30_000,
      });
      expect(run.status, `node dist/main.js --help exited ${run.status}: ${run.stderr}`).to.equal(0);
      expect(run.stdout).to.match(/--leader-elect/);
      expect(run.stdout).to.match(/--metrics-bind-address/);
      expect(run.stdout).to.match(/--health-probe-bind-address/);
    });
  });
});
