import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { Informer, type KubeObject } from '../../src/runtime/informer.js';
import { statusError, type KubeWatcher, type RequestOptions } from '../../src/runtime/kube-client.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';

const widgets = { group: 'test.dev', version: 'v1', plural: 'widgets', namespaced: true };

function obj(namespace: string, name: string, rv: string, extra: Record<string, unknown> = {}): KubeObject {
  return { metadata: { namespace, name, resourceVersion: rv }, ...extra };
}

interface WatchCall {
  path: string;
  query: Record<string, string | number | boolean | undefined>;
  stream: PassThrough;
  signal: AbortSignal;
}

/** A scripted API server: lists return `objects`, watches return streams the test writes to. */
class FakeApi implements KubeWatcher {
  objects: KubeObject[] = [];
  listVersion = '100';
  lists: RequestOptions[] = [];
  watches: WatchCall[] = [];
  failNextLists = 0;
  hangLists = false;
  failNextWatch: Error | undefined;

  request(options: RequestOptions): Promise<unknown> {
    this.lists.push(options);
    if (this.hangLists) return new Promise(() => undefined);
    if (this.failNextLists > 0) {
      this.failNextLists--;
      return Promise.reject(statusError(500, { code: 500, reason: 'InternalError', message: 'etcd down' }));
    }
    const ns = /namespaces\/([^/]+)\//.exec(options.path)?.[1];
    const items = this.objects.filter((o) => ns === undefined || o.metadata.namespace === ns);
    return Promise.resolve({ items, metadata: { resourceVersion: this.listVersion } });
  }

  watchStream(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    signal: AbortSignal,
  ): Promise<NodeJS.ReadableStream> {
    if (this.failNextWatch) {
      const err = this.failNextWatch;
      this.failNextWatch = undefined;
      return Promise.reject(err);
    }
    const stream = new PassThrough();
    signal.addEventListener('abort', () => stream.destroy(new Error('aborted')), { once: true });
    this.watches.push({ path, query, stream, signal });
    return Promise.resolve(stream);
  }

  lastWatch(): WatchCall {
    const w = this.watches[this.watches.length - 1];
    if (!w) throw new Error('no watch');
    return w;
  }

  send(type: string, object: unknown): void {
    this.lastWatch().stream.write(`${JSON.stringify({ type, object })}\n`);
  }
}

function setup(options: { namespaces?: string[] } = {}) {
  const clock = new FakeClock();
  const api = new FakeApi();
  const events: string[] = [];
  const informer = new Informer<KubeObject>({
    client: api,
    resource: widgets,
    clock,
    logger: silentLogger(),
    watchTimeoutSeconds: 10,
    watchdogGraceMs: 1000,
    ...(options.namespaces ? { namespaces: options.namespaces } : {}),
  });
  informer.addEventHandler({
    onAdd: (o) => events.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
    onUpdate: (old, o) =>
      events.push(`update ${o.metadata.name}@${old.metadata.resourceVersion}->${o.metadata.resourceVersion}`),
    onDelete: (o) => events.push(`delete ${o.metadata.name}`),
  });
  return { clock, api, events, informer };
}

