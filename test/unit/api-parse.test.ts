import { expect } from 'chai';
import { parseErrorOf as parseError } from '../support/parse-error.js';
import {
  formatDuration,
  parseCloudPhoneRoute,
  parseDuration,
  parseSpec,
  parseStatus,
} from '../../src/api/v1alpha1/parse.js';
import { invalidRouteCases, routeObject, validRouteCases, PHONE_A } from '../fixtures/route-corpus.js';

describe('api/v1alpha1 parse', () => {
  describe('the corpus agrees with the CRD', () => {
    it('holds at least 40 invalid resources', () => {
      expect(invalidRouteCases.length).to.be.at.least(40);
      expect(new Set(invalidRouteCases.map((c) => c.name)).size).to.equal(invalidRouteCases.length);
    });
    for (const c of invalidRouteCases) {
      it(`refuses ${c.name}, naming ${c.field}`, () => {
        const err = parseError(() => parseCloudPhoneRoute(routeObject('r', c.spec)));
        expect(err.field).to.equal(c.field);
        expect(err.message).to.contain(c.field);
      });
    }
    for (const c of validRouteCases) {
      it(`accepts ${c.name}`, () => {
        const route = parseCloudPhoneRoute(routeObject('r', c.spec));
        expect(route.spec.trafficType).to.equal((c.spec as { trafficType: string }).trafficType);
      });
    }
  });

  describe('parseSpec', () => {
    it('fills in the API server defaults', () => {
      expect(parseSpec({ trafficType: 'routing', phoneIds: [PHONE_A] })).to.deep.equal({
        trafficType: 'routing',
        phoneIds: [PHONE_A],
        suspend: false,
        deletionPolicy: 'Retain',
        revertTimeout: '10m',
      });
    });
    it('bounds spec.revertTimeout to 10s..24h, naming the field', () => {
      expect(parseSpec({ trafficType: 'routing', phoneIds: [PHONE_A], revertTimeout: '30s' }).revertTimeout).to.equal(
        '30s',
      );
      for (const bad of ['5s', '25h', 'soon', 12])
        expect(() => parseSpec({ trafficType: 'routing', phoneIds: [PHONE_A], revertTimeout: bad })).to.throw(
          /spec\.revertTimeout/,
        );
    });
    it('keeps every field it knows', () => {
      const spec = {
        trafficType: 'direct',
        phoneIds: [PHONE_A],
        selector: { serverIds: ['s1'], phoneNamePrefix: 'pool-' },
        accountRef: { kind: 'CloudPhoneAccount', name: 'team-a' },
        driftCheckInterval: '30s',
        revertTimeout: '1h',
        suspend: true,
        deletionPolicy: 'Revert',
      };
      expect(parseSpec(spec)).to.deep.equal(spec);
    });
    it('drops fields it does not know (the API server prunes them too)', () => {
      expect(parseSpec({ trafficType: 'direct', phoneIds: [PHONE_A], color: 'blue' })).to.not.have.property('color');
    });
    it('drops the account fields that left the route for the account kinds, whatever they hold', () => {
      const spec = parseSpec({
        trafficType: 'direct',
        phoneIds: [PHONE_A],
        endpoint: 'https://evil.example',
        region: 'CN',
        projectId: 'a/b',
        credentialsSecretRef: { name: 'Not A Secret' },
      });
      expect(Object.keys(spec).sort()).to.deep.equal([
        'deletionPolicy',
        'phoneIds',
        'revertTimeout',
        'suspend',
        'trafficType',
      ]);
    });
    it('treats null optional fields as absent', () => {
      expect(
        parseSpec({ trafficType: 'direct', phoneIds: [PHONE_A], selector: null, region: null, suspend: null }).suspend,
      ).to.equal(false);
    });
    it('names nested fields with a custom prefix', () => {
      expect(parseError(() => parseSpec({ trafficType: 'x' }, 'items[3].spec')).field).to.equal(
        'items[3].spec.trafficType',
      );
    });
    it('refuses a spec that is not an object', () => {
      expect(parseError(() => parseSpec([])).field).to.equal('spec');
      expect(parseError(() => parseSpec(null)).field).to.equal('spec');
    });
  });

  describe('parseCloudPhoneRoute', () => {
    const good = (): Record<string, unknown> => ({
      apiVersion: 'cloudphone.dev/v1alpha1',
      kind: 'CloudPhoneRoute',
      metadata: {
        name: 'fleet',
        namespace: 'team-a',
        uid: 'u1',
        generation: 3,
        resourceVersion: '42',
        creationTimestamp: '2026-11-28T06:00:00Z',
        deletionTimestamp: '2026-11-28T07:00:00Z',
        finalizers: ['cloudphone.dev/route-finalizer'],
        labels: { a: 'b' },
        annotations: { c: 'd' },
        managedFields: [{ manager: 'kubectl' }],
      },
      spec: { trafficType: 'routing', phoneIds: [PHONE_A] },
      status: { observedGeneration: 2, summary: { total: 1, inSync: 1 } },
    });
    it('reads the metadata the operator needs', () => {
      const route = parseCloudPhoneRoute(good());
      expect(route.metadata).to.deep.equal({
        name: 'fleet',
        namespace: 'team-a',
        uid: 'u1',
        generation: 3,
        resourceVersion: '42',
        creationTimestamp: '2026-11-28T06:00:00Z',
        deletionTimestamp: '2026-11-28T07:00:00Z',
        finalizers: ['cloudphone.dev/route-finalizer'],
        labels: { a: 'b' },
        annotations: { c: 'd' },
      });
      expect(route.status?.observedGeneration).to.equal(2);
      expect(route.status?.summary).to.deep.equal({
        total: 1,
        inSync: 1,
        drifted: 0,
        pending: 0,
        failed: 0,
        conflicted: 0,
        notFound: 0,
        waiting: 0,
      });
    });
    const broken: Array<[string, (o: Record<string, unknown>) => void, string]> = [
      ['not an object', () => {}, '(object)'],
      ['another apiVersion', (o) => (o.apiVersion = 'cloudphone.dev/v1'), 'apiVersion'],
      ['another kind', (o) => (o.kind = 'Pod'), 'kind'],
      ['no metadata', (o) => delete o.metadata, 'metadata'],
      ['no name', (o) => delete (o.metadata as Record<string, unknown>).name, 'metadata.name'],
      ['empty namespace', (o) => ((o.metadata as Record<string, unknown>).namespace = ''), 'metadata.namespace'],
      ['generation a string', (o) => ((o.metadata as Record<string, unknown>).generation = '3'), 'metadata.generation'],
      ['negative generation', (o) => ((o.metadata as Record<string, unknown>).generation = -1), 'metadata.generation'],
      [
        'finalizers not a list',
        (o) => ((o.metadata as Record<string, unknown>).finalizers = 'x'),
        'metadata.finalizers',
      ],
      [
        'finalizer a number',
        (o) => ((o.metadata as Record<string, unknown>).finalizers = [1]),
        'metadata.finalizers[0]',
      ],
      ['label a number', (o) => ((o.metadata as Record<string, unknown>).labels = { a: 1 }), 'metadata.labels.a'],
    ];
    for (const [name, mutate, field] of broken) {
      it(`refuses ${name}, naming ${field}`, () => {
        const object = good();
        mutate(object);
        expect(parseError(() => parseCloudPhoneRoute(name === 'not an object' ? 'x' : object)).field).to.equal(field);
      });
    }
    it('accepts an object without apiVersion and kind (list items)', () => {
      const object = good();
      delete object.apiVersion;
      delete object.kind;
      expect(parseCloudPhoneRoute(object).kind).to.equal('CloudPhoneRoute');
    });
  });

  describe('durations', () => {
    const table: Array<[string, number]> = [
      ['10s', 10_000],
      ['5m', 300_000],
      ['1h30m', 5_400_000],
      ['1m30s', 90_000],
      ['1500ms', 1500],
      ['1h1m1s1ms', 3_661_001],
      ['24h', 86_400_000],
      ['0s', 0],
      ['90m', 5_400_000],
      ['2h2h', 14_400_000],
    ];
    for (const [text, ms] of table) {
      it(`reads ${text} as ${ms} ms`, () => expect(parseDuration(text)).to.equal(ms));
    }
    for (const text of [
      '',
      '5',
      'm',
      '1.5h',
      '-5m',
      '5 m',
      '5M',
      '1d',
      '5us',
      'PT5M',
      '1h 30m',
      '1234567890s',
      `${'1s'.repeat(17)}`,
    ]) {
      it(`refuses ${JSON.stringify(text)}`, () => {
        const err = parseError(() => parseDuration(text, 'spec.driftCheckInterval'));
        expect(err.field).to.equal('spec.driftCheckInterval');
      });
    }
    it('formats the shortest form that reads back', () => {
      for (const ms of [0, 1, 999, 1000, 10_000, 90_000, 300_000, 5_400_000, 3_661_001, 86_400_000]) {
        expect(parseDuration(formatDuration(ms))).to.equal(ms);
      }
      expect(formatDuration(300_000)).to.equal('5m');
      expect(formatDuration(5_400_000)).to.equal('1h30m');
      expect(() => formatDuration(-1)).to.throw(RangeError);
      expect(() => formatDuration(1.5)).to.throw(RangeError);
    });
  });

  describe('parseStatus (lenient)', () => {
    it('never throws, whatever it is given', () => {
      for (const value of [undefined, null, 1, 'x', [], {}, { conditions: 'x', phones: {}, summary: [] }]) {
        expect(() => parseStatus(value)).to.not.throw();
      }
      expect(parseStatus('x')).to.deep.equal({});
    });
    it('drops entries and conditions that do not fit, and duplicates', () => {
      const status = parseStatus({
        observedGeneration: 'x',
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            lastTransitionTime: '2026-11-28T06:00:00Z',
            reason: 'InSync',
            message: 'm',
            observedGeneration: 2,
          },
          { type: 'Ready', status: 'False', lastTransitionTime: '2026-11-28T06:00:00Z', reason: 'X', message: 'dup' },
          { type: 'Stalled', status: 'Maybe', lastTransitionTime: 't', reason: 'X', message: '' },
          { type: 'Reconciling', status: 'True', reason: 'X' },
        ],
        phones: [
          {
            phoneId: 'a',
            state: 'Failed',
            errorCode: 'CPS.0005',
            jobStatus: 'Weird',
            actual: 'sideways',
            desired: 'routing',
          },
          { phoneId: 'a', state: 'Pending' },
          { phoneId: 'b', state: 'Unknown' },
          { state: 'Pending' },
          'c',
        ],
        phonesTruncated: -3,
      });
      expect(status).to.deep.equal({
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            observedGeneration: 2,
            lastTransitionTime: '2026-11-28T06:00:00Z',
            reason: 'InSync',
            message: 'm',
          },
        ],
        // actual shows CPH's value as sent, even one that is neither direct nor routing.
        phones: [{ phoneId: 'a', state: 'Failed', actual: 'sideways', desired: 'routing', errorCode: 'CPS.0005' }],
      });
    });
    it('gives back what it is given when it fits', () => {
      const status = {
        observedGeneration: 4,
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            observedGeneration: 4,
            lastTransitionTime: '2026-11-28T06:00:00Z',
            reason: 'JobFailed',
            message: 'm',
          },
        ],
        summary: { total: 2, inSync: 1, drifted: 0, pending: 0, failed: 1, conflicted: 0, notFound: 0, waiting: 0 },
        phones: [
          {
            phoneId: 'a',
            state: 'Failed',
            actual: 'direct',
            desired: 'routing',
            jobId: 'j',
            jobStatus: 'Failed',
            requestId: 'r',
            errorCode: 'CPS.0003',
            errorMessage: 'internal',
            lastTransitionTime: '2026-11-28T06:00:00Z',
          },
        ],
        phonesTruncated: 0,
      };
      expect(parseStatus(JSON.parse(JSON.stringify(status)))).to.deep.equal(status);
    });
  });
});
