/**
 * The world most e2e suites start in: the shared control plane with the CRDs, a CPH simulator over HTTPS with
 * its own project and key pair, and the operator as a process with its real flags, pointed at the simulator.
 * One place for the set-up, so that a change of how the operator starts is made once.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { sharedControlPlane, type ControlPlane } from './control-plane.js';
import { startOperator, type OperatorProcess } from './operator-process.js';
import { Routes, installCrd } from './routes.js';
import { SimAdmin, type SimPhone } from './sim-admin.js';

export interface E2eWorldOptions {
  /** Names the temporary folder of the simulator's CA. */
  name: string;
  phones: number;
  seed: number;
  projectId: string;
  ak: string;
  sk: string;
  jobMs: number;
  /** The operator's --drift-interval. */
  driftInterval: string;
}

export interface E2eWorld {
  cp: ControlPlane;
  sim: RunningSimulator;
  admin: SimAdmin;
  operator: OperatorProcess;
  routes: Routes;
  phones: SimPhone[];
  /** The simulator's CA bundle, for a second operator or account. */
  caFile: string;
}

export async function startE2eWorld(options: E2eWorldOptions): Promise<E2eWorld> {
  const { projectId, ak, sk } = options;
  const cp = await sharedControlPlane();
  await installCrd(cp.kubeConfig());
  const dir = await mkdtemp(path.join(tmpdir(), `cph-${options.name}-`));
  const caFile = path.join(dir, 'sim-ca.pem');
  const sim = await startSimulator({
    tls: true,
    caOut: caFile,
    phones: options.phones,
    seed: options.seed,
    projectId,
    ak,
    sk,
    jobMs: options.jobMs,
  });
  const admin = new SimAdmin(sim.url, sim.caPem);
  const phones = await admin.phones();
  const operator = await startOperator({
    kubeconfigPath: cp.kubeconfigPath,
    cphEndpoint: sim.url,
    projectId,
    caFile,
    env: { HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: sk },
    extraArgs: ['--job-poll-interval', '300ms', '--drift-interval', options.driftInterval],
  });
  return { cp, sim, admin, operator, routes: new Routes(cp.kubeConfig()), phones, caFile };
}

/** Stops what startE2eWorld started (any part may be missing after a failed start); returns the operator's log. */
export async function stopE2eWorld(world: Partial<E2eWorld>): Promise<string[]> {
  const logs = world.operator?.logs() ?? [];
  await world.operator?.stop();
  world.admin?.close();
  await world.sim?.close();
  return logs;
}
