/**
 * The composition root, in two parts as kubebuilder's cmd/main.go has them:
 *   - `buildOperator` wires the parts (informers, account registry, reconcilers, controllers, health checks)
 *     from the configuration and three dependencies (a Kubernetes client, how a CPH credential's port is
 *     made, a clock), and nothing else: it starts nothing;
 *   - `runOperator` runs them: metrics and probe servers, informers, leader election (only the leader runs
 *     the controllers, the inventory sweeps and the job polls; a leader that loses its Lease exits, as
 *     client-go's users do, so a stale leader can never act), and a graceful shutdown.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { systemClock, type Clock } from './runtime/clock.js';
import type { Logger } from './runtime/logger.js';
import { errorMessage } from './errors.js';
import { KubeClient, ResourceClient, loadKubeConfig, type ResourceRef } from './runtime/kube-client.js';
import { Informer, parseKubeObject, type KubeObject } from './runtime/informer.js';
import { StatusWriter } from './runtime/status-writer.js';
import { EventRecorder } from './runtime/event-recorder.js';
import { Controller } from './runtime/controller.js';
import { objectKey } from './runtime/reconcile.js';
import { LeaderElector } from './runtime/leader-election.js';
import { OperatorMetrics } from './runtime/metrics.js';
import { PhoneTotals } from './runtime/phone-totals.js';
import { HealthChecks, startMetricsServer, startProbeServer, type RunningServer } from './runtime/health-server.js';
import { GracefulShutdown } from './runtime/shutdown.js';
import { accountStatusUpdater, eventRegarding, routeUpdater, secretReader } from './runtime/route-adapters.js';
import { GROUP, KIND, VERSION, PLURAL, FIELD_MANAGER } from './api/v1alpha1/constants.js';
import {
  CLUSTER_ACCOUNT_KIND,
  CLUSTER_ACCOUNT_PLURAL,
  NAMESPACED_ACCOUNT_KIND,
  NAMESPACED_ACCOUNT_PLURAL,
  type AccountRef,
} from './api/v1alpha1/account-types.js';
import { reconcileRequestedAt } from './api/v1alpha1/reconcile-request.js';
import { ResourceConditionMetrics } from './runtime/condition-metrics.js';
import { TokenBucket } from './cph/rate-limiter.js';
import { credentialsFromEnv } from './cph/credentials.js';
import { formatHostPatterns } from './cph/endpoints.js';
import { AccountRegistry, type Account } from './controller/accounts.js';
import { AccountDirectory } from './controller/account-directory.js';
import { AccountObjectReconciler, queueKeyOfObjectKey } from './controller/account-reconciler.js';
import { planStamp } from './controller/account-plans.js';
import { cphClientPorts, type CredentialPortFactory } from './controller/cph-port.js';
import { RouteReconciler } from './controller/reconciler.js';
import { SkippedPhonesReporter } from './controller/skipped-phones.js';
import type { OperatorConfig } from './config.js';
import { operatorVersion } from './version.js';

export const routeResource: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL, namespaced: true };
export const clusterAccountResource: ResourceRef = {
  group: GROUP,
  version: VERSION,
  plural: CLUSTER_ACCOUNT_PLURAL,
  namespaced: false,
};
export const namespacedAccountResource: ResourceRef = {
  group: GROUP,
  version: VERSION,
  plural: NAMESPACED_ACCOUNT_PLURAL,
  namespaced: true,
};
const namespaceResource: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', namespaced: false };

export interface OperatorDeps {
  kube: KubeClient;
  /** Makes the port of a CPH credential (`cphClientPorts` over real clients in production). */
  cphPortFor: CredentialPortFactory;
  clock: Clock;
  logger: Logger;
  metrics: OperatorMetrics;
}

/** The wired operator: what `runOperator` starts and stops. */
export interface OperatorParts {
  /** By name, for health checks; the route informer first. */
  readonly informers: ReadonlyArray<[string, Informer<KubeObject>]>;
  readonly checks: HealthChecks;
  readonly events: EventRecorder;
  /** Starts the controllers once the informers have synced (the leader's work). */
  startControllers(signal: AbortSignal): Promise<void>;
  /** Stops the controllers and every CPH account's sweeps and polls. */
  stopControllers(): Promise<void>;
}

