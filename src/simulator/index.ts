/**
 * A faithful CPH simulator: the phones list and detail, phones-traffic, jobs and IAM tokens as
 * ../shared/cph-api.md documents them, over HTTP or HTTPS, with signatures checked over the raw bytes,
 * seeded faults and a /_sim/ admin API for tests. `startSimulator` is all a test or the `cph-sim` command
 * needs; docs/cph-simulator.md describes the behaviour and which parts are chosen readings.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../runtime/clock.js';
import { silentLogger } from '../runtime/logger.js';
import { Authenticator } from './auth.js';
import { Fleet } from './fleet.js';
import {
  allFaultKinds,
  defaultReadings,
  type Readings,
  type RuntimeSettings,
  type SimulatorOptions,
} from './options.js';
import { SimulatorServer } from './server.js';
import { CphState } from './state.js';
import { generateTls } from './tls.js';

export type {
  ErrorBodyReading,
  FaultKind,
  JobErrorFieldsReading,
  Readings,
  RuntimeSettings,
  SimulatorOptions,
} from './options.js';
export { allFaultKinds, defaultReadings, knownFaultKinds } from './options.js';
export type { Operation, OperationCounter, ScriptedFault } from './server.js';
export { operations } from './server.js';
export { notRunningErrorCode, jobFailureErrorCode } from './state.js';
export type { WriteLogEntry } from './state.js';

export interface RunningSimulator {
  /** e.g. https://127.0.0.1:18443: CPH paths, IAM /v3/auth/tokens and the /_sim/ admin API. */
  readonly url: string;
  readonly port: number;
  /** With tls: the CA that signed the server certificate. */
  readonly caPem?: string;
  readonly projectId: string;
  /** The live state, for in-process tests (the admin API gives the same over HTTP). */
  readonly server: SimulatorServer;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger();
  const seed = options.seed ?? 1;
  const host = options.host ?? '127.0.0.1';
  const readings: Readings = { ...defaultReadings };
  for (const key of Object.keys(defaultReadings) as Array<keyof Readings>) {
    const value = options[key];
    if (value !== undefined) (readings as unknown as Record<string, unknown>)[key] = value;
  }
  const settings: RuntimeSettings = {
    latencyMs: options.latencyMs ?? 0,
    jobMs: options.jobMs ?? 2000,
    jobFailureRate: options.jobFailureRate ?? 0,
    faultRate: options.faultRate ?? 0,
    faultKinds: [...(options.faultKinds ?? allFaultKinds)],
    rateLimit: options.rateLimit ?? 200,
    retryAfterSeconds: options.retryAfterSeconds ?? 1,
    unreachable: false,
    failJobsForPhones: [],
  };
  const fleet = new Fleet({
    phones: options.phones ?? 1000,
    seed,
    ...(options.phonesPerServer !== undefined ? { phonesPerServer: options.phonesPerServer } : {}),
    ...(options.pools !== undefined ? { pools: options.pools } : {}),
    ...(options.initialTrafficType !== undefined ? { initialTrafficType: options.initialTrafficType } : {}),
    ...(options.fixedPhoneIds !== undefined ? { fixedPhoneIds: options.fixedPhoneIds } : {}),
  });
  const state = new CphState(
    fleet,
    seed,
    readings,
    settings,
    options.maxWriteLog ?? 100_000,
    options.maxJobs ?? 1_000_000,
  );
  const credentials = [...(options.credentials ?? [])];
  if (options.ak !== undefined && options.sk !== undefined) credentials.unshift({ ak: options.ak, sk: options.sk });
  const auth = new Authenticator(credentials);
  auth.skewErrorCode = readings.skewErrorCode;
  const simulator = new SimulatorServer(
    state,
    auth,
    options.projectId,
    {
      user: options.iamUser,
      password: options.iamPassword,
      domain: options.iamDomain,
      tokenTtlMs: (options.tokenTtlSeconds ?? 86_400) * 1000,
    },
    seed,
    clock,
    logger,
  );

  if (options.faultScript !== undefined) {
    const error = simulator.setFaultScript(options.faultScript);
    if (error) throw new Error(`faultScript: ${error}`);
  }

  let caPem: string | undefined;
  let server: http.Server;
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => simulator.handle(req, res);
  if (options.tls) {
    const tls = generateTls(['localhost', '127.0.0.1']);
    caPem = tls.caPem;
    if (options.caOut) await writeFile(options.caOut, tls.caPem, { mode: 0o644 });
    server = https.createServer({ cert: tls.certPem + tls.caPem, key: tls.keyPem }, listener);
  } else {
    server = http.createServer(listener);
  }
  // Longer than any client's idle keep-alive, so a reused socket is not closed under a request
  // (that race would read as a spurious connection reset); close() ends connections itself.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `${options.tls ? 'https' : 'http'}://${urlHost}:${port}`;
  logger.info('cph-sim listening', { url, phones: fleet.size, seed, projectId: options.projectId });
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    ...(caPem !== undefined ? { caPem } : {}),
    projectId: options.projectId,
    server: simulator,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const res of simulator.hung) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
