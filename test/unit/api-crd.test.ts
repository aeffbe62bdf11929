import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import * as c from '../../src/api/v1alpha1/constants.js';
import {
  deletionPolicies,
  phoneEntryStates,
  statusJobStatuses,
  type CloudPhoneRouteSpec,
  type CloudPhoneRouteStatus,
  type Condition,
  type CredentialsSecretRef,
  type PhoneSelector,
  type PhoneStatusEntry,
  type Summary,
} from '../../src/api/v1alpha1/types.js';
import { trafficTypes } from '../../src/cph/wire.js';
import { conditionTypes, reasons } from '../../src/api/v1alpha1/conditions.js';

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  maxItems?: number;
  maxLength?: number;
  default?: unknown;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: Array<{ rule: string; message: string; fieldPath?: string }>;
}

const crd = parse(readFileSync(new URL('../../crds/cloudphoneroutes.cloudphone.dev.yaml', import.meta.url), 'utf8'));
const version = crd.spec.versions[0];
const root: Schema = version.schema.openAPIV3Schema;
const spec = root.properties!.spec!;
const status = root.properties!.status!;

// Records over `keyof T` fail to compile when a field is added to or removed from a type without being
// added here, so these lists are the types' fields, checked by tsc; the tests check them against the CRD.
const specKeys: Record<keyof CloudPhoneRouteSpec, true> = {
  trafficType: true,
  phoneIds: true,
  selector: true,
  projectId: true,
  region: true,
  endpoint: true,
  credentialsSecretRef: true,
  driftCheckInterval: true,
  suspend: true,
  deletionPolicy: true,
  revertTimeout: true,
};
const selectorKeys: Record<keyof PhoneSelector, true> = { serverIds: true, phoneNamePrefix: true };
const secretRefKeys: Record<keyof CredentialsSecretRef, true> = { name: true, accessKeyKey: true, secretKeyKey: true };
const statusKeys: Record<keyof CloudPhoneRouteStatus, true> = { observedGeneration: true, conditions: true, summary: true, phones: true, phonesTruncated: true, pendingRequests: true };
const summaryKeys: Record<keyof Summary, true> = { total: true, inSync: true, drifted: true, pending: true, failed: true, conflicted: true, notFound: true, waiting: true };
const entryKeys: Record<keyof PhoneStatusEntry, true> = {
  phoneId: true,
  state: true,
  actual: true,
  desired: true,
  jobId: true,
  jobStatus: true,
  requestId: true,
  errorCode: true,
  errorMessage: true,
  lastTransitionTime: true,
};
const conditionKeys: Record<keyof Condition, true> = { type: true, status: true, observedGeneration: true, lastTransitionTime: true, reason: true, message: true };

const keys = (record: object): string[] => Object.keys(record).sort();
const props = (schema: Schema): string[] => Object.keys(schema.properties ?? {}).sort();