/** Wires the operator's parts. Starts nothing. */
export function buildOperator(config: OperatorConfig, deps: OperatorDeps): OperatorParts {
  const { kube, clock, logger, metrics } = deps;
  const ambient = credentialsFromEnv(process.env);
  if (!ambient.ok)
    logger.info('no ambient CPH credentials; ClusterCloudPhoneAccounts with credentials.ambient cannot be used', {
      reason: ambient.error.message,
    });

  const informer = new Informer<KubeObject>({
    client: kube,
    resource: routeResource,
    namespaces: config.namespaces,
    clock,
    logger,
  });
  const clusterAccounts = new Informer<KubeObject>({ client: kube, resource: clusterAccountResource, clock, logger });
  const namespacedAccounts = new Informer<KubeObject>({
    client: kube,
    resource: namespacedAccountResource,
    namespaces: config.namespaces,
    clock,
    logger,
  });
  const namespaces = new Informer<KubeObject>({ client: kube, resource: namespaceResource, clock, logger });
  const conditionMetrics = new ResourceConditionMetrics(metrics.resourceCondition);
  conditionMetrics.watch(KIND, informer);
  conditionMetrics.watch(CLUSTER_ACCOUNT_KIND, clusterAccounts);
  conditionMetrics.watch(NAMESPACED_ACCOUNT_KIND, namespacedAccounts);
  const informers: Array<[string, Informer<KubeObject>]> = [
    ['cloudphoneroutes', informer],
    ['clustercloudphoneaccounts', clusterAccounts],
    ['cloudphoneaccounts', namespacedAccounts],
    ['namespaces', namespaces],
  ];
  const directory = new AccountDirectory({
    clusterAccounts,
    namespacedAccounts,
    namespaces,
    defaultAccount: config.defaultAccount,
    env: {
      ambient: ambient.ok ? ambient.credentials : ambient.error,
      iamEndpoint: config.iamEndpoint,
      allowedHosts: config.allowedEndpointHosts,
      clusterResourceNamespace: config.clusterResourceNamespace,
    },
    secrets: secretReader(kube),
  });
  const events = new EventRecorder({
    client: kube,
    clock,
    logger,
    reportingController: `${GROUP}/cph-route-operator`,
    reportingInstance: config.identity,
  });
  const skippedPhones = new SkippedPhonesReporter({
    clock,
    events,
    count: (reason, entries) => metrics.phoneEntriesSkippedBy(reason, entries),
  });

  // The controllers exist only while leading; hooks that fire meanwhile find none and do nothing.
  let controller: Controller | undefined;
  let accountController: Controller | undefined;
  const enqueue = (keys: Iterable<string>): void => {
    for (const key of keys) controller?.enqueue(key);
  };
  const cachedKeys = (): string[] => informer.list().map((obj) => objectKey(obj.metadata));
  /** After a sweep, the routes of the account and the account objects whose phone counts may have moved. */
  const enqueueAccount = (account: Account): void => {
    enqueue(accounts.owners(account));
    for (const key of accounts.objectsOf(account)) accountController?.enqueue(queueKeyOfObjectKey(key));
  };
  let reconciler: RouteReconciler | undefined;
  const accounts: AccountRegistry = new AccountRegistry({
    portFor: deps.cphPortFor,
    jobPollIntervalMs: config.jobPollIntervalMs,
    clock,
    logger,
    hooks: {
      onSwept: (account, snapshot) => {
        skippedPhones.swept(account.key, account.description, snapshot.skipped, () =>
          accounts.owners(account).flatMap((key) => eventRegarding(informer.get(key))),
        );
        enqueueAccount(account);
      },
      onSweepEnded: (_account, outcome, durationMs) => metrics.sweepEnded(outcome, durationMs / 1000),
      onSweepFailed: (account, error) => {
        logger.warn('phone inventory sweep failed', { account: account.description, error: errorMessage(error) });
        enqueueAccount(account);
      },
      onPhonesRead: (account, phones, sweep) => reconciler?.phonesRead(account, phones, sweep) ?? Promise.resolve(),
      onJobsEnded: (_account, owners, outcomes) => {
        for (const outcome of outcomes) metrics.jobEnded(outcome.state === 'succeeded' ? 'success' : 'failed');
        enqueue(owners);
      },
      onRouteCall: () => undefined,
    },
  });
  const phoneTotals = new PhoneTotals((totals) => metrics.setPhones(totals));
  reconciler = new RouteReconciler({
    cache: { get: (key) => informer.get(key), keys: cachedKeys },
    requeue: enqueue,
    updater: routeUpdater({
      statusWriter: new StatusWriter({ client: kube, resource: routeResource, logger }),
      routes: new ResourceClient<KubeObject>(kube, routeResource, parseKubeObject),
      cache: informer,
    }),
    accounts,
    directory,
    events,
    clock,
    logger,
    defaultDriftIntervalMs: config.driftIntervalMs,
    metrics: {
      driftCorrections: (count) => metrics.driftCorrected(count),
      phonesByState: (key, summary) => phoneTotals.route(key, summary),
    },
  });
  const accountReconciler = new AccountObjectReconciler({
    clusterAccounts,
    namespacedAccounts,
    directory,
    accounts,
    clock,
    logger,
    updater: accountStatusUpdater({
      cluster: new StatusWriter({ client: kube, resource: clusterAccountResource, logger }),
      namespaced: new StatusWriter({ client: kube, resource: namespacedAccountResource, logger }),
    }),
  });

  /** The routes that use an account object (by their spec.accountRef, or the default account). */
  const routesUsing = (account: KubeObject): string[] => {
    const keys: string[] = [];
    const kind = account.metadata.namespace ? 'CloudPhoneAccount' : 'ClusterCloudPhoneAccount';
    const wanted = directory.objectKeyFor(account.metadata.namespace ?? '', { kind, name: account.metadata.name });
    for (const route of informer.list()) {
      const ref = (route as { spec?: { accountRef?: AccountRef } }).spec?.accountRef;
      const uses = directory.objectKeyFor(
        route.metadata.namespace ?? '',
        ref && typeof ref === 'object' ? ref : undefined,
      );
      if (uses === wanted) keys.push(objectKey(route.metadata));
    }
    return keys;
  };
  const specChanged = (before: KubeObject, after: KubeObject): boolean =>
    before.metadata.generation !== after.metadata.generation ||
    before.metadata.deletionTimestamp !== after.metadata.deletionTimestamp;
  const labelsChanged = (before: KubeObject, after: KubeObject): boolean =>
    JSON.stringify(before.metadata.labels ?? {}) !== JSON.stringify(after.metadata.labels ?? {});

  const checks = new HealthChecks();
  for (const [name, source] of informers) {
    // The route informer keeps its historic check names (probes and dashboards refer to them).
    const suffix = source === informer ? '' : `-${name}`;
    checks.addHealthCheck(`informer${suffix}`, () => source.healthy());
    checks.addReadyCheck(`informer${suffix}-synced`, () => source.hasSynced());
  }

  const startControllers = async (signal: AbortSignal): Promise<void> => {
    await Promise.all(informers.map(([, source]) => source.waitForSync(signal)));
    // Account objects are keyed `name` (cluster-scoped) and `namespace/name`, as objectKey makes them.
    accountController = new Controller({
      name: 'cloudphoneaccount',
      reconciler: accountReconciler,
      clock,
      logger,
      maxConcurrentReconciles: 2,
      metrics,
    });
    accountController.watch(clusterAccounts, undefined, specChanged);
    accountController.watch(namespacedAccounts, undefined, specChanged);
    for (const obj of [...clusterAccounts.list(), ...namespacedAccounts.list()])
      accountController.enqueue(objectKey(obj.metadata));
    controller = new Controller({
      name: 'cloudphoneroute',
      reconciler: reconciler,
      clock,
      logger,
      maxConcurrentReconciles: config.maxConcurrentReconciles,
      metrics,
    });
    // Our own status writes come back as updates; only a change a plan depends on (spec, deletion,
    // finalizer) is worth a reconcile. A status edited by someone else is rewritten at the next sweep.
    // A new value of the reconcile-requested-at annotation asks for a reconcile now (metadata only: no new generation).
    controller.watch(
      informer,
      undefined,
      (before, after) =>
        planStamp(before.metadata) !== planStamp(after.metadata) ||
        reconcileRequestedAt(before.metadata) !== reconcileRequestedAt(after.metadata),
    );
    // An account object's spec change (or its coming and going) and a namespace's labels change which
    // account a route may use.
    controller.watch(clusterAccounts, routesUsing, specChanged);
    controller.watch(namespacedAccounts, routesUsing, specChanged);
    controller.watch(
      namespaces,
      (ns) =>
        informer
          .list()
          .filter((route) => route.metadata.namespace === ns.metadata.name)
          .map((route) => objectKey(route.metadata)),
      labelsChanged,
    );
    enqueue(cachedKeys());
    void accountController.start();
    logger.info('controller started', { resources: informer.list().length });
    void controller.start();
  };
  const stopControllers = async (): Promise<void> => {
    const running = [controller, accountController];
    controller = undefined;
    accountController = undefined;
    await Promise.all(running.map((c) => c?.stop(10_000)));
    await accounts.stopAll();
  };
  return { informers, checks, events, startControllers, stopControllers };
}