describe('Informer (scripted API server)', () => {
  it('lists, syncs, then watches from the list resourceVersion with bookmarks and a server-side timeout', async () => {
    const { api, events, informer } = setup();
    api.objects = [obj('a', 'w1', '90')];
    expect(informer.hasSynced()).to.equal(false);
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    expect(informer.hasSynced()).to.equal(true);
    expect(events).to.deep.equal(['add w1@90']);
    expect(informer.get('a/w1')?.metadata.resourceVersion).to.equal('90');
    expect(api.lastWatch().query).to.include({ resourceVersion: '100', allowWatchBookmarks: true, timeoutSeconds: 10 });
    await informer.stop();
  });

  it('applies watch events to the cache and handlers', async () => {
    const { api, events, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    api.send('ADDED', obj('a', 'w1', '101'));
    api.send('MODIFIED', obj('a', 'w1', '102'));
    api.send('ADDED', obj('b', 'w2', '103'));
    api.send('DELETED', obj('a', 'w1', '104'));
    await flushMicrotasks();
    expect(events).to.deep.equal(['add w1@101', 'update w1@101->102', 'add w2@103', 'delete w1']);
    expect(informer.get('a/w1')).to.equal(undefined);
    expect(informer.list().map((o) => o.metadata.name)).to.deep.equal(['w2']);
    expect(informer.list('b')).to.have.length(1);
    expect(informer.list('a')).to.have.length(0);
    await informer.stop();
  });

  it('resumes from the last resourceVersion (bookmarks included) when the server closes the watch, without re-listing', async () => {
    const { api, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    api.send('ADDED', obj('a', 'w1', '101'));
    api.send('BOOKMARK', { metadata: { resourceVersion: '150' } });
    await flushMicrotasks();
    api.lastWatch().stream.end();
    await flushMicrotasks();
    expect(api.watches).to.have.length(2);
    expect(api.lastWatch().query.resourceVersion).to.equal('150');
    expect(informer.stats.lists).to.equal(1);
    await informer.stop();
  });

  it('re-lists on 410 Gone and emits the difference (deleted, changed, new objects)', async () => {
    const { api, events, informer } = setup();
    api.objects = [obj('a', 'keep', '10'), obj('a', 'change', '11'), obj('a', 'gone', '12')];
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    events.length = 0;
    api.objects = [obj('a', 'keep', '10'), obj('a', 'change', '20'), obj('a', 'new', '21')];
    api.listVersion = '300';
    api.send('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 100 (250)' });
    await flushMicrotasks();
    expect(informer.stats.goneRelists).to.equal(1);
    expect(informer.stats.lists).to.equal(2);
    expect(events).to.have.members(['delete gone', 'update change@11->20', 'add new@21']);
    expect(api.lastWatch().query.resourceVersion).to.equal('300');
    await informer.stop();
  });

  it('re-lists when the watch request itself is refused with 410', async () => {
    const { api, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    api.failNextWatch = statusError(410, { code: 410, reason: 'Gone', message: 'gone' });
    api.lastWatch().stream.end();
    await flushMicrotasks();
    expect(informer.stats.lists).to.equal(2);
    expect(api.watches.length).to.be.greaterThan(1);
    await informer.stop();
  });

  it('retries a failing list with backoff and never gives up', async () => {
    const { clock, api, informer } = setup();
    api.failNextLists = 5;
    informer.start();
    await flushMicrotasks();
    expect(api.lists).to.have.length(1);
    await clock.advance(500); // first backoff is 800 ms ± 20 %
    expect(api.lists).to.have.length(1);
    await clock.advance(500);
    expect(api.lists).to.have.length(2);
    await clock.advance(60_000);
    expect(api.lists).to.have.length(6);
    expect(informer.hasSynced()).to.equal(true);
    expect(informer.stats.failures).to.equal(5);
    await informer.stop();
  });

  it('restarts a watch after a stream error, from the same resourceVersion', async () => {
    const { clock, api, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    api.send('ADDED', obj('a', 'w1', '101'));
    await flushMicrotasks();
    api.lastWatch().stream.destroy(new Error('ECONNRESET'));
    await flushMicrotasks();
    await clock.advance(1000);
    expect(api.watches).to.have.length(2);
    expect(api.lastWatch().query.resourceVersion).to.equal('101');
    expect(informer.stats.lists).to.equal(1);
    await informer.stop();
  });

  it('aborts and restarts a watch that stays silent past its timeout plus grace (watchdog)', async () => {
    const { clock, api, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    const first = api.lastWatch();
    await clock.advance(10_999);
    expect(first.signal.aborted).to.equal(false);
    await clock.advance(1);
    expect(first.signal.aborted).to.equal(true);
    expect(informer.stats.watchdogAborts).to.equal(1);
    expect(api.watches).to.have.length(2);
    expect(api.lastWatch().query.resourceVersion).to.equal('100');
    await informer.stop();
  });

  it('counts any event, bookmarks included, as a sign of life for the watchdog', async () => {
    const { clock, api, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    await clock.advance(8_000);
    api.send('BOOKMARK', { metadata: { resourceVersion: '120' } });
    await flushMicrotasks();
    await clock.advance(8_000);
    expect(informer.stats.watchdogAborts).to.equal(0);
    expect(api.watches).to.have.length(1);
    await informer.stop();
  });

  it('keeps going when a handler throws or an object does not parse', async () => {
    const clock = new FakeClock();
    const api = new FakeApi();
    const informer = new Informer<KubeObject>({ client: api, resource: widgets, clock, logger: silentLogger() });
    const seen: string[] = [];
    informer.addEventHandler({
      onAdd: () => {
        throw new Error('handler bug');
      },
    });
    informer.addEventHandler({ onAdd: (o) => seen.push(o.metadata.name) });
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    api.send('ADDED', { metadata: {} });
    api.lastWatch().stream.write('not json\n');
    api.send('ADDED', obj('a', 'ok', '101'));
    await flushMicrotasks();
    expect(seen).to.deep.equal(['ok']);
    expect(api.watches).to.have.length(1);
    await informer.stop();
  });

  it('runs one list+watch per selected namespace and is synced only when all are', async () => {
    const { api, informer } = setup({ namespaces: ['a', 'b'] });
    api.objects = [obj('a', 'w1', '1'), obj('b', 'w2', '2'), obj('c', 'w3', '3')];
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    expect(api.lists.map((l) => l.path).sort()).to.deep.equal([
      '/apis/test.dev/v1/namespaces/a/widgets',
      '/apis/test.dev/v1/namespaces/b/widgets',
    ]);
    expect(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).to.deep.equal(['w1', 'w2']);
    expect(api.watches.map((w) => w.path).sort()).to.deep.equal([
      '/apis/test.dev/v1/namespaces/a/widgets',
      '/apis/test.dev/v1/namespaces/b/widgets',
    ]);
    await informer.stop();
  });

  it('reports itself unhealthy when a loop makes no progress (a hung request)', async () => {
    const { clock, api, informer } = setup();
    api.hangLists = true;
    informer.start();
    await flushMicrotasks();
    expect(informer.healthy()).to.equal(true);
    await clock.advance(10_000 + 1_000 + 30_000 + 60_000);
    expect(informer.healthy()).to.equal(false);
  });

  it('stop closes the watch and ends the loop', async () => {
    const { api, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await flushMicrotasks();
    await informer.stop();
    expect(api.lastWatch().signal.aborted).to.equal(true);
    expect(api.watches).to.have.length(1);
  });
});
