/**
 * The reconciler end to end without a control plane: a FakeClock, an in-memory route store standing for the
 * informer cache and the API server's writes, and an in-memory CPH project behind the account registry's
 * port factory. The paths covered here were reachable only through e2e and chaos runs before.
 */
import { expect } from 'chai';
import { FINALIZER } from '../../src/api/v1alpha1/constants.js';
import type { CloudPhoneRouteStatus, Condition } from '../../src/api/v1alpha1/types.js';
import { AccountDirectory } from '../../src/controller/account-directory.js';
import { AccountRegistry } from '../../src/controller/accounts.js';
import type { EventSink } from '../../src/controller/account-plans.js';
import { RouteReconciler, type RouteCache, type RouteUpdater } from '../../src/controller/reconciler.js';
import { parseHostPatterns } from '../../src/cph/endpoints.js';
import type { TrafficType } from '../../src/cph/wire.js';
import { formatTime } from '../../src/api/v1alpha1/conditions.js';
import { createLogger, silentLogger, type Logger } from '../../src/runtime/logger.js';
import { PassThrough } from 'node:stream';
import { FakeClock } from '../support/fake-clock.js';
import { InMemoryCph } from '../support/in-memory-cph.js';
import { waitFor } from '../support/wait.js';

const NS = 'team';
const CPH_KEY = 'https://cph.cn-north-4.myhuaweicloud.com|p1';
const DRIFT_MS = 60_000;

interface RouteObject {
  apiVersion: string;
  kind: string;
  metadata: {
    namespace: string;
    name: string;
    uid: string;
    generation: number;
    resourceVersion: string;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: Record<string, unknown>;
  status?: CloudPhoneRouteStatus;
}

/** The informer cache and the API server's writes of CloudPhoneRoutes, in memory: every write is a new object. */
class RouteStore implements RouteCache, RouteUpdater {
  private readonly objects = new Map<string, RouteObject>();
  private version = 0;
  statusWrites = 0;

  constructor(private readonly clock: FakeClock) {}

  get(key: string): RouteObject | undefined {
    return this.objects.get(key);
  }

  keys(): Iterable<string> {
    return [...this.objects.keys()];
  }

  /** Creates the route or changes its spec (a new generation). */
  apply(name: string, spec: Record<string, unknown>): string {
    const key = `${NS}/${name}`;
    const known = this.objects.get(key);
    const metadata = known
      ? { ...known.metadata, generation: known.metadata.generation + 1 }
      : { namespace: NS, name, uid: `uid-${name}`, generation: 1, resourceVersion: '' };
    this.put(key, { apiVersion: 'cloudphone.dev/v1alpha1', kind: 'CloudPhoneRoute', ...known, metadata, spec });
    return key;
  }

  /** kubectl delete: gone at once without finalizers, else marked for deletion. */
  delete(key: string): void {
    const known = this.must(key);
    if (!known.metadata.finalizers?.length) this.objects.delete(key);
    else
      this.put(key, {
        ...known,
        metadata: { ...known.metadata, deletionTimestamp: formatTime(this.clock.now()) },
      });
  }

  currentStatus(raw: object): unknown {
    return (raw as RouteObject).status;
  }

  forget(): void {}

  status(key: string): CloudPhoneRouteStatus {
    return this.must(key).status ?? {};
  }

  async patchStatus(namespace: string, name: string, status: CloudPhoneRouteStatus): Promise<void> {
    const key = `${namespace}/${name}`;
    this.statusWrites += 1;
    this.put(key, { ...this.must(key), status: JSON.parse(JSON.stringify(status)) as CloudPhoneRouteStatus });
  }

  async setFinalizers(
    namespace: string,
    name: string,
    resourceVersion: string | undefined,
    finalizers: string[],
  ): Promise<void> {
    const key = `${namespace}/${name}`;
    const known = this.must(key);
    if (resourceVersion !== undefined && resourceVersion !== known.metadata.resourceVersion)
      throw new Error(`${key} changed meanwhile`);
    if (known.metadata.deletionTimestamp && finalizers.length === 0) this.objects.delete(key);
    else this.put(key, { ...known, metadata: { ...known.metadata, finalizers } });
  }

