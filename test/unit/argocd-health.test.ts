/**
 * The Argo CD health check of the cloudphone.dev kinds (deploy/argocd/health-cloudphone.lua: CloudPhoneRoute,
 * ClusterCloudPhoneAccount, CloudPhoneAccount), run against the fixture objects of test/fixtures/argocd/, laid
 * out like Argo CD's own resource_customizations/<group>/<kind>/health_test.yaml + testdata/, by two
 * interpreters:
 * - gopher-lua, the interpreter Argo CD embeds, through test/tools/argocd-lua (built from its Go module into the
 *   tools cache, test/tools/argocd-lua.ts), which sets the script up as Argo CD's util/lua does: only the
 *   package, base and table libraries and the safe os (time, date), the object decoded from JSON, a 1 s budget;
 * - a real Lua 5.1 (Debian's lua5.1, which .ci/run installs), the language gopher-lua implements, through
 *   test/fixtures/argocd/driver.lua with the same sandbox. Each object is turned into a Lua table literal here.
 * Without either interpreter these tests fail (they do not skip): a health check nobody ran is not tested.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { type Reason, reasons, stallingReasons } from '../../src/api/v1alpha1/conditions.js';
import { ensureArgoCdLua } from '../tools/argocd-lua.js';
import { KIND } from '../../src/api/v1alpha1/constants.js';
import { accountKinds } from '../../src/api/v1alpha1/account-types.js';

/** The kinds the script serves (one argocd-cm key each). */
const kinds: readonly string[] = [KIND, ...accountKinds];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const healthScript = join(root, 'deploy/argocd/health-cloudphone.lua');
const fixtures = join(root, 'test/fixtures/argocd');
const driver = join(fixtures, 'driver.lua');
const LUA = 'lua5.1';

type ArgoHealth = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';
const argoHealthStatuses: readonly string[] = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];

interface HealthTestCase {
  healthStatus: { status: ArgoHealth; message: string };
  inputPath: string;
}

/** A JSON value as a Lua 5.1 expression. JSON null becomes nil, as in Argo CD's conversion. */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as Lua`);
    return String(value);
  }
  if (typeof value === 'string') return luaString(value);
  if (Array.isArray(value)) return `{${value.map((v) => toLua(v)).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `[${luaString(k)}] = ${toLua(v)}`);
    return `{${fields.join(', ')}}`;
  }
  throw new Error(`cannot write a ${typeof value} as Lua`);
}

/** A Lua string literal: every byte outside printable ASCII, and quote and backslash, escaped as \ddd. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c) out += String.fromCharCode(byte);
    else out += `\\${byte.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}

function requireLua(): void {
  const probe = spawnSync(LUA, ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${LUA} is not installed, so the Argo CD health check cannot be tested. ` +
        `Install Debian's package: apt-get update && apt-get install -y --no-install-recommends lua5.1 ` +
        `(.ci/run does this). ${probe.error ? String(probe.error) : probe.stderr}`,
    );
  }
}

let workDir = '';
let counter = 0;

type HealthResult = { status: string; message: string };

/** An interpreter that runs a health script on an object as Argo CD would. */
interface Interpreter {
  readonly name: string;
  prepare(): Promise<void>;
  runHealth(object: unknown, script?: string): HealthResult;
}

const lua51: Interpreter = {
  name: 'lua5.1',
  async prepare() {
    requireLua();
  },
  runHealth(object, script = healthScript) {
    const objectFile = join(workDir, `object-${counter++}.lua`);
    writeFileSync(objectFile, `return ${toLua(object)}\n`);
    const result = spawnSync(LUA, [driver, objectFile, script], { encoding: 'utf8' });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`lua5.1 exited ${result.status}: ${result.stderr}`);
    const newline = result.stdout.indexOf('\n');
    return { status: result.stdout.slice(0, newline), message: result.stdout.slice(newline + 1) };
  },
};

