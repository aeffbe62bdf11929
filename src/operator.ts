/**
 * The composition root: builds the operator from its configuration (Kubernetes client, informer, CPH
 * accounts, reconciler, controller, leader election, metrics and probes) and runs it until shutdown.
 * With leader election, every replica keeps its informer warm and serves probes; only the leader runs the
 * controller, the inventory sweeps and the job polls. A leader that loses its Lease exits, as client-go's
 * users do, so a stale leader can never act.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { systemClock, type Clock } from './runtime/clock.js';
import type { Logger } from './runtime/logger.js';
import { errorMessage } from './errors.js';
import { KubeClient, ResourceClient, loadKubeConfig, isConflict, isNotFound, type ResourceRef } from './runtime/kube-client.js';
import { Informer, parseKubeObject, type KubeObject } from './runtime/informer.js';
import { StatusWriter } from './runtime/status-writer.js';
import { EventRecorder } from './runtime/event-recorder.js';
import { Controller } from './runtime/controller.js';
import { objectKey } from './runtime/reconcile.js';
import { LeaderElector } from './runtime/leader-election.js';
import { OperatorMetrics } from './runtime/metrics.js';
import { HealthChecks, startMetricsServer, startProbeServer, type RunningServer } from './runtime/health-server.js';
import { GracefulShutdown } from './runtime/shutdown.js';
import { API_VERSION, GROUP, KIND, VERSION, PLURAL, FIELD_MANAGER } from './api/v1alpha1/constants.js';
import type { Summary } from './api/v1alpha1/types.js';
import { credentialsFromEnv } from './cph/credentials.js';
import { AccountRegistry, type SecretReader } from './controller/accounts.js';
import { planStamp } from './controller/account-plans.js';
import { RouteReconciler, type RouteUpdater } from './controller/reconciler.js';
import { SkippedPhonesReporter, type EventRegarding } from './controller/skipped-phones.js';
import type { OperatorConfig } from './config.js';
import { operatorVersion } from './version.js';

export const routeResource: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL, namespaced: true };
const secretResource: ResourceRef = { group: '', version: 'v1', plural: 'secrets', namespaced: true };

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

/** Reads credentials Secrets with a GET each time (RBAC: get only, no list or watch of Secrets). */
function secretReader(client: KubeClient): SecretReader {
  const secrets = new ResourceClient<SecretObject>(client, secretResource, (raw) => parseKubeObject(raw) as SecretObject);
  return {
    async read(namespace, name) {
      const secret = await secrets.get(namespace, name);
      if (!secret) return undefined;
      const decoded: Record<string, string> = {};
      for (const [key, value] of Object.entries(secret.data ?? {})) if (typeof value === 'string') decoded[key] = Buffer.from(value, 'base64').toString('utf8');
      return decoded;
    },
  };
}

/** The object an Event about a cached CloudPhoneRoute names; none for a key no longer cached. */
function eventRegarding(route: KubeObject | undefined): EventRegarding[] {
  if (!route) return [];
  const { name, namespace, uid } = route.metadata;
  return [{ apiVersion: API_VERSION, kind: KIND, name, ...(namespace ? { namespace } : {}), ...(uid ? { uid } : {}) }];
}

export interface RunningOperator {
  readonly metrics: OperatorMetrics;
  /** Resolves when the operator has stopped. */
  readonly done: Promise<number>;
  stop(reason: string): Promise<number>;
}