  private put(key: string, object: RouteObject): void {
    this.objects.set(key, { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.version) } });
  }

  private must(key: string): RouteObject {
    const known = this.objects.get(key);
    if (!known) throw new Error(`${key} not found`);
    return known;
  }
}

/** One operator process: a registry and a reconciler over the shared store and CPH (a restart makes a new one). */
interface Operator {
  reconciler: RouteReconciler;
  accounts: AccountRegistry;
  events: Array<{ type: string; reason: string; note: string }>;
  requeued: Set<string>;
}

class World {
  readonly clock = new FakeClock(Date.parse('2026-12-01T00:00:00Z'));
  readonly store = new RouteStore(this.clock);
  readonly cph = new InMemoryCph();
  /** The credentials Secret of the namespaced account `own`. */
  readonly secret: Record<string, string> = { HUAWEICLOUD_SDK_AK: 'TEAMKEY', HUAWEICLOUD_SDK_SK: 'team-secret' };
  private readonly running: Operator[] = [];

  start(logger: Logger = silentLogger()): Operator {
    const events: Operator['events'] = [];
    const requeued = new Set<string>();
    const requeue = (keys: Iterable<string>): void => {
      for (const key of keys) requeued.add(key);
    };
    const sink: EventSink = { record: (_ref, type, reason, _action, note) => events.push({ type, reason, note }) };
    const directory = new AccountDirectory({
      clusterAccounts: {
        get: (key) =>
          key === 'shared'
            ? {
                apiVersion: 'cloudphone.dev/v1alpha1',
                kind: 'ClusterCloudPhoneAccount',
                metadata: { name: 'shared', generation: 1 },
                spec: { region: 'cn-north-4', projectId: 'p1', credentials: { ambient: true }, phoneScope: {} },
              }
            : undefined,
      },
      namespacedAccounts: {
        get: (key) =>
          key === `${NS}/own`
            ? {
                apiVersion: 'cloudphone.dev/v1alpha1',
                kind: 'CloudPhoneAccount',
                metadata: { name: 'own', namespace: NS, generation: 1 },
                spec: {
                  region: 'cn-north-4',
                  projectId: 'p1',
                  credentials: { secretRef: { name: 'creds' } },
                  phoneScope: {},
                },
              }
            : undefined,
      },
      namespaces: { get: (name) => ({ metadata: { name, labels: {} } }) },
      defaultAccount: 'shared',
      env: {
        ambient: { kind: 'aksk', ak: 'AMBIENTKEY', sk: 'ambient-secret' },
        iamEndpoint: undefined,
        allowedHosts: parseHostPatterns('*.myhuaweicloud.com'),
        clusterResourceNamespace: 'ops',
      },
      secrets: {
        read: async (namespace, name) => (namespace === NS && name === 'creds' ? { ...this.secret } : undefined),
      },
    });
    let reconciler: RouteReconciler | undefined;
    const accounts = new AccountRegistry({
      // The in-memory CPH knows a credential by its access key.
      portFor: (config) =>
        this.cph.portFor(config.credential.kind === 'aksk' ? config.credential.ak : config.credential.id),
      jobPollIntervalMs: 1_000,
      clock: this.clock,
      logger,
      hooks: {
        onSwept: (account) => requeue(accounts.owners(account)),
        onSweepFailed: (account) => requeue(accounts.owners(account)),
        onPhonesRead: (account, phones, sweep) => reconciler?.phonesRead(account, phones, sweep) ?? Promise.resolve(),
        onJobsEnded: (_account, owners) => requeue(owners),
        onRouteCall: () => undefined,
      },
    });
    reconciler = new RouteReconciler({
      cache: this.store,
      updater: this.store,
      accounts,
      directory,
      events: sink,
      clock: this.clock,
      logger,
      defaultDriftIntervalMs: DRIFT_MS,
      accountRetryMs: 10_000,
      requeue,
    });
    const operator = { reconciler, accounts, events, requeued };
    this.running.push(operator);
    return operator;
  }