let argoCdLuaPath = '';
const gopherLua: Interpreter = {
  name: 'gopher-lua (test/tools/argocd-lua)',
  async prepare() {
    argoCdLuaPath = await ensureArgoCdLua();
  },
  runHealth(object, script = healthScript) {
    const result = spawnSync(argoCdLuaPath, ['health', script], { input: JSON.stringify(object), encoding: 'utf8' });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`argocd-lua exited ${result.status}: ${result.stderr}`);
    return JSON.parse(result.stdout) as HealthResult;
  },
};

function loadFixture(inputPath: string): unknown {
  return parseYaml(readFileSync(join(fixtures, inputPath), 'utf8'));
}

/** The keys of the script's `failureReasons` table. */
function luaFailureReasons(): string[] {
  const source = readFileSync(healthScript, 'utf8');
  const table = /local failureReasons = \{([^}]*)\}/.exec(source);
  if (!table) throw new Error('no `local failureReasons = { ... }` table in the health script');
  return [...table[1]!.matchAll(/^\s*([A-Za-z]+)\s*=\s*true,?\s*$/gm)].map((m) => m[1]!).sort();
}

/**
 * What Argo CD must show for a resource whose Ready condition is False with each reason of
 * src/api/v1alpha1/conditions.ts (status up to date, not suspended, not stalled). A Record over
 * Reason: a reason added there and not classified here does not compile.
 */
const expectedForReadyFalse: Record<Reason, ArgoHealth> = {
  InSync: 'Progressing', // only ever Ready=True; as Ready=False it would be "not there yet"
  NoPhonesSelected: 'Progressing', // likewise
  ApplyingRoute: 'Progressing',
  JobsPending: 'Progressing',
  JobFailed: 'Degraded',
  PhonesNotFound: 'Degraded',
  Conflict: 'Degraded',
  PhonesNotRunning: 'Progressing', // changed as soon as the phones run again
  CredentialsInvalid: 'Degraded',
  PermissionDenied: 'Degraded',
  AccountRestricted: 'Degraded',
  CphUnavailable: 'Degraded',
  Throttled: 'Progressing', // retried after a pause, nothing to fix
  Suspended: 'Suspended',
  Deleting: 'Progressing',
  InvalidSpec: 'Degraded',
  AccountNotFound: 'Degraded',
  AccountNotAllowed: 'Degraded',
  PhonesOutOfScope: 'Degraded',
  EndpointNotAllowed: 'Degraded',
  CredentialsVerified: 'Progressing', // an account's Ready=True reason; as Ready=False it would be "not there yet"
  Verifying: 'Progressing', // an account's credentials are being checked
};

/** An object of `kind` whose status is up to date, with a Ready condition (and `extra` conditions). */
function withReady(
  kind: string,
  status: 'True' | 'False' | 'Unknown',
  reason: string,
  extra: Record<string, unknown>[] = [],
) {
  const spec =
    kind === KIND
      ? { trafficType: 'routing', phoneIds: ['631056bfb66b4f4ea02ba25f04830cb4'] }
      : {
          region: 'cn-east-3',
          projectId: '77b6a44cba5143ab91d13ab9a8ff44fd',
          credentials: { secretRef: { name: 'cph' } },
          phoneScope: {},
        };
  return {
    apiVersion: 'cloudphone.dev/v1alpha1',
    kind,
    metadata: { name: 'r', ...(kind === 'ClusterCloudPhoneAccount' ? {} : { namespace: 'phones' }), generation: 7 },
    spec,
    status: {
      observedGeneration: 7,
      conditions: [
        { type: 'Ready', status, reason, message: `message of ${reason}`, lastTransitionTime: '2026-11-28T06:10:00Z' },
        ...extra,
      ],
    },
  };
}