export async function runOperator(config: OperatorConfig, logger: Logger, clock: Clock = systemClock, exit: (code: number) => void = (code) => process.exit(code)): Promise<RunningOperator> {
  const metrics = new OperatorMetrics();
  const kc = loadKubeConfig(config.kubeconfig);
  const kube = await KubeClient.create(kc, { onWrite: (verb, resource) => metrics.kubeWrite(verb, resource) });
  const caPem = config.cphCaFile ? await readFile(config.cphCaFile, 'utf8') : undefined;
  // --project-id and --region stand in for the SDK variables when those are not set.
  const envCredentials = credentialsFromEnv({
    ...process.env,
    ...(config.projectId && !process.env.HUAWEICLOUD_SDK_PROJECT_ID ? { HUAWEICLOUD_SDK_PROJECT_ID: config.projectId } : {}),
    ...(config.region && !process.env.HUAWEICLOUD_SDK_REGION ? { HUAWEICLOUD_SDK_REGION: config.region } : {}),
  });
  if (!envCredentials.ok) logger.warn('no default CPH credentials; only resources with spec.credentialsSecretRef can be served', { reason: envCredentials.error.message });

  const informer = new Informer<KubeObject>({ client: kube, resource: routeResource, namespaces: config.namespaces, clock, logger });
  const statusWriter = new StatusWriter({ client: kube, resource: routeResource, logger });
  const routes = new ResourceClient<KubeObject>(kube, routeResource, parseKubeObject);
  const events = new EventRecorder({ client: kube, clock, logger, reportingController: `${GROUP}/cph-route-operator`, reportingInstance: config.identity });

  const skippedPhones = new SkippedPhonesReporter({ clock, events, count: (reason, entries) => metrics.phoneEntriesSkippedBy(reason, entries) });
  let controller: Controller | undefined;
  const enqueue = (keys: Iterable<string>): void => {
    for (const key of keys) controller?.enqueue(key);
  };
  const accounts: AccountRegistry = new AccountRegistry({
    defaults: {
      cphEndpoint: config.cphEndpoint,
      iamEndpoint: config.iamEndpoint,
      region: config.region,
      projectId: config.projectId,
      caPem,
      credentials: envCredentials.ok ? envCredentials.credentials : envCredentials.error,
      qps: config.cphQps,
      burst: config.cphBurst,
      apiQps: config.cphApiQps,
      timeoutMs: config.cphTimeoutMs,
      jobPollIntervalMs: config.jobPollIntervalMs,
      userAgent: `cph-route-operator/${operatorVersion} (${config.identity})`,
    },
    secrets: secretReader(kube),
    clock,
    logger,
    hooks: {
      onSwept: (account, snapshot) => {
        skippedPhones.swept(account.key, account.description, snapshot.skipped, () => accounts.owners(account).flatMap((key) => eventRegarding(informer.get(key))));
        enqueue(accounts.owners(account));
      },
      onSweepFailed: (account, error) => {
        logger.warn('phone inventory sweep failed', { account: account.description, error: errorMessage(error) });
        enqueue(accounts.owners(account));
      },
      onPhonesRead: (account, phones, sweep): Promise<void> => reconciler.phonesRead(account, phones, sweep),
      onJobsEnded: (_account, owners) => enqueue(owners),
      onCphCall: (call) => metrics.cphCall(call.operation, call.outcome),
      onRouteCall: () => undefined,
    },
  });

  const cachedKeys = (): string[] => informer.list().map((obj) => objectKey(obj.metadata));
  const summaries = new Map<string, Summary>();
  const phoneStates = ['inSync', 'drifted', 'pending', 'failed', 'conflicted', 'notFound', 'waiting'] as const;
  const phoneTotals: Record<(typeof phoneStates)[number], number> = { inSync: 0, drifted: 0, pending: 0, failed: 0, conflicted: 0, notFound: 0, waiting: 0 };
  const updater: RouteUpdater = {
    async patchStatus(namespace, name, status) {
      const observed = informer.get(`${namespace}/${name}`) as (KubeObject & { status?: unknown }) | undefined;
      const result = await statusWriter.update(observed ?? { metadata: { namespace, name } }, status);
      if (result.outcome === 'conflict') throw new Error(`status of ${namespace}/${name} changed meanwhile; retrying`);
    },
    async setFinalizers(namespace, name, resourceVersion, finalizers) {
      try {
        await routes.mergePatch(namespace, name, { metadata: { finalizers, ...(resourceVersion ? { resourceVersion } : {}) } });
      } catch (error) {
        if (isNotFound(error)) return;
        if (isConflict(error)) throw new Error(`${namespace}/${name} changed meanwhile; retrying`, { cause: error });
        throw error;
      }
    },
  };
  const reconciler: RouteReconciler = new RouteReconciler({
    cache: { get: (key) => informer.get(key), keys: cachedKeys },
    requeue: (keys) => enqueue(keys),
    updater,
    accounts,
    events,
    clock,
    logger,
    defaultDriftIntervalMs: config.driftIntervalMs,
    metrics: {
      driftCorrections: (count) => metrics.driftCorrected(count),
      phonesByState: (key, summary) => {
        // Totals change by the difference of this resource's summary, so a reconcile costs O(1), not O(R).
        const before = summaries.get(key);
        if (summary) summaries.set(key, summary);
        else summaries.delete(key);
        for (const state of phoneStates) phoneTotals[state] += (summary?.[state] ?? 0) - (before?.[state] ?? 0);
        metrics.setPhones(phoneTotals);
      },
    },
  });

  const checks = new HealthChecks();
  checks.addHealthCheck('informer', () => informer.healthy());
  checks.addReadyCheck('informer-synced', () => informer.hasSynced());
  const servers: RunningServer[] = [];
  for (const server of [
    config.metricsBindAddress ? await startMetricsServer(config.metricsBindAddress, metrics) : undefined,
    config.healthProbeBindAddress ? await startProbeServer(config.healthProbeBindAddress, checks) : undefined,
  ])
    if (server) servers.push(server);

  informer.start();

  const startController = async (signal: AbortSignal): Promise<void> => {
    await informer.waitForSync(signal);
    controller = new Controller({ name: 'cloudphoneroute', reconciler, clock, logger, maxConcurrentReconciles: config.maxConcurrentReconciles, metrics });
    // Our own status writes come back as updates; only a change a plan depends on (spec, deletion,
    // finalizer) is worth a reconcile. A status edited by someone else is rewritten at the next sweep.
    controller.watch(informer, undefined, (before, after) => planStamp(before.metadata) !== planStamp(after.metadata));
    enqueue(cachedKeys());
    logger.info('controller started', { resources: informer.list().length });
    void controller.start();
  };
  const stopController = async (): Promise<void> => {
    const running = controller;
    controller = undefined;
    await running?.stop(10_000);
    await accounts.stopAll();
  };

  const shutdown = new GracefulShutdown({ clock, logger, exit });
  const electionAbort = new AbortController();
  let election: Promise<void> | undefined;
  if (config.leaderElect) {
    const elector = new LeaderElector({
      client: kube,
      namespace: config.leaderElectionNamespace,
      name: config.leaderElectionId,
      identity: config.identity,
      clock,
      logger,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      callbacks: {
        onStartedLeading: async (signal) => {
          metrics.setLeader(true);
          await startController(signal);
        },
        onStoppedLeading: async () => {
          metrics.setLeader(false);
          await stopController();
        },
        onNewLeader: (identity) => logger.info('leader observed', { leader: identity }),
      },
    });
    election = elector.run(electionAbort.signal).then(() => {
      if (!electionAbort.signal.aborted) {
        logger.error('leadership lost; exiting so that a fresh replica can take over');
        void shutdown.shutdown('leadership lost');
      }
    });
  } else {
    metrics.setLeader(true);
    void startController(electionAbort.signal).catch((error: unknown) => logger.error('controller failed to start', { error: errorMessage(error) }));
  }

  shutdown.addStep('stop controller and release the lease', async () => {
    electionAbort.abort(new Error('shutting down'));
    if (election) await election;
    else await stopController();
  });
  shutdown.addStep('stop informer', () => informer.stop());
  shutdown.addStep('flush events', async () => {
    await events.flush();
    events.stop();
  });
  shutdown.addStep('close servers', async () => {
    await Promise.all(servers.map((server) => server.close()));
    kube.close();
  });
  shutdown.install();
  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  logger.info('cph-route-operator started', {
    version: operatorVersion,
    identity: config.identity,
    namespaces: config.namespaces.length ? config.namespaces : 'all',
    leaderElect: config.leaderElect,
    fieldManager: FIELD_MANAGER,
    host: os.hostname(),
  });
  return {
    metrics,
    done,
    stop: async (reason) => {
      const code = await shutdown.shutdown(reason);
      resolveDone(code);
      return code;
    },
  };
}