export interface RunningOperator {
  readonly metrics: OperatorMetrics;
  /** Resolves when the operator has stopped. */
  readonly done: Promise<number>;
  stop(reason: string): Promise<number>;
}

/** Builds the operator over real clients and runs it until shutdown. */
export async function runOperator(
  config: OperatorConfig,
  logger: Logger,
  clock: Clock = systemClock,
  exit: (code: number) => void = (code) => process.exit(code),
): Promise<RunningOperator> {
  const metrics = new OperatorMetrics();
  const kc = loadKubeConfig(config.kubeconfig);
  // As controller-runtime's clients: each has its own client-side limit, so the Lease renewals of the leader
  // election never wait behind a burst of status writes.
  const kubeClientOptions = () => ({
    onWrite: (_verb: string, resource: string) => metrics.kubeWrite(resource),
    onRequest: (code: string, method: string, host: string) => metrics.restClientRequest(code, method, host),
    rateLimiter: new TokenBucket({ qps: config.kubeApiQps, burst: config.kubeApiBurst, clock }),
  });
  const kube = await KubeClient.create(kc, kubeClientOptions());
  const caPem = config.cphCaFile ? await readFile(config.cphCaFile, 'utf8') : undefined;
  logger.info('CPH and IAM requests go only to allowed hosts', {
    allowedEndpointHosts: formatHostPatterns(config.allowedEndpointHosts),
  });
  const cphPortFor = cphClientPorts(
    {
      caPem,
      qps: config.cphQps,
      burst: config.cphBurst,
      apiQps: config.cphApiQps,
      timeoutMs: config.cphTimeoutMs,
      userAgent: `cph-route-operator/${operatorVersion} (${config.identity})`,
    },
    { clock, logger, onCall: (call) => metrics.cphCall(call.operation, call.outcome) },
  );
  const parts = buildOperator(config, { kube, cphPortFor, clock, logger, metrics });

  const servers: RunningServer[] = [];
  for (const server of [
    config.metricsBindAddress ? await startMetricsServer(config.metricsBindAddress, metrics) : undefined,
    config.healthProbeBindAddress ? await startProbeServer(config.healthProbeBindAddress, parts.checks) : undefined,
  ])
    if (server) servers.push(server);
  for (const [, source] of parts.informers) source.start();

  const shutdown = new GracefulShutdown({ clock, logger, exit });
  const electionAbort = new AbortController();
  let election: Promise<void> | undefined;
  const leaderKube = config.leaderElect ? await KubeClient.create(kc, kubeClientOptions()) : undefined;
  if (leaderKube) {
    // A standby says so (0) from the start, so that "no leader" can be told from "no operator".
    metrics.setLeader(config.leaderElectionId, false);
    const elector = new LeaderElector({
      client: leaderKube,
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
          metrics.setLeader(config.leaderElectionId, true);
          await parts.startControllers(signal);
        },
        onStoppedLeading: async () => {
          metrics.setLeader(config.leaderElectionId, false);
          await parts.stopControllers();
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
    metrics.setLeader(config.leaderElectionId, true);
    void parts
      .startControllers(electionAbort.signal)
      .catch((error: unknown) => logger.error('controller failed to start', { error: errorMessage(error) }));
  }

  shutdown.addStep('stop controller and release the lease', async () => {
    electionAbort.abort(new Error('shutting down'));
    if (election) await election;
    else await parts.stopControllers();
  });
  shutdown.addStep('stop informers', () =>
    Promise.all(parts.informers.map(([, source]) => source.stop())).then(() => undefined),
  );
  shutdown.addStep('flush events', async () => {
    await parts.events.flush();
    parts.events.stop();
  });
  shutdown.addStep('close servers', async () => {
    await Promise.all(servers.map((server) => server.close()));
    kube.close();
    leaderKube?.close();
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
