/**
 * What the chaos tests share: the real control plane (one per mocha process), a CPH simulator over HTTPS
 * per test file, the real operator as a child process, and the checks every scenario ends with: the
 * status tells the truth about every phone (compared with the simulator), and no secret, token or
 * signature reaches a log line, an event or a status.
 *
 * Figures the scenarios measure are printed as `chaos figure: ...` lines (docs/reliability.md quotes them).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { sharedControlPlane, type ControlPlane } from '../support/control-plane.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { startOperator, type OperatorProcess, type OperatorProcessOptions } from '../support/operator-process.js';
import { Routes, installCrd, type RouteObject } from '../support/routes.js';
import { SimAdmin, type SimPhone } from '../support/sim-admin.js';

// Every operator process started registers an exit handler (test/support/operator-process.ts); the chaos
// suite starts dozens in one mocha process.
process.setMaxListeners(100);

export const projectId = 'chaosproject';
export const ak = 'CHAOSACCESSKEY0001';
export const sk = 'chaos-secret-key-value-do-not-leak-0123';

export interface ChaosWorld {
  cp: ControlPlane;
  kc: KubeConfig;
  sim: RunningSimulator;
  admin: SimAdmin;
  routes: Routes;
  caFile: string;
  phones: SimPhone[];
  /** Phones no other test of the file has used. */
  takePhones(n: number): string[];
  close(): Promise<void>;
}

export async function chaosWorld(simOptions: Partial<SimulatorOptions> = {}): Promise<ChaosWorld> {
  const cp = await sharedControlPlane();
  const kc = cp.kubeConfig();
  await installCrd(kc);
  const dir = await mkdtemp(path.join(tmpdir(), 'cph-chaos-'));
  const caFile = path.join(dir, 'sim-ca.pem');
  const sim = await startSimulator({
    tls: true,
    caOut: caFile,
    phones: 400,
    seed: 23,
    projectId,
    ak,
    sk,
    jobMs: 600,
    ...simOptions,
  });
  const admin = new SimAdmin(sim.url, sim.caPem);
  const phones = await admin.phones();
  let next = 0;
  return {
    cp,
    kc,
    sim,
    admin,
    routes: new Routes(kc),
    caFile,
    phones,
    takePhones(n) {
      const taken = phones.slice(next, next + n).map((p) => p.phone_id);
      next += n;
      if (taken.length < n) throw new Error('the simulator has too few phones for the chaos tests');
      return taken;
    },
    async close() {
      admin.close();
      await sim.close();
    },
  };
}

/** The operator with the chaos suite's usual flags: fast job polls, short CPH timeout, JSON debug logs. */
export function chaosOperator(
  world: ChaosWorld,
  options: Partial<OperatorProcessOptions> & {
    credentials?: { ak: string; sk: string };
    namespaces?: readonly string[];
  } = {},
): Promise<OperatorProcess> {
  const credentials = options.credentials ?? { ak, sk };
  // Each operator watches only its test's namespaces: the control plane is shared by every chaos file, and
  // resources left by earlier files must not add work (or calls) to a later file's figures.
  const scope =
    options.namespaces && options.namespaces.length > 0 ? ['--namespaces', options.namespaces.join(',')] : [];
  return startOperator({
    kubeconfigPath: options.kubeconfigPath ?? world.cp.kubeconfigPath,
    cphEndpoint: options.cphEndpoint ?? world.sim.url,
    projectId,
    caFile: options.caFile ?? world.caFile,
    name: options.name ?? 'operator',
    env: { HUAWEICLOUD_SDK_AK: credentials.ak, HUAWEICLOUD_SDK_SK: credentials.sk, ...options.env },
    extraArgs: [
      '--job-poll-interval',
      '300ms',
      '--cph-timeout',
      '3s',
      '--drift-interval',
      '20s',
      ...scope,
      ...(options.extraArgs ?? []),
    ],
  });
}

export function figure(text: string): void {
  process.stdout.write(`      chaos figure: ${text}\n`);
}

/** A tiny seeded generator, so a failing chaos run can be repeated with the same draws. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Truth {
  /** Phones on the wanted route in the simulator. */
  onRoute: number;
  /** Phones the status reports as failed. */
  failed: number;
  total: number;
}

/**
 * Reads a resource's status and the simulator, and checks that the status tells the truth, at a moment when
 * nothing moves (no job running in the simulator, no pending phone in the status, and neither the status nor
 * the simulator's write count changed while they were read). Returns undefined when things still move.
 */
export async function truthfulSnapshot(
  world: ChaosWorld,
  namespace: string,
  name: string,
  phoneIds: readonly string[],
): Promise<Truth | undefined> {
  const before = await world.routes.get(namespace, name);
  const countersBefore = await world.admin.counters();
  if (!before?.status || before.status.observedGeneration !== before.metadata.generation) return undefined;
  if (countersBefore.jobs.running !== 0 || (before.status.summary?.pending ?? 0) !== 0) return undefined;
  const simPhones = new Map((await world.admin.phones()).map((p) => [p.phone_id, p]));
  const after = await world.routes.get(namespace, name);
  const countersAfter = await world.admin.counters();
  if (
    after?.metadata.resourceVersion !== before.metadata.resourceVersion ||
    countersAfter.routeWrites.total !== countersBefore.routeWrites.total ||
    countersAfter.jobs.running !== 0
  )
    return undefined;
  return checkTruth(after!, simPhones, phoneIds);
}

