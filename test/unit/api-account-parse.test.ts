import { expect } from 'chai';
import { parseErrorOf as parseError } from '../support/parse-error.js';
import {
  AMBIENT_REFUSED_MESSAGE,
  canonicalAccountStatus,
  parseAccountObject,
  parseAccountRef,
  parseAccountSpec,
  parseAccountStatus,
  parseLabelSelector,
} from '../../src/api/v1alpha1/account-parse.js';
import {
  CLUSTER_ACCOUNT_KIND,
  NAMESPACED_ACCOUNT_KIND,
  type CloudPhoneAccountStatus,
} from '../../src/api/v1alpha1/account-types.js';
import {
  accountObject,
  baseSpecs,
  invalidAccountCases,
  validAccountCases,
  PROJECT_A,
} from '../fixtures/account-corpus.js';

describe('api/v1alpha1 account-parse', () => {
  describe('the corpus agrees with the CRDs', () => {
    it('holds cases of both kinds, each name once', () => {
      for (const kind of [CLUSTER_ACCOUNT_KIND, NAMESPACED_ACCOUNT_KIND]) {
        expect(invalidAccountCases.filter((c) => c.kind === kind).length, kind).to.be.at.least(35);
        expect(validAccountCases.filter((c) => c.kind === kind).length, kind).to.be.at.least(10);
      }
      expect(new Set(invalidAccountCases.map((c) => c.name)).size).to.equal(invalidAccountCases.length);
      expect(new Set(validAccountCases.map((c) => c.name)).size).to.equal(validAccountCases.length);
    });
    for (const c of invalidAccountCases) {
      it(`refuses ${c.name}, naming ${c.field}`, () => {
        const err = parseError(() => parseAccountObject(accountObject(c.kind, 'a', c.spec), c.kind));
        expect(err.field).to.equal(c.field);
        expect(err.message).to.contain(c.field);
      });
    }
    for (const c of validAccountCases) {
      it(`accepts ${c.name}`, () => {
        const account = parseAccountObject(accountObject(c.kind, 'a', c.spec), c.kind);
        expect(account.kind).to.equal(c.kind);
        expect(account.spec.projectId).to.equal(PROJECT_A);
      });
    }
  });

  describe('parseAccountSpec', () => {
    it('keeps every field of a ClusterCloudPhoneAccount', () => {
      const spec = {
        endpoint: 'https://cph.example.com:8443',
        projectId: 'p1',
        credentials: { secretRef: { name: 'cph', accessKeyKey: 'ak', secretKeyKey: 'sk' } },
        phoneScope: { serverIds: ['s1'], phoneNamePrefixes: ['pool-'] },
        namespaceSelector: {
          matchLabels: { team: 'a' },
          matchExpressions: [
            { key: 'env', operator: 'NotIn', values: ['prod'] },
            { key: 'phones', operator: 'Exists' },
          ],
        },
        namespaces: ['team-a'],
      };
      expect(parseAccountSpec(spec, CLUSTER_ACCOUNT_KIND)).to.deep.equal(spec);
    });
    it("fills in the Secret's default key names, as the API server does", () => {
      const spec = parseAccountSpec(baseSpecs[NAMESPACED_ACCOUNT_KIND], NAMESPACED_ACCOUNT_KIND);
      expect(spec.credentials).to.deep.equal({
        secretRef: { name: 'cph-credentials', accessKeyKey: 'HUAWEICLOUD_SDK_AK', secretKeyKey: 'HUAWEICLOUD_SDK_SK' },
      });
    });
    it('reads ambient credentials as { ambient: true } only', () => {
      expect(parseAccountSpec(baseSpecs[CLUSTER_ACCOUNT_KIND], CLUSTER_ACCOUNT_KIND).credentials).to.deep.equal({
        ambient: true,
      });
    });
    it('refuses ambient on a CloudPhoneAccount with a message saying who may use it', () => {
      const err = parseError(() =>
        parseAccountSpec(
          { ...baseSpecs[NAMESPACED_ACCOUNT_KIND], credentials: { ambient: true } },
          NAMESPACED_ACCOUNT_KIND,
        ),
      );
      expect(err.field).to.equal('spec.credentials.ambient');
      expect(err.message).to.contain(AMBIENT_REFUSED_MESSAGE).and.contain('only a ClusterCloudPhoneAccount');
    });
    it('drops namespaceSelector and namespaces of a CloudPhoneAccount (its CRD has neither)', () => {
      const spec = parseAccountSpec(
        { ...baseSpecs[NAMESPACED_ACCOUNT_KIND], namespaceSelector: {}, namespaces: ['x'] },
        NAMESPACED_ACCOUNT_KIND,
      );
      expect(spec).to.not.have.any.keys('namespaceSelector', 'namespaces');
    });
    it('treats null optional fields as absent', () => {
      const spec = parseAccountSpec(
        {
          ...baseSpecs[CLUSTER_ACCOUNT_KIND],
          endpoint: null,
          namespaceSelector: null,
          namespaces: null,
          phoneScope: { serverIds: null },
        },
        CLUSTER_ACCOUNT_KIND,
      );
      expect(spec).to.deep.equal({
        region: 'cn-east-3',
        projectId: PROJECT_A,
        credentials: { ambient: true },
        phoneScope: {},
      });
    });
    it('names nested fields with a custom prefix', () => {
      expect(parseError(() => parseAccountSpec({}, CLUSTER_ACCOUNT_KIND, 'items[2].spec')).field).to.equal(
        'items[2].spec.endpoint',
      );
    });
    it('refuses a spec that is not an object', () => {
      expect(parseError(() => parseAccountSpec([], CLUSTER_ACCOUNT_KIND)).field).to.equal('spec');
    });
  });

  describe('parseLabelSelector', () => {
    it('keeps In and NotIn values and leaves them out for Exists and DoesNotExist', () => {
      expect(
        parseLabelSelector(
          {
            matchExpressions: [
              { key: 'a', operator: 'In', values: ['x'] },
              { key: 'b', operator: 'DoesNotExist', values: [] },
              { key: 'c', operator: 'Exists', values: null },
            ],
          },
          'sel',
        ),
      ).to.deep.equal({
        matchExpressions: [
          { key: 'a', operator: 'In', values: ['x'] },
          { key: 'b', operator: 'DoesNotExist' },
          { key: 'c', operator: 'Exists' },
        ],
      });
    });
    it('refuses a selector with too many labels or requirements', () => {
      const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
      expect(parseError(() => parseLabelSelector({ matchLabels: labels }, 'sel')).field).to.equal('sel.matchLabels');
      const requirements = Array.from({ length: 65 }, () => ({ key: 'k', operator: 'Exists' }));
      expect(parseError(() => parseLabelSelector({ matchExpressions: requirements }, 'sel')).field).to.equal(
        'sel.matchExpressions',
      );
    });
    it('accepts prefixed keys and an empty value, as apimachinery does', () => {
      expect(
        parseLabelSelector({ matchLabels: { 'kubernetes.io/metadata.name': 'team-a', empty: '' } }, 'sel').matchLabels,
      ).to.deep.equal({
        'kubernetes.io/metadata.name': 'team-a',
        empty: '',
      });
    });
  });

  describe('parseAccountRef', () => {
    it('reads both kinds', () => {
      expect(parseAccountRef({ kind: 'ClusterCloudPhoneAccount', name: 'default' })).to.deep.equal({
        kind: 'ClusterCloudPhoneAccount',
        name: 'default',
      });
      expect(parseAccountRef({ kind: 'CloudPhoneAccount', name: 'team.a', extra: 1 })).to.deep.equal({
        kind: 'CloudPhoneAccount',
        name: 'team.a',
      });
    });
    it('names the field it refuses', () => {
      expect(parseError(() => parseAccountRef(null)).field).to.equal('spec.accountRef');
      expect(parseError(() => parseAccountRef({ name: 'x' })).field).to.equal('spec.accountRef.kind');
      expect(parseError(() => parseAccountRef({ kind: 'Pod', name: 'x' })).field).to.equal('spec.accountRef.kind');
      expect(parseError(() => parseAccountRef({ kind: 'CloudPhoneAccount' }, 'r.accountRef')).field).to.equal(
        'r.accountRef.name',
      );
      expect(parseError(() => parseAccountRef({ kind: 'CloudPhoneAccount', name: 7 })).field).to.equal(
        'spec.accountRef.name',
      );
    });
  });

  describe('parseAccountObject', () => {
    const good = (kind: typeof CLUSTER_ACCOUNT_KIND | typeof NAMESPACED_ACCOUNT_KIND): Record<string, unknown> => ({
      apiVersion: 'cloudphone.dev/v1alpha1',
      kind,
      metadata: {
        name: 'acct',
        ...(kind === NAMESPACED_ACCOUNT_KIND ? { namespace: 'team-a' } : {}),
        uid: 'u1',
        generation: 4,
        resourceVersion: '42',
        labels: { a: 'b' },
        annotations: { c: 'd' },
        managedFields: [{ manager: 'kubectl' }],
      },
      spec: baseSpecs[kind],
      status: { observedGeneration: 3, phonesInScope: 12 },
    });
    it('reads the metadata the operator needs, for each kind', () => {
      const cluster = parseAccountObject(good(CLUSTER_ACCOUNT_KIND), CLUSTER_ACCOUNT_KIND);
      expect(cluster.metadata).to.deep.equal({
        name: 'acct',
        uid: 'u1',
        generation: 4,
        resourceVersion: '42',
        labels: { a: 'b' },
        annotations: { c: 'd' },
      });
      expect(cluster.status).to.deep.equal({ observedGeneration: 3, phonesInScope: 12 });
      const namespaced = parseAccountObject(good(NAMESPACED_ACCOUNT_KIND), NAMESPACED_ACCOUNT_KIND);
      expect(namespaced.metadata.namespace).to.equal('team-a');
      expect(namespaced.kind).to.equal(NAMESPACED_ACCOUNT_KIND);
    });
    it('accepts list items without apiVersion and kind', () => {
      const object = good(CLUSTER_ACCOUNT_KIND);
      delete object.apiVersion;
      delete object.kind;
      expect(parseAccountObject(object, CLUSTER_ACCOUNT_KIND).kind).to.equal(CLUSTER_ACCOUNT_KIND);
    });
    const broken: Array<
      [
        string,
        typeof CLUSTER_ACCOUNT_KIND | typeof NAMESPACED_ACCOUNT_KIND,
        (o: Record<string, unknown>) => unknown,
        string,
      ]
    > = [
      ['not an object', CLUSTER_ACCOUNT_KIND, () => 'x', '(object)'],
      ['another apiVersion', CLUSTER_ACCOUNT_KIND, (o) => ({ ...o, apiVersion: 'cloudphone.dev/v1' }), 'apiVersion'],
      ['the other account kind', CLUSTER_ACCOUNT_KIND, (o) => ({ ...o, kind: NAMESPACED_ACCOUNT_KIND }), 'kind'],
      ['a route', NAMESPACED_ACCOUNT_KIND, (o) => ({ ...o, kind: 'CloudPhoneRoute' }), 'kind'],
      ['no metadata', CLUSTER_ACCOUNT_KIND, (o) => ({ ...o, metadata: undefined }), 'metadata'],
      ['no name', CLUSTER_ACCOUNT_KIND, (o) => ({ ...o, metadata: { namespace: 'x' } }), 'metadata.name'],
      [
        'a namespaced one without namespace',
        NAMESPACED_ACCOUNT_KIND,
        (o) => ({ ...o, metadata: { name: 'a' } }),
        'metadata.namespace',
      ],
      [
        'a cluster one with a namespace',
        CLUSTER_ACCOUNT_KIND,
        (o) => ({ ...o, metadata: { name: 'a', namespace: 'team-a' } }),
        'metadata.namespace',
      ],
      [
        'generation a string',
        CLUSTER_ACCOUNT_KIND,
        (o) => ({ ...o, metadata: { name: 'a', generation: '4' } }),
        'metadata.generation',
      ],
      [
        'label a number',
        CLUSTER_ACCOUNT_KIND,
        (o) => ({ ...o, metadata: { name: 'a', labels: { a: 1 } } }),
        'metadata.labels.a',
      ],
      ['no spec', NAMESPACED_ACCOUNT_KIND, (o) => ({ ...o, spec: undefined }), 'spec'],
    ];
    for (const [name, kind, mutate, field] of broken) {
      it(`refuses ${name}, naming ${field}`, () => {
        expect(parseError(() => parseAccountObject(mutate(good(kind)), kind)).field).to.equal(field);
      });
    }
  });

  describe('parseAccountStatus (lenient) and its canonical form', () => {
    it('never throws, whatever it is given', () => {
      for (const value of [
        undefined,
        null,
        1,
        'x',
        [],
        {},
        { conditions: 'x', phonesInScope: 'many', phonesObservedAt: 3 },
      ]) {
        expect(() => parseAccountStatus(value)).to.not.throw();
      }
      expect(parseAccountStatus('x')).to.deep.equal({});
      expect(parseAccountStatus({ conditions: 'x', phonesInScope: -1, phonesObservedAt: '' })).to.deep.equal({});
    });
    it('gives back what the operator wrote, keys in its order, dropping what does not fit', () => {
      const written: CloudPhoneAccountStatus = {
        observedGeneration: 2,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            observedGeneration: 2,
            lastTransitionTime: '2026-11-28T06:00:00Z',
            reason: 'CredentialsVerified',
            message: 'listed 12 phones',
          },
        ],
        phonesInScope: 12,
        phonesObservedAt: '2026-11-28T06:00:00Z',
      };
      const read = parseAccountStatus({
        phonesObservedAt: '2026-11-28T06:00:00Z',
        phonesInScope: 12,
        conditions: [
          {
            message: 'listed 12 phones',
            reason: 'CredentialsVerified',
            lastTransitionTime: '2026-11-28T06:00:00Z',
            observedGeneration: 2,
            status: 'True',
            type: 'Ready',
          },
          { type: 'Ready', status: 'False', lastTransitionTime: 't', reason: 'X', message: 'a second Ready' },
          { type: 'Stalled', status: 'Maybe', lastTransitionTime: 't', reason: 'X' },
        ],
        observedGeneration: 2,
        extra: true,
      });
      expect(JSON.stringify(read)).to.equal(JSON.stringify(written));
    });
    it('canonicalAccountStatus orders keys and leaves out undefined ones', () => {
      const status = canonicalAccountStatus({
        phonesObservedAt: 't',
        phonesInScope: 0,
        conditions: undefined,
        observedGeneration: 1,
      });
      expect(JSON.stringify(status)).to.equal('{"observedGeneration":1,"phonesInScope":0,"phonesObservedAt":"t"}');
    });
  });
});
