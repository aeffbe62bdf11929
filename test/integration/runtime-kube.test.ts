/**
 * The runtime against a real kube-apiserver: the shared agent, merge-patch status, the informer (events,
 * namespace scopes, server-closed watches, 410, a watch resumed after a real etcd compaction), leader
 * election, the event recorder and the status writer.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import {
  KubeClient,
  isGone,
  mergePatchOptions,
  resourcePath,
  statusError,
  type ResourceClient,
  type ResourceRef,
  type WriteVerb,
} from '../../src/runtime/kube-client.js';
import { Informer, parseKubeObject, type KubeObject } from '../../src/runtime/informer.js';
import { LeaderElector, leaseResource } from '../../src/runtime/leader-election.js';
import { EventRecorder, eventResource } from '../../src/runtime/event-recorder.js';
import { StatusWriter } from '../../src/runtime/status-writer.js';
import { Controller } from '../../src/runtime/controller.js';
import { systemClock } from '../../src/runtime/clock.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { secretReader } from '../../src/runtime/route-adapters.js';
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  sharedControlPlane,
  uniqueName,
  type ControlPlane,
} from '../support/control-plane.js';
import { startControlPlane } from '../cluster/harness.js';
import { waitFor } from '../support/wait.js';

const here = dirname(fileURLToPath(import.meta.url));
const widgetRef: ResourceRef = {
  group: 'runtime-test.cloudphone.dev',
  version: 'v1',
  plural: 'widgets',
  namespaced: true,
};
const secretRef: ResourceRef = { group: '', version: 'v1', plural: 'secrets', namespaced: true };

interface Widget extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/**
 * A TCP proxy in front of the API server whose `freeze()` makes every open connection go silent without closing
 * it (what a dead NAT entry or a hung peer looks like); connections opened afterwards work.
 */