/** States that say a phone is not on its wanted route (yet). */
const offRouteStates = new Set(['Failed', 'Drifted', 'Waiting', 'Conflict', 'NotFound', 'Pending']);

/**
 * Every phone the status calls Failed or Drifted is off route; every phone listed as InSync or Changed, or
 * not listed at all (in-sync phones live in the counts), is on route; the counts add up; Ready is True only
 * when every phone is on route.
 */
export function checkTruth(
  route: RouteObject,
  simPhones: ReadonlyMap<string, SimPhone>,
  phoneIds: readonly string[],
): Truth {
  const desired = route.spec.trafficType as string;
  const status = route.status!;
  const summary = status.summary ?? {};
  const key = `${route.metadata.namespace}/${route.metadata.name}`;
  const listed = new Map((status.phones ?? []).map((p) => [String(p.phoneId), p]));
  expect(summary.total, `${key}: summary.total`).to.equal(phoneIds.length);
  let onRoute = 0;
  let failed = 0;
  for (const id of phoneIds) {
    const actual = simPhones.get(id)?.traffic_type;
    const entry = listed.get(id);
    const state = entry?.state as string | undefined;
    if (actual === desired) onRoute += 1;
    if (state === 'Failed') failed += 1;
    if (state !== undefined && offRouteStates.has(state)) {
      if (state !== 'Pending')
        expect(actual, `${key}: phone ${id} is reported ${state}, so it must be off route`).to.not.equal(desired);
      if (state === 'Failed')
        expect(entry?.errorMessage, `${key}: phone ${id} says why it failed`).to.be.a('string').and.not.empty;
    } else {
      expect(
        actual,
        `${key}: phone ${id} is reported ${state ?? 'in sync (not listed)'}, so it must be on ${desired}`,
      ).to.equal(desired);
    }
  }
  expect(summary.inSync, `${key}: summary.inSync`).to.equal(onRoute);
  expect(summary.failed, `${key}: summary.failed`).to.equal(failed);
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  expect(ready?.status, `${key}: Ready`).to.equal(onRoute === phoneIds.length ? 'True' : 'False');
  return { onRoute, failed, total: phoneIds.length };
}

/** Strings that must never leave the operator: the SK, anything that looks like a signature or a token. */
export function leakedSecrets(text: string, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const secret of secrets) if (secret && text.includes(secret)) found.push(`secret ${secret.slice(0, 4)}...`);
  if (/Signature=[0-9a-f]{16,}/i.test(text)) found.push('an SDK-HMAC-SHA256 signature');
  if (/SDK-HMAC-SHA256\s+Access=/i.test(text)) found.push('an Authorization header');
  if (/X-Auth-Token["':\s]+[A-Za-z0-9_-]{20,}/i.test(text)) found.push('an X-Auth-Token');
  if (/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(text)) found.push('a JWT (ServiceAccount token)');
  return found;
}

/** Scans the operator's logs, the events and the statuses of `namespace` for secrets; fails naming what leaked. */
export async function expectNoSecrets(
  kc: KubeConfig,
  namespaces: readonly string[],
  logs: readonly string[],
  secrets: readonly string[],
  routes: Routes,
  names: ReadonlyArray<[string, string]>,
): Promise<{ lines: number; events: number; statuses: number }> {
  const logLeaks = logs.flatMap((line, i) => leakedSecrets(line, secrets).map((what) => `log line ${i}: ${what}`));
  const core = kc.makeApiClient(CoreV1Api);
  let eventCount = 0;
  const eventLeaks: string[] = [];
  for (const namespace of namespaces) {
    const events = await core.listNamespacedEvent({ namespace });
    eventCount += events.items.length;
    for (const event of events.items)
      eventLeaks.push(
        ...leakedSecrets(JSON.stringify(event), secrets).map((what) => `event ${event.metadata?.name}: ${what}`),
      );
  }
  const statusLeaks: string[] = [];
  for (const [namespace, name] of names) {
    const route = await routes.get(namespace, name);
    statusLeaks.push(
      ...leakedSecrets(JSON.stringify(route?.status ?? {}), secrets).map(
        (what) => `status of ${namespace}/${name}: ${what}`,
      ),
    );
  }
  expect([...logLeaks, ...eventLeaks, ...statusLeaks], 'secrets in logs, events or statuses').to.deep.equal([]);
  return { lines: logs.length, events: eventCount, statuses: names.length };
}

/** Prints the operator's last log lines when a test failed. */
export function dumpOnFailure(ctx: Mocha.Context, operators: () => ReadonlyArray<OperatorProcess | undefined>): void {
  if (ctx.currentTest?.state !== 'failed') return;
  for (const operator of operators())
    if (operator)
      process.stderr.write(`--- ${operator.name} log (last 60 lines) ---\n${operator.logs().slice(-60).join('\n')}\n`);
}