describe('the CRD and src/api/v1alpha1 agree', () => {
  it('names the resource as the constants do', () => {
    expect(crd.metadata.name).to.equal(c.CRD_NAME);
    expect(crd.spec.group).to.equal(c.GROUP);
    expect(crd.spec.scope).to.equal('Namespaced');
    expect(crd.spec.names).to.deep.equal({
      kind: c.KIND,
      listKind: c.LIST_KIND,
      plural: c.PLURAL,
      singular: c.SINGULAR,
      shortNames: [c.SHORT_NAME],
      categories: [c.CATEGORY],
    });
    expect(crd.spec.versions).to.have.length(1);
    expect(version.name).to.equal(c.VERSION);
    expect(version.served).to.equal(true);
    expect(version.storage).to.equal(true);
    expect(version.subresources).to.deep.equal({ status: {} });
  });

  it('has exactly the fields of the types', () => {
    expect(props(spec)).to.deep.equal(keys(specKeys));
    expect(props(spec.properties!.selector!)).to.deep.equal(keys(selectorKeys));
    expect(props(spec.properties!.credentialsSecretRef!)).to.deep.equal(keys(secretRefKeys));
    expect(props(status)).to.deep.equal(keys(statusKeys));
    expect(props(status.properties!.summary!)).to.deep.equal(keys(summaryKeys));
    expect(props(status.properties!.phones!.items!)).to.deep.equal(keys(entryKeys));
    expect(props(status.properties!.conditions!.items!)).to.deep.equal(keys(conditionKeys));
  });

  it('has a description on every field, so kubectl explain reads well', () => {
    const missing: string[] = [];
    const walk = (schema: Schema, path: string): void => {
      if (path !== '.metadata' && !schema.description?.trim()) missing.push(path || '(root)');
      for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`);
      if (schema.items && schema.items.type === 'object') walk(schema.items, `${path}[]`);
      else if (schema.items && !schema.items.description && !schema.description) missing.push(`${path}[]`);
    };
    walk(root, '');
    expect(missing).to.deep.equal([]);
  });

  it('is structural: every node has a type', () => {
    const untyped: string[] = [];
    const walk = (schema: Schema, path: string): void => {
      if (!schema.type) untyped.push(path);
      for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`);
      if (schema.items) walk(schema.items, `${path}[]`);
    };
    walk(root, '');
    expect(untyped).to.deep.equal([]);
  });

  it('uses the enums of the types', () => {
    expect(spec.properties!.trafficType!.enum).to.deep.equal([...trafficTypes]);
    expect(spec.properties!.deletionPolicy!.enum).to.deep.equal([...deletionPolicies]);
    const entry = status.properties!.phones!.items!.properties!;
    expect(entry.state!.enum).to.deep.equal([...phoneEntryStates]);
    expect(entry.jobStatus!.enum).to.deep.equal([...statusJobStatuses]);
    // actual shows CPH's value as sent, even one that is neither direct nor routing.
    expect(entry.actual!.enum).to.equal(undefined);
    expect(entry.actual!.maxLength).to.equal(c.MAX_ACTUAL_LENGTH);
    expect(entry.desired!.enum).to.deep.equal([...trafficTypes]);
    expect(status.properties!.conditions!.items!.properties!.status!.enum).to.deep.equal(['True', 'False', 'Unknown']);
    expect(spec.required).to.deep.equal(['trafficType']);
  });

  it('uses the patterns and bounds of the constants', () => {
    const s = spec.properties!;
    expect(s.phoneIds!.items!.pattern).to.equal(c.PHONE_ID_PATTERN.source);
    expect(s.phoneIds!.maxItems).to.equal(c.MAX_PHONE_IDS);
    expect(s.phoneIds!['x-kubernetes-list-type']).to.equal('set');
    expect(s.selector!.properties!.serverIds!.items!.pattern).to.equal(c.SERVER_ID_PATTERN.source);
    expect(s.selector!.properties!.serverIds!.maxItems).to.equal(c.MAX_SERVER_IDS);
    expect(s.selector!.properties!.serverIds!['x-kubernetes-list-type']).to.equal('set');
    expect(s.selector!.properties!.phoneNamePrefix!.maxLength).to.equal(c.PHONE_NAME_PREFIX_MAX_LENGTH);
    expect(s.projectId!.pattern).to.equal(c.PROJECT_ID_PATTERN.source);
    expect(s.region!.pattern).to.equal(c.REGION_PATTERN.source);
    expect(s.region!.maxLength).to.equal(c.REGION_MAX_LENGTH);
    expect(s.endpoint!.pattern).to.equal(c.ENDPOINT_PATTERN.source.replaceAll('\\/', '/'));
    expect(s.endpoint!.maxLength).to.equal(c.ENDPOINT_MAX_LENGTH);
    expect(s.credentialsSecretRef!.properties!.name!.pattern).to.equal(c.SECRET_NAME_PATTERN.source);
    expect(s.credentialsSecretRef!.properties!.accessKeyKey!.pattern).to.equal(c.SECRET_KEY_PATTERN.source);
    expect(s.credentialsSecretRef!.properties!.accessKeyKey!.default).to.equal(c.DEFAULT_ACCESS_KEY_KEY);
    expect(s.credentialsSecretRef!.properties!.secretKeyKey!.default).to.equal(c.DEFAULT_SECRET_KEY_KEY);
    const form = `self.matches('${c.DURATION_PATTERN.source}')`;
    expect(s.driftCheckInterval!['x-kubernetes-validations']![0]!.rule).to.equal(form);
    expect(s.driftCheckInterval!.maxLength).to.equal(c.DURATION_MAX_LENGTH);
    expect(s.driftCheckInterval!.default).to.equal(c.DEFAULT_DRIFT_CHECK_INTERVAL);
    expect(s.revertTimeout!.default).to.equal(c.DEFAULT_REVERT_TIMEOUT);
    expect(s.suspend!.default).to.equal(false);
    expect(s.deletionPolicy!.default).to.equal('Retain');
    expect(status.properties!.phones!.maxItems).to.equal(c.MAX_STATUS_PHONES);
    // Written whole by the operator only: atomic keeps managedFields from tracking every entry's fields.
    expect(status.properties!.phones!['x-kubernetes-list-type']).to.equal('atomic');
    expect(status.properties!.conditions!['x-kubernetes-list-map-keys']).to.deep.equal(['type']);
    expect(status.properties!.conditions!.maxItems).to.be.at.least(conditionTypes.length);
  });

  it('checks the drift interval bounds with CEL, naming the field', () => {
    const rules = spec.properties!.driftCheckInterval!['x-kubernetes-validations']!;
    const wellFormed = `self.matches('${c.DURATION_PATTERN.source}')`;
    expect(rules.map((r) => r.rule)).to.deep.equal([
      wellFormed,
      `!${wellFormed} || duration(self) >= duration('10s')`,
      `!${wellFormed} || duration(self) <= duration('24h')`,
    ]);
    for (const rule of rules) expect(rule.message).to.contain('spec.driftCheckInterval');
    expect(c.MIN_DRIFT_CHECK_INTERVAL_MS).to.equal(10_000);
    expect(c.MAX_DRIFT_CHECK_INTERVAL_MS).to.equal(86_400_000);
  });

  it('requires phoneIds or selector through CEL, naming both fields', () => {
    const [rule] = spec['x-kubernetes-validations']!;
    expect(rule!.message).to.contain('spec.phoneIds').and.contain('spec.selector');
    expect(rule!.fieldPath).to.equal('.phoneIds');
  });

  it('condition reasons fit the CRD reason pattern', () => {
    const pattern = new RegExp(status.properties!.conditions!.items!.properties!.reason!.pattern!);
    for (const reason of reasons) expect(reason).to.match(pattern);
  });

  it('printer columns point at fields that exist', () => {
    const columns: Array<{ name: string; jsonPath: string; type: string }> = version.additionalPrinterColumns;
    expect(columns.map((col) => col.name)).to.include.members(['Traffic', 'Ready', 'In-Sync', 'Total', 'Age']);
    for (const column of columns) {
      const path = column.jsonPath.replace(/\[\?\(.*\)\]/, '[]').split('.').filter(Boolean);
      if (path[0] === 'metadata') continue;
      let schema: Schema | undefined = root;
      for (const part of path) {
        schema = part.endsWith('[]') ? schema?.properties?.[part.slice(0, -2)]?.items : schema?.properties?.[part];
      }
      expect(schema, column.jsonPath).to.not.equal(undefined);
    }
  });
});
