import { expect } from 'chai';
import { EventRecorder, type ObjectReference } from '../../src/runtime/event-recorder.js';
import { StatusWriter } from '../../src/runtime/status-writer.js';
import { statusError, type KubeRequester, type RequestOptions } from '../../src/runtime/kube-client.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';

class RecordingApi implements KubeRequester {
  calls: RequestOptions[] = [];
  fail: Error | undefined;
  hang = false;
  nextRv = 10;
  request(options: RequestOptions): Promise<unknown> {
    this.calls.push(options);
    if (this.hang) return new Promise(() => undefined);
    if (this.fail) return Promise.reject(this.fail);
    return Promise.resolve({ metadata: { resourceVersion: String(this.nextRv++) } });
  }
}

const route: ObjectReference = {
  apiVersion: 'cloudphone.dev/v1alpha1',
  kind: 'CloudPhoneRoute',
  namespace: 'ns',
  name: 'r',
  uid: 'u-1',
};

function recorder(
  api: RecordingApi,
  clock: FakeClock,
  extra: Partial<ConstructorParameters<typeof EventRecorder>[0]> = {},
) {
  return new EventRecorder({
    client: api,
    clock,
    logger: silentLogger(),
    reportingController: 'cloudphone.dev/cph-route-operator',
    reportingInstance: 'pod-1',
    ...extra,
  });
}