  /** Stops an operator's accounts (its sweeps and job polls), as a replaced process stops. */
  async stop(operator: Operator): Promise<void> {
    await operator.accounts.stopAll();
    this.running.splice(this.running.indexOf(operator), 1);
  }

  async stopAll(): Promise<void> {
    for (const operator of [...this.running]) await this.stop(operator);
  }

  /** Ends CPH's running jobs and lets the job tracker of `operator` see it. */
  async finishJobs(operator: Operator, fail?: (phoneId: string) => boolean): Promise<void> {
    const requests = this.cph.runningRequests();
    this.cph.finishJobs(fail);
    await this.clock.advance(5_000);
    const account = operator.accounts.get(CPH_KEY);
    await waitFor(() => !requests.some((id) => account?.tracker.pendingRequestIds(`${NS}/a`).includes(id)), {
      what: 'the job tracker to see the jobs end',
      timeoutMs: 5_000,
    });
  }
}

function condition(status: CloudPhoneRouteStatus, type: string): Condition | undefined {
  return status.conditions?.find((c) => c.type === type);
}

function routesOf(cph: InMemoryCph, phoneIds: readonly string[]): TrafficType[] {
  return [...new Set(phoneIds.map((id) => cph.routeOf(id) as TrafficType))];
}

async function reconcileFails(operator: Operator, key: string): Promise<Error> {
  try {
    await operator.reconciler.reconcile(key);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`reconcile of ${key} was expected to fail`);
}

const reconcile = (operator: Operator, key: string) => operator.reconciler.reconcile(key);

