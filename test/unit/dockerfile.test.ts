/**
 * What the real build cannot show. `npm run image:build` builds the Dockerfile with podman on a local base and
 * `npm run test:image` runs the result as deploy/ runs it (test/image/): that proves the runtime stage holds
 * what the operator needs and nothing else, that it starts, serves and stops. These tests check the rest,
 * without an engine:
 *   - the default NODE_IMAGE, which the local build replaces: one official Node.js LTS image for every build
 *     stage, the runtime stage assembled FROM scratch (so no RUN there: it has no shell);
 *   - the cache-friendly order of the build stage, install scripts (and so "prepare") off everywhere, the
 *     production install in a stage of its own;
 *   - what deploy/ overrides when it runs the image (the image's own USER, NODE_ENV, EXPOSE) and the
 *     entrypoint that package.json's bin names;
 *   - the build context: every file the Dockerfile copies is let through .dockerignore, and .dockerignore
 *     keeps out what must not enter the image (secrets, local state), which no build would notice.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Dockerfile instructions, with line continuations joined and comments dropped. */
function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: Stage[] } {
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
      line += ` ${lines[i]!.trim()}`;
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
      if (instruction.keyword !== 'ARG')
        throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before FROM`);
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
function isIgnored(dockerignore: string, path: string): boolean {
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
              if (part === '**/') return '(?:.*/)?';
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

describe('Dockerfile (static checks; test/image builds and runs it)', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');
  const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    engines: { node: string };
    scripts: Record<string, string>;
  };
  const { globalArgs, stages } = parseDockerfile(dockerfile);
  const stage = (name: string): Stage => {
    const found = stages.find((s) => s.name === name);
    if (!found) throw new Error(`no stage named "${name}"`);
    return found;
  };
  const runtime = stages[stages.length - 1]!;
  const runs = (of: Stage) => of.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const copies = (of: Stage) => of.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');

  describe('stages and base image', () => {
    it('builds on NODE_IMAGE in build, deps and rootfs stages, and assembles the runtime stage FROM scratch', () => {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's own ${NODE_IMAGE}, not a template
      const expected = ['build ${NODE_IMAGE}', 'deps ${NODE_IMAGE}', 'rootfs ${NODE_IMAGE}'];
      expect(stages.map((s) => `${s.name ?? ''} ${s.base}`)).to.deep.equal([...expected, 'runtime scratch']);
      expect(runs(runtime), 'no RUN in the runtime stage: it has no shell').to.deep.equal([]);
      for (const copy of copies(runtime)) {
        const from = /^--from=(\S+)/.exec(copy.args)?.[1];
        if (from !== undefined) expect(['build', 'deps', 'rootfs'], copy.args).to.include(from);
      }
    });

    it('defaults NODE_IMAGE to one official Node.js LTS image (an even major line, >= 26, slim Debian)', () => {
      const image = globalArgs.get('NODE_IMAGE');
      expect(image, 'ARG NODE_IMAGE=<default> before the first FROM').to.be.a('string');
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

  describe('build and deps stages', () => {
    it('build: installs all dependencies with npm ci before copying the sources, without running "prepare"', () => {
      const build = stage('build');
      const install = runs(build).find((r) => /\bnpm ci\b/.test(r));
      expect(install, 'RUN npm ci').to.be.a('string');
      expect(install).to.match(/--ignore-scripts/);
      expect(install).to.not.match(/--omit=dev|--production/);
      const installIndex = build.instructions.findIndex((i) => i.args === install);
      const copySrcIndex = build.instructions.findIndex((i) => i.keyword === 'COPY' && /\bsrc\b/.test(i.args));
      expect(installIndex).to.be.lessThan(
        copySrcIndex,
        'dependencies are a layer of their own, cached across source changes',
      );
    });

    it('build: compiles with npm run build, whose script is the production tsconfig', () => {
      expect(runs(stage('build')).some((r) => r.startsWith('npm run build'))).to.equal(true);
      expect(packageJson.scripts.build).to.equal('tsc -p tsconfig.build.json');
    });

    it('deps: installs production dependencies only, from package.json and package-lock.json alone, install scripts off', () => {
      const deps = stage('deps');
      expect(copies(deps).map((c) => c.args)).to.deep.equal(['package.json package-lock.json ./']);
      const installs = runs(deps);
      expect(installs).to.have.length(1);
      expect(installs[0]).to.match(/^npm ci\b/);
      expect(installs[0]).to.match(/--omit=dev\b/);
      expect(installs[0]).to.match(/--ignore-scripts\b/);
      expect(packageJson.scripts.prepare, 'the script --ignore-scripts must keep from running').to.equal(
        'npm run build',
      );
      for (const each of stages) for (const run of runs(each)) expect(run).to.not.match(/\bnpm (install|i)\b/);
    });
  });

  describe('runtime stage', () => {
    it('sets NODE_ENV=production', () => {
      const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
      expect(env.some((e) => /(^|\s)NODE_ENV=production(\s|$)/.test(e))).to.equal(true);
    });

    it('runs as the non-root numeric user 65532 (the image default; deploy/ sets the same)', () => {
      const users = runtime.instructions.filter((i) => i.keyword === 'USER');
      expect(users).to.have.length(1);
      const [uid, gid] = users[0]!.args.split(':');
      expect(uid).to.equal('65532');
      expect(gid).to.equal('65532');
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
      const buildConfig = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as {
        compilerOptions: { rootDir: string; outDir: string };
      };
      expect(buildConfig.compilerOptions).to.include(
        { rootDir: 'src', outDir: 'dist' },
        'src/main.ts compiles to dist/main.js',
      );
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
});