function describeHealthCheckUnder(interpreter: Interpreter): void {
  const runHealth = interpreter.runHealth;
  describe(`Argo CD health check (deploy/argocd/health-cloudphone.lua, run by ${interpreter.name})`, () => {
    before(async function () {
      this.timeout(10 * 60_000); // the first run builds argocd-lua from its Go module
      await interpreter.prepare();
      workDir = mkdtempSync(join(tmpdir(), 'argocd-health-'));
    });
    after(() => {
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    describe('the fixtures of test/fixtures/argocd/health_test.yaml', () => {
      const spec = parseYaml(readFileSync(join(fixtures, 'health_test.yaml'), 'utf8')) as { tests: HealthTestCase[] };

      for (const testCase of spec.tests) {
        const { status, message } = testCase.healthStatus;
        it(`${testCase.inputPath} is ${status}: "${message}"`, () => {
          const health = runHealth(loadFixture(testCase.inputPath));
          expect(health).to.deep.equal({ status, message });
        });
      }

      it('cover every Argo CD health status the script can return and every kind it serves, and every condition in each file is well-formed', () => {
        const seen = new Set(spec.tests.map((t) => t.healthStatus.status));
        expect([...seen].sort()).to.deep.equal(['Degraded', 'Healthy', 'Progressing', 'Suspended']);
        const seenKinds = new Set<string>();
        for (const t of spec.tests) {
          const object = loadFixture(t.inputPath) as {
            kind: string;
            status?: { conditions?: { type: string; status: string }[] };
          };
          expect(kinds, t.inputPath).to.include(object.kind);
          seenKinds.add(object.kind);
          for (const c of object.status?.conditions ?? []) {
            expect(['Ready', 'Reconciling', 'Stalled'], `${t.inputPath}: condition type`).to.include(c.type);
            expect(['True', 'False', 'Unknown'], `${t.inputPath}: condition status`).to.include(c.status);
          }
        }
        expect([...seenKinds].sort()).to.deep.equal([...kinds].sort());
      });

      it('include a Degraded fixture for every failure reason the script knows', () => {
        const degradedReasons = new Set<string>();
        for (const t of spec.tests.filter((t) => t.healthStatus.status === 'Degraded')) {
          const object = loadFixture(t.inputPath) as { status: { conditions: { type: string; reason: string }[] } };
          const ready = object.status.conditions.find((c) => c.type === 'Ready');
          if (ready) degradedReasons.add(ready.reason);
        }
        for (const reason of luaFailureReasons()) expect([...degradedReasons], reason).to.include(reason);
      });
    });

    describe('agreement with src/api/v1alpha1/conditions.ts', () => {
      it("the script's failure reasons are exactly the reasons classified Degraded here", () => {
        const degraded = reasons.filter((r) => expectedForReadyFalse[r] === 'Degraded').sort();
        expect(luaFailureReasons()).to.deep.equal(degraded);
      });

      it('every stalling reason (needs a person) is a failure reason of the script', () => {
        const failures = luaFailureReasons();
        for (const reason of stallingReasons) expect(failures, reason).to.include(reason);
      });

      for (const kind of kinds) {
        for (const reason of reasons) {
          it(`${kind}: Ready=False with reason ${reason} is ${expectedForReadyFalse[reason]}, with the condition's message`, () => {
            const health = runHealth(withReady(kind, 'False', reason));
            expect(health.status).to.equal(expectedForReadyFalse[reason]);
            expect(health.message).to.equal(`${reason}: message of ${reason}`);
          });
        }
      }

      const readyTrueReasons: Array<[string, string]> = [
        [KIND, 'InSync'],
        [KIND, 'NoPhonesSelected'],
        ...accountKinds.map((kind): [string, string] => [kind, 'CredentialsVerified']),
      ];
      for (const [kind, reason] of readyTrueReasons) {
        it(`${kind}: Ready=True with reason ${reason} (no Reconciling, no Stalled, as the operator writes it) is Healthy`, () => {
          expect(runHealth(withReady(kind, 'True', reason))).to.deep.equal({
            status: 'Healthy',
            message: `${reason}: message of ${reason}`,
          });
        });
      }

      for (const kind of accountKinds) {
        it(`${kind}: Reconciling=True (Verifying) is Progressing, even beside an older Ready=True`, () => {
          const verifying = {
            type: 'Reconciling',
            status: 'True',
            reason: 'Verifying',
            message: 'checking',
            lastTransitionTime: '2026-11-28T06:10:00Z',
          };
          expect(runHealth(withReady(kind, 'True', 'CredentialsVerified', [verifying]))).to.deep.equal({
            status: 'Progressing',
            message: 'Verifying: checking',
          });
        });
      }

      for (const reason of [...stallingReasons]) {
        it(`Stalled=True with reason ${reason} is Degraded whatever Ready says, for every kind`, () => {
          const stalled = {
            type: 'Stalled',
            status: 'True',
            reason,
            message: 'a person must act',
            lastTransitionTime: '2026-11-28T06:10:00Z',
          };
          for (const kind of kinds) {
            for (const ready of ['True', 'False', 'Unknown'] as const) {
              expect(
                runHealth(withReady(kind, ready, 'Progressing', [stalled])),
                `${kind} Ready=${ready}`,
              ).to.deep.equal({
                status: 'Degraded',
                message: `${reason}: a person must act`,
              });
            }
          }
        });
      }
    });

    describe('robustness', () => {
      it('returns only statuses Argo CD knows, for objects missing any part', () => {
        const objects: unknown[] = [
          { apiVersion: 'cloudphone.dev/v1alpha1', kind: 'CloudPhoneRoute' },
          { kind: 'CloudPhoneRoute', metadata: {}, spec: {}, status: {} },
          {
            kind: 'CloudPhoneRoute',
            metadata: { generation: 1 },
            status: { observedGeneration: 1, conditions: [{ type: 'Ready' }] },
          },
          { kind: 'CloudPhoneRoute', metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [{}] } },
          { kind: 'CloudPhoneRoute', status: { conditions: [{ type: 'Ready', status: 'True' }] } },
        ];
        for (const object of objects) {
          const health = runHealth(object);
          expect(argoHealthStatuses, JSON.stringify(object)).to.include(health.status);
          expect(health.message, JSON.stringify(object)).to.be.a('string').and.not.equal('nil');
        }
      });

      it('passes messages through byte for byte (quotes, backslashes, newlines, UTF-8)', () => {
        const message = 'phone "a\\b" failed:\n\tCPH said 无法访问 ✓';
        const health = runHealth({
          kind: 'CloudPhoneRoute',
          metadata: { generation: 1 },
          status: {
            observedGeneration: 1,
            conditions: [{ type: 'Ready', status: 'False', reason: 'JobFailed', message }],
          },
        });
        expect(health).to.deep.equal({ status: 'Degraded', message: `JobFailed: ${message}` });
      });

      it("the sandbox is Argo CD's: a script that uses io, os.getenv, string or math fails", () => {
        const uses = ['io.write("x")', 'os.getenv("HOME")', 'string.len("x")', 'math.floor(1.5)'];
        for (const [index, use] of uses.entries()) {
          const bad = join(workDir, `uses-${index}.lua`);
          writeFileSync(bad, `local hs = {}\nhs.status = "Healthy"\nhs.message = tostring(${use})\nreturn hs\n`);
          expect(() => runHealth({ kind: 'CloudPhoneRoute' }, bad), use).to.throw(/attempt to (index|call)/);
        }
      });

      it('the sandbox offers what Argo CD adds: os.time and os.date', () => {
        const clock = join(workDir, 'uses-clock.lua');
        writeFileSync(clock, 'return { status = "Healthy", message = os.date("!%Y", os.time()) }\n');
        expect(runHealth({ kind: 'CloudPhoneRoute' }, clock).message).to.match(/^20\d\d$/);
      });

      it('the script loads under Lua 5.1 (no syntax of later versions)', () => {
        // loadfile fails on goto, //, bit operators and other syntax newer than 5.1.
        execFileSync(LUA, ['-e', `assert(loadfile(${luaString(healthScript)}))`]);
      });
    });
  });
}

describeHealthCheckUnder(gopherLua);
describeHealthCheckUnder(lua51);