describe('reconciler (in memory: fake clock, route store, CPH port)', () => {
  let world: World;
  beforeEach(() => {
    world = new World();
  });
  afterEach(() => world.stopAll());

  it('sends the drifted phones in one call, follows the jobs, and reports Ready once they end', async () => {
    const phones = world.cph.addPhones(150, 'direct');
    world.cph.addPhones(30, 'routing', 'other');
    const op = world.start();
    const key = world.store.apply('a', { trafficType: 'routing', phoneIds: phones });

    const first = await reconcile(op, key);
    expect(first.requeueAfterMs).to.be.a('number');
    expect(world.cph.calls.traffic, 'ceil(150/100) phones-traffic calls').to.equal(2);
    let status = world.store.status(key);
    expect(status.summary).to.deep.include({ total: 150, pending: 150 });
    expect(condition(status, 'Ready')).to.deep.include({ status: 'False', reason: 'JobsPending' });
    expect(status.pendingRequests).to.have.length(2);

    await world.finishJobs(op);
    expect(op.requeued.has(key), 'the resource is requeued when its jobs end').to.equal(true);
    await reconcile(op, key);
    status = world.store.status(key);
    expect(status.summary).to.deep.include({ total: 150, inSync: 150, pending: 0 });
    expect(condition(status, 'Ready')).to.deep.include({ status: 'True', reason: 'InSync' });
    expect(status.pendingRequests).to.deep.equal([]);
    expect(routesOf(world.cph, phones)).to.deep.equal(['routing']);

    // A steady fleet costs nothing: no status write, no change sent.
    const writes = world.store.statusWrites;
    await reconcile(op, key);
    expect(world.store.statusWrites).to.equal(writes);
    expect(world.cph.calls.traffic).to.equal(2);
  });

  it('a failed job is reported and held back, then tried again when its hold ends', async () => {
    const phones = world.cph.addPhones(2, 'direct');
    const op = world.start();
    const key = world.store.apply('a', { trafficType: 'routing', phoneIds: phones, driftCheckInterval: '10m' });
    await reconcile(op, key);
    await world.finishJobs(op, (phoneId) => phoneId === phones[0]);
    const result = await reconcile(op, key);
    let status = world.store.status(key);
    expect(status.summary).to.deep.include({ failed: 1, inSync: 1 });
    expect(status.phones?.find((p) => p.phoneId === phones[0])).to.deep.include({
      state: 'Failed',
      jobStatus: 'Failed',
      errorCode: 'CPS.0003',
    });
    expect(condition(status, 'Ready')).to.deep.include({ status: 'False', reason: 'JobFailed' });
    expect(op.events.some((e) => e.reason === 'JobFailed')).to.equal(true);
    expect(result.requeueAfterMs, 'looked at again when the hold ends').to.be.at.most(30_000 + 50);
    await reconcile(op, key);
    expect(world.cph.calls.traffic, 'held back: not sent again yet').to.equal(1);

    await world.clock.advance(31_000);
    await reconcile(op, key);
    expect(world.cph.calls.traffic, 'sent again once the hold ended').to.equal(2);
    await world.finishJobs(op);
    await reconcile(op, key);
    status = world.store.status(key);
    expect(condition(status, 'Ready')).to.deep.include({ status: 'True', reason: 'InSync' });
  });

  it('holds its finalizer only while deletionPolicy is Revert', async () => {
    const phones = world.cph.addPhones(3, 'routing');
    const op = world.start();
    const key = world.store.apply('a', { trafficType: 'routing', phoneIds: phones, deletionPolicy: 'Revert' });
    await reconcile(op, key);
    expect(world.store.get(key)?.metadata.finalizers).to.deep.equal([FINALIZER]);

    world.store.apply('a', { trafficType: 'routing', phoneIds: phones, deletionPolicy: 'Retain' });
    await reconcile(op, key);
    expect(world.store.get(key)?.metadata.finalizers).to.deep.equal([]);

    // Retain: deleting it goes at once and leaves the phones as they are.
    world.store.delete(key);
    expect(await reconcile(op, key)).to.deep.equal({});
    expect(world.store.get(key)).to.equal(undefined);
    expect(routesOf(world.cph, phones)).to.deep.equal(['routing']);
    expect(world.cph.calls.traffic).to.equal(0);
  });

  it('Revert on delete: sets the phones back to direct, then releases the finalizer', async () => {
    const phones = world.cph.addPhones(5, 'routing');
    const op = world.start();
    const key = world.store.apply('a', { trafficType: 'routing', phoneIds: phones, deletionPolicy: 'Revert' });
    await reconcile(op, key); // adds the finalizer
    await reconcile(op, key);
    expect(condition(world.store.status(key), 'Ready')).to.deep.include({ status: 'True' });

    world.store.delete(key);
    expect(world.store.get(key)?.metadata.deletionTimestamp).to.be.a('string');
    await reconcile(op, key);
    expect(world.cph.calls.traffic).to.equal(1);
    expect(condition(world.store.status(key), 'Ready')).to.deep.include({ status: 'False', reason: 'Deleting' });
    expect(world.store.get(key), 'still held while the revert runs').to.not.equal(undefined);

    await world.finishJobs(op);
    expect(await reconcile(op, key)).to.deep.equal({});
    expect(world.store.get(key), 'finalizer released, resource gone').to.equal(undefined);
    expect(routesOf(world.cph, phones)).to.deep.equal(['direct']);
  });

  it('after a restart, adopts the jobs its status says are running: nothing is sent twice', async () => {
    const phones = world.cph.addPhones(40, 'direct');
    const before = world.start();
    const key = world.store.apply('a', { trafficType: 'routing', phoneIds: phones, driftCheckInterval: '1m' });
    await reconcile(before, key);
    expect(world.cph.calls.traffic).to.equal(1);
    const pending = world.store.status(key).pendingRequests;
    expect(pending).to.have.length(1);
    await world.stop(before);

    // A new process: nothing in memory, only the status in the store and the jobs still running in CPH.
    const after = world.start();
    await reconcile(after, key);
    expect(world.cph.calls.traffic, 'no second change for phones with a job running').to.equal(1);
    expect(world.store.status(key).summary).to.deep.include({ pending: 40 });
    expect(world.store.status(key).pendingRequests).to.deep.equal(pending);

    // The adopted jobs end without saying which route they set: their phones are read again (a sweep asked
    // for at once, not at the drift interval) before anything is sent for them.
    const sweeps = world.cph.calls.list;
    after.requeued.clear();
    await world.finishJobs(after);
    await reconcile(after, key);
    expect(world.cph.calls.traffic, 'not sent again when the adopted jobs end').to.equal(1);
    await waitFor(() => world.cph.calls.list > sweeps && after.requeued.has(key), { what: 'a sweep soon after' });
    await reconcile(after, key);
    expect(condition(world.store.status(key), 'Ready')).to.deep.include({ status: 'True', reason: 'InSync' });
    expect(world.cph.calls.traffic).to.equal(1);
  });

  it('a CPH outage: retried quietly at first, Stalled CphUnavailable once it lasts, Ready again after', async () => {
    const phones = world.cph.addPhones(10, 'routing');
    const op = world.start();
    const key = world.store.apply('a', { trafficType: 'routing', phoneIds: phones, driftCheckInterval: '1m' });
    await reconcile(op, key);
    expect(condition(world.store.status(key), 'Ready')).to.deep.include({ status: 'True' });

    world.cph.down = true;
    // The periodic sweep fails; the route keeps its last known routes for a while.
    await world.clock.advance(61_000);
    await waitFor(() => op.accounts.get(CPH_KEY)?.inventory.lastError !== undefined, { what: 'a failed sweep' });
    await reconcile(op, key);
    expect(condition(world.store.status(key), 'Stalled')).to.equal(undefined);

    // Past the stall threshold with CPH still unreachable: Stalled, and the queue retries with backoff.
    await world.clock.advance(70_000);
    const error = await reconcileFails(op, key);
    expect(error.message).to.contain('CphUnavailable');
    const stalled = world.store.status(key);
    expect(condition(stalled, 'Ready')).to.deep.include({ status: 'False', reason: 'CphUnavailable' });
    expect(condition(stalled, 'Stalled')).to.deep.include({ status: 'True', reason: 'CphUnavailable' });

    world.cph.down = false;
    await world.clock.advance(DRIFT_MS);
    await waitFor(() => op.accounts.get(CPH_KEY)?.inventory.lastError === undefined, { what: 'a sweep again' });
    await reconcile(op, key);
    const back = world.store.status(key);
    expect(condition(back, 'Ready')).to.deep.include({ status: 'True', reason: 'InSync' });
    expect(condition(back, 'Stalled')).to.equal(undefined);
  });

  it('rotated credentials: a refused key stalls the route, the new key in the Secret resumes it', async () => {
    const phones = world.cph.addPhones(4, 'direct');
    world.cph.refused.add('TEAMKEY');
    const op = world.start();
    const key = world.store.apply('a', {
      trafficType: 'routing',
      phoneIds: phones,
      accountRef: { kind: 'CloudPhoneAccount', name: 'own' },
    });
    const result = await reconcile(op, key).catch((error: Error) => error);
    expect(result).to.be.instanceOf(Error);
    let status = world.store.status(key);
    expect(condition(status, 'Ready')).to.deep.include({ status: 'False', reason: 'CredentialsInvalid' });
    expect(condition(status, 'Stalled')).to.deep.include({ status: 'True', reason: 'CredentialsInvalid' });
    expect(world.cph.calls.traffic, 'nothing sent with a refused key').to.equal(0);

    world.secret.HUAWEICLOUD_SDK_AK = 'NEWKEY';
    await reconcile(op, key);
    expect(world.cph.trafficBy.get('NEWKEY')).to.equal(1);
    expect(world.cph.trafficBy.get('TEAMKEY')).to.equal(undefined);
    status = world.store.status(key);
    expect(condition(status, 'Stalled')).to.equal(undefined);
    expect(condition(status, 'Ready')).to.deep.include({ reason: 'JobsPending' });
  });

  it('a conflict: two routes want one phone on different routes; both report it, neither changes it', async () => {
    const [shared = '', onlyA = ''] = world.cph.addPhones(2, 'direct');
    const op = world.start();
    const a = world.store.apply('a', { trafficType: 'routing', phoneIds: [shared, onlyA] });
    const b = world.store.apply('b', { trafficType: 'direct', phoneIds: [shared] });
    await reconcile(op, a);
    await reconcile(op, b);
    for (const key of [a, b]) {
      const status = world.store.status(key);
      expect(condition(status, 'Ready')).to.deep.include({ status: 'False', reason: 'Conflict' });
      expect(status.phones?.find((p) => p.phoneId === shared)).to.deep.include({ state: 'Conflict' });
    }
    expect(world.cph.calls.traffic, 'one call, for the phone only a wants').to.equal(1);
    world.cph.finishJobs();
    expect(world.cph.routeOf(shared)).to.equal('direct');
    expect(world.cph.routeOf(onlyA)).to.equal('routing');

    // b lets the phone go: a may act on it.
    world.store.apply('b', { trafficType: 'direct', phoneIds: [world.cph.addPhones(1, 'direct')[0]] });
    await reconcile(op, b);
    await reconcile(op, a);
    expect(world.store.status(a).summary).to.deep.include({ conflicted: 0, pending: 2 });
  });

  it('suspend: reports drift, changes nothing; resuming sends the changes', async () => {
    const phones = world.cph.addPhones(3, 'direct');
    const op = world.start();
    const key = world.store.apply('a', { trafficType: 'routing', phoneIds: phones, suspend: true });
    await reconcile(op, key);
    let status = world.store.status(key);
    expect(condition(status, 'Ready')).to.deep.include({ status: 'False', reason: 'Suspended' });
    expect(status.summary).to.deep.include({ drifted: 3 });
    expect(world.cph.calls.traffic).to.equal(0);

    world.store.apply('a', { trafficType: 'routing', phoneIds: phones, suspend: false });
    await reconcile(op, key);
    status = world.store.status(key);
    expect(world.cph.calls.traffic).to.equal(1);
    expect(status.summary).to.deep.include({ pending: 3 });
  });

  it('a steady account is planned once, not once per reconcile (each reconcile resolves its account again)', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    const op = world.start(createLogger({ level: 'debug', format: 'json', stream }));
    const keys: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const phones = world.cph.addPhones(3, 'routing');
      // Half through the namespace's own account (its Secret read on each resolve), half through the default.
      keys.push(
        world.store.apply(`r${i}`, {
          trafficType: 'routing',
          phoneIds: phones,
          ...(i % 2 ? { accountRef: { kind: 'CloudPhoneAccount', name: 'own' } } : {}),
        }),
      );
    }
    for (const key of keys) await reconcile(op, key);
    for (const key of keys) await reconcile(op, key);
    for (const key of keys) expect(condition(world.store.status(key), 'Ready')).to.deep.include({ status: 'True' });
    const plansSoFar = (): number => lines.filter((line) => line.includes('"account planned"')).length;
    await waitFor(() => lines.length > 0, { what: 'the log lines', timeoutMs: 1_000 });
    const before = plansSoFar();
    for (let round = 0; round < 3; round += 1) for (const key of keys) await reconcile(op, key);
    await new Promise((resolve) => setImmediate(resolve));
    expect(plansSoFar() - before, 'whole-account plans made by 30 reconciles of an unchanged account').to.equal(0);
  });
});
