import { expect } from 'chai';
import {
  labelSelectorMatches,
  namespaceAdmitted,
  phoneInScope,
  phoneScopeMatcher,
  type PhoneFacts,
} from '../../src/api/v1alpha1/account-rules.js';
import type {
  ClusterCloudPhoneAccountSpec,
  LabelSelector,
  LabelSelectorRequirement,
  PhoneScope,
} from '../../src/api/v1alpha1/account-types.js';

const spec = (extra: Partial<ClusterCloudPhoneAccountSpec>): ClusterCloudPhoneAccountSpec => ({
  region: 'cn-east-3',
  projectId: 'p',
  credentials: { ambient: true },
  phoneScope: {},
  ...extra,
});
const ns = (name: string, labels: Record<string, string> = {}): { name: string; labels: Record<string, string> } => ({
  name,
  labels,
});

describe('api/v1alpha1 account-rules', () => {
  describe('labelSelectorMatches: apimachinery semantics', () => {
    const labels = { team: 'a', env: 'dev', empty: '' };
    const table: Array<[string, LabelSelector, boolean]> = [
      ['{} matches everything', {}, true],
      ['empty lists match everything', { matchLabels: {}, matchExpressions: [] }, true],
      ['matchLabels equal', { matchLabels: { team: 'a' } }, true],
      ['matchLabels, all of them', { matchLabels: { team: 'a', env: 'dev' } }, true],
      ['matchLabels, one differs', { matchLabels: { team: 'a', env: 'prod' } }, false],
      ['matchLabels, key absent', { matchLabels: { tier: 'x' } }, false],
      ['matchLabels, empty value equals an empty label', { matchLabels: { empty: '' } }, true],
      ['matchLabels, empty value is not an absent label', { matchLabels: { missing: '' } }, false],
      ['In, value listed', { matchExpressions: [{ key: 'team', operator: 'In', values: ['b', 'a'] }] }, true],
      ['In, value not listed', { matchExpressions: [{ key: 'team', operator: 'In', values: ['b'] }] }, false],
      ['In, key absent', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] }, false],
      ['NotIn, value listed', { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] }, false],
      ['NotIn, value not listed', { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['b'] }] }, true],
      ['NotIn, key absent matches', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['a'] }] }, true],
      ['Exists, present', { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, true],
      ['Exists, present with an empty value', { matchExpressions: [{ key: 'empty', operator: 'Exists' }] }, true],
      ['Exists, absent', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, false],
      ['DoesNotExist, absent', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, true],
      ['DoesNotExist, present', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
      [
        'Exists with values: refused by apimachinery, matches nothing',
        { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['a'] }] },
        false,
      ],
      [
        'DoesNotExist with values: matches nothing',
        { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist', values: ['a'] }] },
        false,
      ],
      [
        'In without values: matches nothing',
        { matchExpressions: [{ key: 'team', operator: 'In', values: [] }] },
        false,
      ],
      ['NotIn without values: matches nothing', { matchExpressions: [{ key: 'tier', operator: 'NotIn' }] }, false],
      [
        'labels and expressions must all hold',
        {
          matchLabels: { team: 'a' },
          matchExpressions: [
            { key: 'env', operator: 'In', values: ['dev'] },
            { key: 'tier', operator: 'DoesNotExist' },
          ],
        },
        true,
      ],
      [
        'one failing expression is enough',
        {
          matchLabels: { team: 'a' },
          matchExpressions: [
            { key: 'env', operator: 'In', values: ['dev'] },
            { key: 'team', operator: 'DoesNotExist' },
          ],
        },
        false,
      ],
      [
        'a failing label beside passing expressions',
        { matchLabels: { team: 'b' }, matchExpressions: [{ key: 'env', operator: 'Exists' }] },
        false,
      ],
    ];
    for (const [name, selector, expected] of table) {
      it(`${name}: ${expected}`, () => expect(labelSelectorMatches(selector, labels)).to.equal(expected));
    }
    it('an operator outside the four matches nothing (fail closed)', () => {
      const odd = JSON.parse('{"key":"team","operator":"Equals","values":["a"]}') as LabelSelectorRequirement;
      expect(labelSelectorMatches({ matchExpressions: [odd] }, labels)).to.equal(false);
    });
    it('reads own label keys only, never the prototype', () => {
      expect(labelSelectorMatches({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, {})).to.equal(
        false,
      );
      expect(labelSelectorMatches({ matchExpressions: [{ key: 'toString', operator: 'DoesNotExist' }] }, {})).to.equal(
        true,
      );
      const proto = JSON.parse('{"__proto__": "x"}') as Record<string, string>; // an own key named __proto__, as JSON can carry
      expect(labelSelectorMatches({ matchLabels: proto }, {})).to.equal(false);
      expect(labelSelectorMatches({ matchLabels: proto }, proto)).to.equal(true);
    });
  });

  describe('namespaceAdmitted', () => {
    it('admits every namespace when neither namespaces nor namespaceSelector is set', () => {
      expect(namespaceAdmitted(spec({}), ns('anything'))).to.equal(true);
      expect(namespaceAdmitted(spec({}), ns('kube-system', { a: 'b' }))).to.equal(true);
    });
    it('admits the namespaces named, and only them, without a selector', () => {
      const s = spec({ namespaces: ['team-a', 'team-b'] });
      expect(namespaceAdmitted(s, ns('team-a'))).to.equal(true);
      expect(namespaceAdmitted(s, ns('team-b'))).to.equal(true);
      expect(namespaceAdmitted(s, ns('team-c', { team: 'a' }))).to.equal(false);
      expect(namespaceAdmitted(s, ns('team-a-2'))).to.equal(false);
    });
    it('admits the namespaces the selector matches, and only them, without names', () => {
      const s = spec({ namespaceSelector: { matchLabels: { 'cloudphone.dev/tenant': 'true' } } });
      expect(namespaceAdmitted(s, ns('x', { 'cloudphone.dev/tenant': 'true' }))).to.equal(true);
      expect(namespaceAdmitted(s, ns('y', { 'cloudphone.dev/tenant': 'false' }))).to.equal(false);
      expect(namespaceAdmitted(s, ns('z'))).to.equal(false);
    });
    it('admits by name OR by selector when both are set', () => {
      const s = spec({
        namespaces: ['named'],
        namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] },
      });
      expect(namespaceAdmitted(s, ns('named'))).to.equal(true);
      expect(namespaceAdmitted(s, ns('labelled', { team: 'a' }))).to.equal(true);
      expect(namespaceAdmitted(s, ns('neither', { team: 'b' }))).to.equal(false);
    });
    it('an empty selector {} admits every namespace, even beside names', () => {
      expect(namespaceAdmitted(spec({ namespaceSelector: {} }), ns('any'))).to.equal(true);
      expect(namespaceAdmitted(spec({ namespaceSelector: {}, namespaces: ['a'] }), ns('b'))).to.equal(true);
    });
    it('an empty namespaces list without a selector admits nothing (set, but naming no one)', () => {
      expect(namespaceAdmitted(spec({ namespaces: [] }), ns('any'))).to.equal(false);
    });
    it('a selector apimachinery would refuse admits no namespace by labels, but names still count', () => {
      const refused: LabelSelector = { matchExpressions: [{ key: 'team', operator: 'In', values: [] }] };
      expect(namespaceAdmitted(spec({ namespaceSelector: refused }), ns('a', { team: 'a' }))).to.equal(false);
      expect(namespaceAdmitted(spec({ namespaceSelector: refused, namespaces: ['a'] }), ns('a'))).to.equal(true);
    });
    it('takes a whole spec: nothing else in it matters', () => {
      const s = spec({
        namespaces: ['a'],
        phoneScope: { serverIds: ['s'] },
        credentials: { secretRef: { name: 'x' } },
      });
      expect(namespaceAdmitted(s, ns('a'))).to.equal(true);
    });
  });

  describe('phoneInScope', () => {
    const phones: Record<string, PhoneFacts> = {
      full: { serverId: 's1', phoneName: 'pool-a-1' },
      otherServer: { serverId: 's2', phoneName: 'pool-a-2' },
      otherName: { serverId: 's1', phoneName: 'pool-b-1' },
      noServer: { phoneName: 'pool-a-3' },
      noName: { serverId: 's1' },
      nothing: {},
    };
    const table: Array<[string, PhoneScope, string[]]> = [
      [
        '{} admits every phone, even one the operator knows nothing of',
        {},
        ['full', 'otherServer', 'otherName', 'noServer', 'noName', 'nothing'],
      ],
      [
        'empty lists are as absent',
        { serverIds: [], phoneNamePrefixes: [] },
        ['full', 'otherServer', 'otherName', 'noServer', 'noName', 'nothing'],
      ],
      [
        'serverIds: phones on those servers; a phone without one is outside',
        { serverIds: ['s1'] },
        ['full', 'otherName', 'noName'],
      ],
      ['serverIds, several', { serverIds: ['s1', 's2'] }, ['full', 'otherServer', 'otherName', 'noName']],
      [
        'phoneNamePrefixes: names starting with one; a phone without a name is outside',
        { phoneNamePrefixes: ['pool-a-'] },
        ['full', 'otherServer', 'noServer'],
      ],
      ['phoneNamePrefixes, several', { phoneNamePrefixes: ['pool-b-', 'pool-a-1'] }, ['full', 'otherName']],
      ['both: both must hold', { serverIds: ['s1'], phoneNamePrefixes: ['pool-a-'] }, ['full']],
      ['serverIds set, prefixes empty', { serverIds: ['s2'], phoneNamePrefixes: [] }, ['otherServer']],
    ];
    for (const [name, scope, inside] of table) {
      it(name, () => {
        const got = Object.entries(phones)
          .filter(([, phone]) => phoneInScope(scope, phone))
          .map(([key]) => key);
        expect(got).to.deep.equal(inside);
      });
    }
    it('prefixes are exact and case-sensitive; a whole name is its own prefix', () => {
      expect(phoneInScope({ phoneNamePrefixes: ['Pool-'] }, { phoneName: 'pool-1' })).to.equal(false);
      expect(phoneInScope({ phoneNamePrefixes: ['pool-1'] }, { phoneName: 'pool-1' })).to.equal(true);
      expect(phoneInScope({ phoneNamePrefixes: ['pool-10'] }, { phoneName: 'pool-1' })).to.equal(false);
      expect(phoneInScope({ serverIds: ['S1'] }, { serverId: 's1' })).to.equal(false);
    });
    it('phoneScopeMatcher gives the same answers for many phones, and does not follow later changes to the scope', () => {
      const scope: PhoneScope = {
        serverIds: Array.from({ length: 1000 }, (_, i) => `s${i}`),
        phoneNamePrefixes: ['p-'],
      };
      const inScope = phoneScopeMatcher(scope);
      const fleet = Array.from({ length: 2000 }, (_, i) => ({
        serverId: `s${i}`,
        phoneName: i % 2 === 0 ? `p-${i}` : `q-${i}`,
      }));
      expect(fleet.filter(inScope).length).to.equal(500);
      for (const phone of fleet.slice(990, 1010)) expect(inScope(phone)).to.equal(phoneInScope(scope, phone));
      scope.serverIds!.push('s1999');
      expect(inScope({ serverId: 's1999', phoneName: 'p-x' })).to.equal(false);
    });
  });
});