describe('EventRecorder', () => {
  it('creates an events.k8s.io/v1 Event about the regarding object', async () => {
    const api = new RecordingApi();
    const rec = recorder(api, new FakeClock());
    rec.record(route, 'Normal', 'RouteChanged', 'ChangeRoute', 'set 3 phones to routing (job j-1)');
    await rec.flush();
    expect(api.calls).to.have.length(1);
    const call = api.calls[0] as RequestOptions;
    expect(call.method).to.equal('POST');
    expect(call.path).to.equal('/apis/events.k8s.io/v1/namespaces/ns/events');
    expect(call.body).to.deep.include({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      type: 'Normal',
      reason: 'RouteChanged',
      action: 'ChangeRoute',
      note: 'set 3 phones to routing (job j-1)',
      reportingController: 'cloudphone.dev/cph-route-operator',
      reportingInstance: 'pod-1',
    });
    expect((call.body as { regarding: unknown }).regarding).to.deep.equal(route);
    expect((call.body as { eventTime: string }).eventTime).to.match(/\.\d{6}Z$/);
  });

  it('turns repeats within the window into one series update per flush interval', async () => {
    const api = new RecordingApi();
    const clock = new FakeClock();
    const rec = recorder(api, clock, { seriesFlushMs: 30_000 });
    for (let i = 0; i < 5; i++) rec.record(route, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed');
    await flushMicrotasks();
    expect(api.calls.map((c) => c.method)).to.deep.equal(['POST']);
    await clock.advance(30_000);
    await rec.flush();
    expect(api.calls.map((c) => c.method)).to.deep.equal(['POST', 'PATCH']);
    const patch = api.calls[1] as RequestOptions;
    expect(patch.contentType).to.equal('application/merge-patch+json');
    expect((patch.body as { series: { count: number } }).series.count).to.equal(5);
    expect(rec.stats).to.include({ created: 1, seriesUpdates: 1, deduplicated: 4 });
  });

  it('flush writes pending series counts at once (shutdown does not wait for the interval)', async () => {
    const api = new RecordingApi();
    const clock = new FakeClock();
    const rec = recorder(api, clock, { seriesFlushMs: 30_000 });
    rec.record(route, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed');
    rec.record(route, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed');
    await rec.flush();
    expect(api.calls.map((c) => c.method)).to.deep.equal(['POST', 'PATCH']);
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('creates a new Event when the note, reason or object differs, or the window has passed', async () => {
    const api = new RecordingApi();
    const clock = new FakeClock();
    const rec = recorder(api, clock, { seriesWindowMs: 60_000 });
    rec.record(route, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed');
    rec.record(route, 'Warning', 'JobFailed', 'PollJob', 'job j-2 failed');
    rec.record({ ...route, name: 'other' }, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed');
    await clock.advance(61_000);
    rec.record(route, 'Warning', 'JobFailed', 'PollJob', 'job j-1 failed');
    await rec.flush();
    expect(api.calls.filter((c) => c.method === 'POST')).to.have.length(4);
  });

  it('rate-limits new Events per object (burst, then one per refill interval)', async () => {
    const api = new RecordingApi();
    const clock = new FakeClock();
    const rec = recorder(api, clock, { burst: 3, refillIntervalMs: 60_000 });
    for (let i = 0; i < 10; i++) rec.record(route, 'Normal', 'RouteChanged', 'ChangeRoute', `change ${i}`);
    await rec.flush();
    expect(api.calls).to.have.length(3);
    expect(rec.stats.dropped).to.equal(7);
    await clock.advance(60_000);
    rec.record(route, 'Normal', 'RouteChanged', 'ChangeRoute', 'change 11');
    rec.record(route, 'Normal', 'RouteChanged', 'ChangeRoute', 'change 12');
    await rec.flush();
    expect(api.calls).to.have.length(4);
  });

  it('never throws or blocks the caller when the API fails or hangs', async () => {
    const api = new RecordingApi();
    api.fail = statusError(403, { reason: 'Forbidden', message: 'no' });
    const rec = recorder(api, new FakeClock());
    expect(() => rec.record(route, 'Normal', 'A', 'B', 'c')).not.to.throw();
    await rec.flush();
    expect(rec.stats.failed).to.equal(1);
    const hanging = new RecordingApi();
    hanging.hang = true;
    const rec2 = recorder(hanging, new FakeClock(), { maxPending: 2 });
    for (let i = 0; i < 5; i++) rec2.record(route, 'Normal', 'A', 'B', `n${i}`);
    expect(rec2.stats.dropped).to.equal(3);
  });

  it('truncates notes to the 1 KiB the API accepts', async () => {
    const api = new RecordingApi();
    const rec = recorder(api, new FakeClock());
    rec.record(route, 'Normal', 'A', 'B', 'x'.repeat(5000));
    await rec.flush();
    expect((api.calls[0]!.body as { note: string }).note).to.have.length(1024);
  });
});

describe('StatusWriter', () => {
  const cpr = { group: 'cloudphone.dev', version: 'v1alpha1', plural: 'cloudphoneroutes', namespaced: true };
  function writer(api: RecordingApi) {
    const writes: string[] = [];
    return {
      writes,
      w: new StatusWriter({ client: api, resource: cpr, logger: silentLogger(), onWrite: (r) => writes.push(r) }),
    };
  }

  it('sends nothing when the status is unchanged', async () => {
    const api = new RecordingApi();
    const { w, writes } = writer(api);
    const observed = { metadata: { namespace: 'ns', name: 'r', resourceVersion: '5' }, status: { a: 1, b: [1] } };
    expect((await w.update(observed, { b: [1], a: 1 })).outcome).to.equal('unchanged');
    expect(api.calls).to.have.length(0);
    expect(writes).to.have.length(0);
    expect(w.writes).to.equal(0);
  });

  it('merge-patches /status with the diff and a resourceVersion precondition', async () => {
    const api = new RecordingApi();
    const { w, writes } = writer(api);
    const observed = { metadata: { namespace: 'ns', name: 'r', resourceVersion: '5' }, status: { a: 1, gone: true } };
    expect((await w.update(observed, { a: 2 })).outcome).to.equal('written');
    expect(api.calls[0]).to.deep.include({
      method: 'PATCH',
      path: '/apis/cloudphone.dev/v1alpha1/namespaces/ns/cloudphoneroutes/r/status',
      contentType: 'application/merge-patch+json',
    });
    expect(api.calls[0]?.body).to.deep.equal({ status: { a: 2, gone: null }, metadata: { resourceVersion: '5' } });
    expect(writes).to.deep.equal(['cloudphoneroutes/status']);
  });

  it('does not write again while the cache still shows the object before its own write', async () => {
    const api = new RecordingApi();
    const { w } = writer(api);
    const stale = { metadata: { namespace: 'ns', name: 'r', resourceVersion: '5' }, status: { a: 1 } };
    await w.update(stale, { a: 2 }); // server returns resourceVersion 10
    expect((await w.update(stale, { a: 2 })).outcome).to.equal('unchanged');
    // A further change is based on what was written, with the returned resourceVersion.
    await w.update(stale, { a: 3 });
    expect(api.calls[1]?.body).to.deep.equal({ status: { a: 3 }, metadata: { resourceVersion: '10' } });
    // Once the cache shows a newer object, it is the reference again.
    const fresh = { metadata: { namespace: 'ns', name: 'r', resourceVersion: '11' }, status: { a: 3 } };
    expect((await w.update(fresh, { a: 3 })).outcome).to.equal('unchanged');
    expect(api.calls).to.have.length(2);
  });

  it('reports a deleted object as gone and a conflict as conflict; other errors throw', async () => {
    const api = new RecordingApi();
    const { w } = writer(api);
    const observed = { metadata: { namespace: 'ns', name: 'r', resourceVersion: '5' }, status: {} };
    api.fail = statusError(404, { reason: 'NotFound', message: 'x' });
    expect((await w.update(observed, { a: 1 })).outcome).to.equal('gone');
    api.fail = statusError(409, { reason: 'Conflict', message: 'x' });
    expect((await w.update(observed, { a: 1 })).outcome).to.equal('conflict');
    api.fail = statusError(500, { reason: 'InternalError', message: 'x' });
    let thrown: unknown;
    try {
      await w.update(observed, { a: 1 });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(Error);
    expect(w.writes).to.equal(3);
  });
});