async function freezableProxy(target: URL): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const pairs: [net.Socket, net.Socket][] = [];
  const all = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    const end = (): void => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', end);
    upstream.on('error', end);
    downstream.on('close', end);
    upstream.on('close', end);
    pairs.push([downstream, upstream]);
    all.add(downstream).add(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => {
      for (const [downstream, upstream] of pairs.splice(0)) {
        downstream.unpipe(upstream);
        upstream.unpipe(downstream);
        downstream.pause();
        upstream.pause();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of all) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP proxy in front of the API server that can be held: `hold()` resets every open connection and every
 * new one until `release()`, as a network partition does; the client keeps trying meanwhile.
 */
async function holdableProxy(
  target: URL,
): Promise<{ port: number; hold(): void; release(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let held = false;
  const server = net.createServer((downstream) => {
    if (held) {
      downstream.resetAndDestroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(downstream).add(upstream);
    const end = (): void => {
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    downstream.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    hold: () => {
      held = true;
      for (const socket of [...sockets]) socket.resetAndDestroy();
      sockets.clear();
    },
    release: () => {
      held = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** etcd's v3 HTTP gateway (JSON over the client URL): the store's current revision, and compaction up to a revision. */
async function etcdRevision(etcdUrl: string): Promise<number> {
  const response = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/').toString('base64'), limit: 1 }),
  });
  const body: unknown = await response.json();
  const revision =
    typeof body === 'object' && body !== null ? Reflect.get(Reflect.get(body, 'header') ?? {}, 'revision') : undefined;
  if (typeof revision !== 'string') throw new Error(`etcd range: no header.revision in ${JSON.stringify(body)}`);
  return Number(revision);
}

async function etcdCompact(etcdUrl: string, revision: number): Promise<void> {
  const response = await fetch(`${etcdUrl}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: String(revision), physical: true }),
  });
  if (!response.ok) throw new Error(`etcd compaction: HTTP ${response.status} ${await response.text()}`);
}

describe('informer after a real etcd compaction', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', namespaced: true };
  let plane: ControlPlane | undefined;

  // Its own control plane: with the watch cache off, a watch reads etcd itself, so a resourceVersion that
  // etcd has compacted away is refused by etcd (with the cache on, the API server's own window decides).
  before(async () => {
    plane = await startControlPlane({ apiserverArgs: ['--watch-cache=false'] });
  });

  after(async () => {
    await plane?.stop();
  });

  it('a watch resumed from a compacted revision gets 410 Gone, re-lists, and misses no change', async () => {
    if (!plane) throw new Error('no control plane');
    const direct = await KubeClient.create(plane.kubeConfig());
    const proxy = await holdableProxy(new URL(plane.server));
    const kc = new KubeConfig();
    kc.loadFromString(plane.kubeConfig().exportConfig());
    kc.clusters = kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${proxy.port}` }));
    const proxied = await KubeClient.create(kc);
    const informer = new Informer<KubeObject & { data?: Record<string, string> }>({
      client: proxied,
      resource: configMaps,
      namespaces: ['compaction'],
      clock: systemClock,
      logger: silentLogger(),
      backoffMaxMs: 1_000,
    });
    const seen: string[] = [];
    informer.addEventHandler({
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (_, o) => seen.push(`update ${o.metadata.name}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    const maps = direct.resource<KubeObject & { data?: Record<string, string> }>(configMaps, (raw) =>
      parseKubeObject(raw),
    );
    try {
      await direct.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: 'compaction' } } });
      for (const name of ['a', 'b', 'c'])
        await maps.create('compaction', { metadata: { name, namespace: 'compaction' }, data: { v: '1' } });
      informer.start();
      await informer.waitForSync();
      await waitFor(() => informer.list().length === 3, { what: 'the three ConfigMaps in the cache' });
      const watchedFrom = Number(informer.get('compaction/c')?.metadata.resourceVersion);

      // Cut the informer off, change things it does not see, and compact etcd past all of it.
      proxy.hold();
      await maps.create('compaction', { metadata: { name: 'd', namespace: 'compaction' }, data: { v: '1' } });
      await direct.request({
        method: 'PATCH',
        path: resourcePath(configMaps, { namespace: 'compaction', name: 'a' }),
        contentType: 'application/merge-patch+json',
        body: { data: { v: '2' } },
      });
      await direct.request({
        method: 'DELETE',
        path: resourcePath(configMaps, { namespace: 'compaction', name: 'b' }),
      });
      const revision = await etcdRevision(plane.etcdUrl);
      expect(revision).to.be.greaterThan(watchedFrom);
      await etcdCompact(plane.etcdUrl, revision);
      const failuresBefore = informer.stats.failures;
      await waitFor(() => informer.stats.failures > failuresBefore, {
        what: 'the informer to fail to reach the API server while held',
      });
      const goneBefore = informer.stats.goneRelists;
      const listsBefore = informer.stats.lists;
      proxy.release();

      await waitFor(() => informer.stats.goneRelists > goneBefore, {
        timeoutMs: 30_000,
        what: 'a 410 Gone from the compacted revision',
      });
      await waitFor(() => informer.list().length === 3 && informer.get('compaction/a')?.data?.v === '2', {
        what: 'the cache to match the server',
      });
      expect(informer.stats.lists).to.be.greaterThan(listsBefore);
      expect(
        informer
          .list()
          .map((o) => o.metadata.name)
          .sort(),
      ).to.deep.equal(['a', 'c', 'd']);
      expect(seen).to.include.members(['add d', 'update a', 'delete b']);
      // And the informer goes on watching from the new list.
      await maps.create('compaction', { metadata: { name: 'e', namespace: 'compaction' }, data: { v: '1' } });
      await waitFor(() => seen.includes('add e'), { what: 'an object created after the re-list' });
    } finally {
      await informer.stop();
      proxied.close();
      direct.close();
      await proxy.close();
    }
  });
});

describe('runtime against a real kube-apiserver', function () {
  this.timeout(120_000);
  let client: KubeClient;
  let widgets: ResourceClient<Widget>;
  const writes: { verb: WriteVerb; resource: string }[] = [];
  const stoppers: (() => Promise<void> | void)[] = [];

  async function namespace(prefix = 'rt'): Promise<string> {
    const name = uniqueName(prefix);
    await client.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name } } });
    return name;
  }

  function widget(ns: string, name: string, spec: Record<string, unknown> = { size: 1 }): unknown {
    return { apiVersion: 'runtime-test.cloudphone.dev/v1', kind: 'Widget', metadata: { namespace: ns, name }, spec };
  }

  function startInformer<T extends KubeObject>(options: Partial<ConstructorParameters<typeof Informer<T>>[0]> = {}) {
    const informer = new Informer<T>({
      client,
      resource: widgetRef,
      clock: systemClock,
      logger: silentLogger(),
      ...options,
    });
    const seen: string[] = [];
    informer.addEventHandler({
      onAdd: (o) => seen.push(`add ${o.metadata.namespace}/${o.metadata.name}`),
      onUpdate: (_, o) => seen.push(`update ${o.metadata.namespace}/${o.metadata.name}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.namespace}/${o.metadata.name}`),
    });
    informer.start();
    stoppers.push(() => informer.stop());
    return { informer, seen };
  }

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    const cp = await sharedControlPlane();
    client = await KubeClient.create(cp.kubeConfig(), { onWrite: (verb, resource) => writes.push({ verb, resource }) });
    widgets = client.resource<Widget>(widgetRef, (raw) => parseKubeObject(raw) as Widget);
    const crd = parseYaml(readFileSync(join(here, 'fixtures/runtime/widgets.yaml'), 'utf8')) as unknown;
    try {
      await client.request({
        method: 'POST',
        path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
        body: crd,
      });
    } catch (err) {
      if (!(err instanceof Error && /409/.test(err.message))) throw err;
    }
    await waitFor(async () => (await widgets.list(undefined, { limit: 1 })) !== undefined, {
      what: 'the Widget CRD to be served',
    });
  });

  afterEach(async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop();
  });

  after(() => client?.close());

  describe('kube client', () => {
    it('reuses one keep-alive agent: many requests and watches open few connections', async () => {
      const ns = await namespace();
      let connections = 0;
      const agent = client.agent as unknown as { createConnection: (...args: unknown[]) => unknown };
      const original = agent.createConnection;
      agent.createConnection = function (this: unknown, ...args: unknown[]) {
        connections++;
        return original.apply(this, args);
      };
      try {
        for (let i = 0; i < 40; i++) await widgets.list(ns);
        // Watches that end and reconnect, as informers do.
        for (let i = 0; i < 5; i++) {
          const abort = new AbortController();
          const body = await client.watchStream(
            resourcePath(widgetRef, { namespace: ns }),
            { timeoutSeconds: 1 },
            abort.signal,
          );
          await new Promise<void>((resolve) => {
            body.on('end', resolve);
            body.on('close', resolve);
            body.on('error', () => resolve());
            body.resume();
          });
        }
        for (let i = 0; i < 40; i++) await widgets.list(ns);
      } finally {
        agent.createConnection = original;
      }
      expect(connections).to.be.at.most(3);
    });

    it('merge-patches /status (and shows the option the generated client needs)', async () => {
      const ns = await namespace();
      await widgets.create(ns, widget(ns, 'w'));
      const patched = await widgets.mergePatchStatus(ns, 'w', { status: { phase: 'Ready', count: 1 } });
      expect(patched.status).to.deep.equal({ phase: 'Ready', count: 1 });
      const api = client.makeApiClient(CustomObjectsApi);
      const args = { group: widgetRef.group, version: widgetRef.version, namespace: ns, plural: 'widgets', name: 'w' };
      // Without the content type, client-node 1.4.0 sends JSON Patch and the server refuses a merge body.
      let refused: unknown;
      try {
        await api.patchNamespacedCustomObjectStatus({ ...args, body: { status: { phase: 'X' } } });
      } catch (err) {
        refused = err;
      }
      expect(refused, 'a merge body sent as JSON Patch is refused').to.be.instanceOf(Error);
      await api.patchNamespacedCustomObjectStatus({ ...args, body: { status: { count: 2 } } }, mergePatchOptions());
      expect((await widgets.get(ns, 'w'))?.status).to.deep.equal({ phase: 'Ready', count: 2 });
    });

    it('reports missing objects as undefined and API failures as typed errors', async () => {
      const ns = await namespace();
      expect(await widgets.get(ns, 'missing')).to.equal(undefined);
      expect(await widgets.delete(ns, 'missing')).to.equal(false);
      let err: unknown;
      try {
        await widgets.create(ns, widget(ns, 'Not_Valid'));
      } catch (e) {
        err = e;
      }
      expect(err).to.have.property('statusCode', 422);
      expect(err).to.have.property('reason', 'Invalid');
    });
  });

  describe('informer', () => {
    it('sees add, update and delete, and keeps a cache', async () => {
      const ns = await namespace();
      await widgets.create(ns, widget(ns, 'before'));
      const { informer, seen } = startInformer<Widget>({ namespaces: [ns] });
      await informer.waitForSync();
      expect(informer.get(`${ns}/before`)).to.not.equal(undefined);
      await widgets.create(ns, widget(ns, 'w'));
      await widgets.mergePatch(ns, 'w', { spec: { size: 2 } });
      await widgets.delete(ns, 'w');
      await waitFor(() => seen.includes(`delete ${ns}/w`), { what: 'the delete event' });
      expect(seen).to.deep.equal([`add ${ns}/before`, `add ${ns}/w`, `update ${ns}/w`, `delete ${ns}/w`]);
      expect(informer.list().map((o) => o.metadata.name)).to.deep.equal(['before']);
      expect(informer.healthy()).to.equal(true);
    });

    it('watches only the selected namespaces', async () => {
      const [a, b, c] = [await namespace(), await namespace(), await namespace()];
      const { informer, seen } = startInformer<Widget>({ namespaces: [a, b] });
      await informer.waitForSync();
      for (const ns of [c, a, b]) await widgets.create(ns, widget(ns, 'w'));
      await waitFor(() => seen.length >= 2, { what: 'events from both namespaces' });
      await waitFor(() => informer.get(`${b}/w`), { what: 'b/w in the cache' });
      expect(informer.get(`${c}/w`)).to.equal(undefined);
      expect(seen.filter((s) => s.includes(c))).to.deep.equal([]);
    });

    it('resumes after the server closes its watches, without re-listing or missing events', async () => {
      const ns = await namespace();
      const { informer, seen } = startInformer<Widget>({ namespaces: [ns], watchTimeoutSeconds: 1 });
      await informer.waitForSync();
      for (let i = 0; i < 3; i++) {
        const before = informer.stats.watches;
        await waitFor(() => informer.stats.watches > before, {
          what: 'the server to close the watch',
          timeoutMs: 10_000,
        });
        await widgets.create(ns, widget(ns, `w${i}`));
      }
      await waitFor(() => seen.length === 3, { what: 'three add events' });
      expect(informer.stats.lists).to.equal(1);
      expect(informer.stats.goneRelists).to.equal(0);
      expect(informer.list()).to.have.length(3);
    });

    it('watchdog: a watch whose connection goes silent is aborted and re-opened, and nothing is missed', async () => {
      const ns = await namespace();
      const cp = await sharedControlPlane();
      const proxy = await freezableProxy(new URL(cp.server));
      stoppers.push(() => proxy.close());
      const kc = new KubeConfig();
      kc.loadFromString(cp.kubeConfig().exportConfig());
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error('no cluster');
      kc.clusters = kc.clusters.map((c) =>
        c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${proxy.port}` } : c,
      );
      const proxied = await KubeClient.create(kc);
      stoppers.push(() => proxied.close());
      const { informer, seen } = startInformer<Widget>({
        client: proxied,
        namespaces: [ns],
        watchTimeoutSeconds: 2,
        watchdogGraceMs: 1_000,
      });
      await informer.waitForSync();
      proxy.freeze();
      await widgets.create(ns, widget(ns, 'during-freeze'));
      await waitFor(() => informer.stats.watchdogAborts > 0, { what: 'the watchdog to abort the silent watch' });
      await waitFor(() => seen.includes(`add ${ns}/during-freeze`), { what: 'the object created during the freeze' });
      expect(informer.get(`${ns}/during-freeze`)).to.not.equal(undefined);
      expect(informer.healthy()).to.equal(true);
    });

    it('is told 410 Gone by the real server for a too-old resourceVersion, in the shape it re-lists on', async () => {
      const ns = await namespace();
      const abort = new AbortController();
      let first: unknown;
      try {
        const body = await client.watchStream(
          resourcePath(widgetRef, { namespace: ns }),
          { resourceVersion: '1' },
          abort.signal,
        );
        first = await new Promise<unknown>((resolve, reject) => {
          let text = '';
          body.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            const newline = text.indexOf('\n');
            if (newline >= 0) resolve(JSON.parse(text.slice(0, newline)));
          });
          body.on('error', reject);
        });
      } catch (err) {
        first = { type: 'HTTP', error: err };
      } finally {
        abort.abort();
      }
      const event = first as { type: string; object?: unknown; error?: unknown };
      const err = event.type === 'ERROR' ? statusError(500, event.object) : event.error;
      expect(isGone(err), JSON.stringify(first)).to.equal(true);
    });

    it('follows a credentials Secret by name (rotation is an update)', async () => {
      const ns = await namespace();
      const secrets = client.resource<KubeObject>(secretRef, parseKubeObject);
      const informer = new Informer<KubeObject & { data?: Record<string, string> }>({
        client,
        resource: secretRef,
        namespaces: [ns],
        fieldSelector: 'metadata.name=cph-credentials',
        clock: systemClock,
        logger: silentLogger(),
      });
      const updates: string[] = [];
      informer.addEventHandler({
        onUpdate: (_, s) => updates.push(Buffer.from(s.data?.ak ?? '', 'base64').toString()),
      });
      informer.start();
      stoppers.push(() => informer.stop());
      await informer.waitForSync();
      const body = (ak: string) => ({ metadata: { name: 'cph-credentials', namespace: ns }, stringData: { ak } });
      await secrets.create(ns, body('old'));
      await secrets.create(ns, { metadata: { name: 'unrelated', namespace: ns }, stringData: { x: 'y' } });
      await waitFor(() => informer.get(`${ns}/cph-credentials`), { what: 'the secret in the cache' });
      await client.request({
        method: 'PATCH',
        path: resourcePath(secretRef, { namespace: ns, name: 'cph-credentials' }),
        body: { stringData: { ak: 'new' } },
        contentType: 'application/merge-patch+json',
      });
      await waitFor(() => updates.includes('new'), { what: 'the rotated secret' });
      expect(informer.get(`${ns}/unrelated`)).to.equal(undefined);
    });

    it('reads a credentials Secret with a GET, shared by the reads within the TTL; a rotation shows after it', async () => {
      const ns = await namespace();
      const secrets = client.resource<KubeObject>(secretRef, parseKubeObject);
      await secrets.create(ns, { metadata: { name: 'creds', namespace: ns }, stringData: { ak: 'old' } });
      const shared = secretReader(client, 60_000);
      const fresh = secretReader(client, 1);
      const [a, b] = await Promise.all([shared.read(ns, 'creds'), shared.read(ns, 'creds')]);
      expect(a).to.deep.equal({ ak: 'old' });
      expect(b).to.deep.equal({ ak: 'old' });
      expect(await shared.read(ns, 'missing')).to.equal(undefined);
      await client.request({
        method: 'PATCH',
        path: resourcePath(secretRef, { namespace: ns, name: 'creds' }),
        body: { stringData: { ak: 'new' } },
        contentType: 'application/merge-patch+json',
      });
      expect(await shared.read(ns, 'creds'), 'within the TTL: the read already made').to.deep.equal({ ak: 'old' });
      await waitFor(async () => (await fresh.read(ns, 'creds'))?.ak === 'new', {
        what: 'the rotated key after the TTL',
      });
    });
  });

  describe('controller', () => {
    it('reconciles each key the informer reports, once per change, level-based', async () => {
      const ns = await namespace();
      const { informer } = startInformer<Widget>({ namespaces: [ns] });
      const reconciled: string[] = [];
      const controller = new Controller({
        name: 'widgets',
        clock: systemClock,
        logger: silentLogger(),
        maxConcurrentReconciles: 2,
        reconciler: {
          reconcile: async (key) => {
            const current = informer.get(key);
            reconciled.push(`${key}:${current ? String(current.spec?.size) : 'gone'}`);
            return {};
          },
        },
      });
      controller.watch(informer);
      const running = controller.start();
      stoppers.push(async () => {
        await controller.stop(5_000);
        await running;
      });
      await informer.waitForSync();
      await widgets.create(ns, widget(ns, 'a', { size: 1 }));
      await waitFor(() => reconciled.includes(`${ns}/a:1`), { what: 'the first reconcile' });
      await widgets.mergePatch(ns, 'a', { spec: { size: 2 } });
      await waitFor(() => reconciled.includes(`${ns}/a:2`), { what: 'the reconcile after the update' });
      await widgets.delete(ns, 'a');
      await waitFor(() => reconciled.includes(`${ns}/a:gone`), { what: 'the reconcile after the delete' });
    });
  });

  describe('leader election', () => {
    function elector(
      ns: string,
      identity: string,
      log: string[],
      timing: { lease: number; renew: number; retry: number },
    ) {
      const abort = new AbortController();
      const e = new LeaderElector({
        client,
        namespace: ns,
        name: 'operator-lock',
        identity,
        clock: systemClock,
        logger: silentLogger(),
        leaseDurationMs: timing.lease,
        renewDeadlineMs: timing.renew,
        retryPeriodMs: timing.retry,
        callbacks: {
          onStartedLeading: () => {
            log.push(`${identity} started`);
          },
          onStoppedLeading: () => {
            log.push(`${identity} stopped`);
          },
        },
      });
      const done = e.run(abort.signal);
      stoppers.push(async () => {
        abort.abort();
        await done;
      });
      return { e, abort, done };
    }

    it('elects exactly one of two, and hands over at once when the leader releases on shutdown', async () => {
      const ns = await namespace();
      const log: string[] = [];
      // A long lease: without the release, the standby would wait a minute.
      const timing = { lease: 60_000, renew: 40_000, retry: 300 };
      const one = elector(ns, 'one', log, timing);
      const two = elector(ns, 'two', log, timing);
      const leader = await waitFor(() => (one.e.isLeader() ? one : two.e.isLeader() ? two : undefined), {
        what: 'a leader',
      });
      const standby = leader === one ? two : one;
      // Several retry periods of the standby pass: it stays a standby.
      const lease = client.resource<KubeObject & { spec?: { holderIdentity?: string; leaseTransitions?: number } }>(
        leaseResource,
        (raw) => parseKubeObject(raw) as KubeObject,
      );
      await waitFor(async () => (await lease.get(ns, 'operator-lock'))?.spec?.holderIdentity === leader.e.identity);
      await waitFor(() => standby.e.leader() === leader.e.identity, { what: 'the standby to observe the leader' });
      expect(one.e.isLeader() && two.e.isLeader()).to.equal(false);
      leader.abort.abort();
      await leader.done;
      await waitFor(() => standby.e.isLeader(), {
        what: 'the standby to take over after the release',
        timeoutMs: 20_000,
      });
      expect(leader.e.isLeader()).to.equal(false);
      const leaderName = leader.e.identity;
      const standbyName = standby.e.identity;
      expect(log).to.deep.equal([`${leaderName} started`, `${leaderName} stopped`, `${standbyName} started`]);
      const record = await lease.get(ns, 'operator-lock');
      expect(record?.spec?.holderIdentity).to.equal(standbyName);
      expect(record?.spec?.leaseTransitions).to.equal(1);
    });

    it('stops leading when it cannot renew within the deadline', async () => {
      const ns = await namespace();
      const log: string[] = [];
      const one = elector(ns, 'one', log, { lease: 3_000, renew: 2_000, retry: 200 });
      await waitFor(() => one.e.isLeader(), { what: 'a leader' });
      // Someone else takes the Lease behind its back (as after a long pause of this process).
      const path = resourcePath(leaseResource, { namespace: ns, name: 'operator-lock' });
      await client.request({
        method: 'PATCH',
        path,
        contentType: 'application/merge-patch+json',
        body: { spec: { holderIdentity: 'intruder', leaseDurationSeconds: 3600 } },
      });
      await one.done;
      expect(one.e.isLeader()).to.equal(false);
      expect(log).to.deep.equal(['one started', 'one stopped']);
    });
  });

  describe('event recorder', () => {
    it('creates one Event and counts repeats in its series', async () => {
      const ns = await namespace();
      const created = await widgets.create(ns, widget(ns, 'w'));
      const recorder = new EventRecorder({
        client,
        clock: systemClock,
        logger: silentLogger(),
        reportingController: 'cloudphone.dev/cph-route-operator',
        reportingInstance: 'test',
        seriesFlushMs: 0,
      });
      const ref = {
        apiVersion: 'runtime-test.cloudphone.dev/v1',
        kind: 'Widget',
        namespace: ns,
        name: 'w',
        ...(created.metadata.uid ? { uid: created.metadata.uid } : {}),
      };
      recorder.record(ref, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed: phone busy');
      await recorder.flush();
      recorder.record(ref, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed: phone busy');
      recorder.record(ref, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed: phone busy');
      await recorder.flush();
      recorder.record(ref, 'Normal', 'RouteChanged', 'ChangeRoute', '2 phones set to routing');
      await recorder.flush();
      expect(recorder.stats.failed).to.equal(0);
      const list = (await client.request({ method: 'GET', path: resourcePath(eventResource, { namespace: ns }) })) as {
        items: {
          reason: string;
          note: string;
          regarding: { name: string; uid?: string };
          series?: { count: number };
        }[];
      };
      const failed = list.items.filter((e) => e.reason === 'JobFailed');
      expect(failed).to.have.length(1);
      expect(failed[0]?.series?.count).to.equal(3);
      expect(failed[0]?.regarding.uid).to.equal(created.metadata.uid);
      expect(list.items.filter((e) => e.reason === 'RouteChanged')).to.have.length(1);
    });
  });

  describe('status writer', () => {
    it('writes a changed status once, then nothing while it stays equal', async () => {
      const ns = await namespace();
      const created = await widgets.create(ns, widget(ns, 'w'));
      const { informer } = startInformer<Widget>({ namespaces: [ns] });
      await informer.waitForSync();
      const writer = new StatusWriter({ client, resource: widgetRef, logger: silentLogger() });
      const status = {
        observedGeneration: 1,
        summary: { total: 2, inSync: 2 },
        conditions: [{ type: 'Ready', status: 'True' }],
      };
      expect((await writer.update(created, status)).outcome).to.equal('written');
      // The same status again, from the stale object and from the informer once it catches up: no write.
      expect((await writer.update(created, { ...status })).outcome).to.equal('unchanged');
      await waitFor(() => informer.get(`${ns}/w`)?.status !== undefined, { what: 'the informer to see the status' });
      const writesBefore = writes.length;
      for (let i = 0; i < 5; i++) {
        const observed = informer.get(`${ns}/w`) as Widget;
        expect((await writer.update(observed, JSON.parse(JSON.stringify(status)))).outcome).to.equal('unchanged');
      }
      expect(writes.length).to.equal(writesBefore);
      expect(writer.writes).to.equal(1);
      // A removed field is removed on the server.
      const observed = informer.get(`${ns}/w`) as Widget;
      expect(
        (await writer.update(observed, { observedGeneration: 1, conditions: status.conditions })).outcome,
      ).to.equal('written');
      expect((await widgets.get(ns, 'w'))?.status).to.deep.equal({
        observedGeneration: 1,
        conditions: status.conditions,
      });
    });

    it('refuses a status computed from a stale object (conflict) and reports a deleted object as gone', async () => {
      const ns = await namespace();
      const created = await widgets.create(ns, widget(ns, 'w'));
      await widgets.mergePatch(ns, 'w', { spec: { size: 5 } });
      const writer = new StatusWriter({ client, resource: widgetRef, logger: silentLogger() });
      expect((await writer.update(created, { phase: 'stale' })).outcome).to.equal('conflict');
      const fresh = (await widgets.get(ns, 'w')) as Widget;
      expect((await writer.update(fresh, { phase: 'fresh' })).outcome).to.equal('written');
      await widgets.delete(ns, 'w');
      expect((await writer.update(fresh, { phase: 'again' })).outcome).to.equal('gone');
    });
  });
});
