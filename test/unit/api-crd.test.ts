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
  type PhoneSelector,
  type PhoneStatusEntry,
  type Summary,
} from '../../src/api/v1alpha1/types.js';
import { trafficTypes } from '../../src/cph/wire.js';
import { conditionTypes, reasons } from '../../src/api/v1alpha1/conditions.js';
import {
  accountKinds,
  CLUSTER_ACCOUNT_CRD_NAME,
  CLUSTER_ACCOUNT_KIND,
  CLUSTER_ACCOUNT_LIST_KIND,
  CLUSTER_ACCOUNT_PLURAL,
  CLUSTER_ACCOUNT_SHORT_NAME,
  CLUSTER_ACCOUNT_SINGULAR,
  NAMESPACED_ACCOUNT_CRD_NAME,
  NAMESPACED_ACCOUNT_KIND,
  NAMESPACED_ACCOUNT_LIST_KIND,
  NAMESPACED_ACCOUNT_PLURAL,
  NAMESPACED_ACCOUNT_SHORT_NAME,
  NAMESPACED_ACCOUNT_SINGULAR,
  type AccountCredentials,
  type AccountKind,
  type AccountRef,
  type AccountSecretRef,
  type CloudPhoneAccountSpec,
  type CloudPhoneAccountStatus,
  type ClusterCloudPhoneAccountSpec,
  type LabelSelector,
  type LabelSelectorRequirement,
  type PhoneScope,
} from '../../src/api/v1alpha1/account-types.js';
import { AMBIENT_REFUSED_MESSAGE, labelSelectorOperators } from '../../src/api/v1alpha1/account-parse.js';

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  maxItems?: number;
  minItems?: number;
  maxLength?: number;
  maxProperties?: number;
  additionalProperties?: Schema;
  default?: unknown;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: Array<{ rule: string; message: string; fieldPath?: string; reason?: string }>;
}

interface PrinterColumn {
  name: string;
  jsonPath: string;
  type: string;
  priority?: number;
}

const keys = (record: object): string[] => Object.keys(record).sort();
const props = (schema: Schema): string[] => Object.keys(schema.properties ?? {}).sort();

/** Fields without a description (kubectl explain would print nothing for them). */
function undescribed(root: Schema): string[] {
  const missing: string[] = [];
  const walk = (schema: Schema, path: string): void => {
    if (path !== '.metadata' && !schema.description?.trim()) missing.push(path || '(root)');
    for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`);
    if (schema.additionalProperties) walk(schema.additionalProperties, `${path}.*`);
    if (schema.items && schema.items.type === 'object') walk(schema.items, `${path}[]`);
    else if (schema.items && !schema.items.description && !schema.description) missing.push(`${path}[]`);
  };
  walk(root, '');
  return missing;
}

/** Nodes without a type (a structural schema has none). */
function untyped(root: Schema): string[] {
  const out: string[] = [];
  const walk = (schema: Schema, path: string): void => {
    if (!schema.type) out.push(path);
    for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`);
    if (schema.additionalProperties) walk(schema.additionalProperties, `${path}.*`);
    if (schema.items) walk(schema.items, `${path}[]`);
  };
  walk(root, '');
  return out;
}

/** Printer columns whose jsonPath names no field of the schema. */
function danglingColumns(root: Schema, columns: readonly PrinterColumn[]): string[] {
  return columns
    .filter((column) => {
      const path = column.jsonPath
        .replace(/\[\?\(.*\)\]/, '[]')
        .split('.')
        .filter(Boolean);
      if (path[0] === 'metadata') return false;
      let schema: Schema | undefined = root;
      for (const part of path)
        schema = part.endsWith('[]') ? schema?.properties?.[part.slice(0, -2)]?.items : schema?.properties?.[part];
      return schema === undefined;
    })
    .map((column) => column.jsonPath);
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
  accountRef: true,
  driftCheckInterval: true,
  suspend: true,
  deletionPolicy: true,
  revertTimeout: true,
};
const selectorKeys: Record<keyof PhoneSelector, true> = { serverIds: true, phoneNamePrefix: true };
const accountRefKeys: Record<keyof AccountRef, true> = { kind: true, name: true };
const statusKeys: Record<keyof CloudPhoneRouteStatus, true> = {
  observedGeneration: true,
  conditions: true,
  summary: true,
  phones: true,
  phonesTruncated: true,
  pendingRequests: true,
};
const summaryKeys: Record<keyof Summary, true> = {
  total: true,
  inSync: true,
  drifted: true,
  pending: true,
  failed: true,
  conflicted: true,
  notFound: true,
  waiting: true,
};
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
const conditionKeys: Record<keyof Condition, true> = {
  type: true,
  status: true,
  observedGeneration: true,
  lastTransitionTime: true,
  reason: true,
  message: true,
};

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
    expect(props(spec.properties!.accountRef!)).to.deep.equal(keys(accountRefKeys));
    expect(props(status)).to.deep.equal(keys(statusKeys));
    expect(props(status.properties!.summary!)).to.deep.equal(keys(summaryKeys));
    expect(props(status.properties!.phones!.items!)).to.deep.equal(keys(entryKeys));
    expect(props(status.properties!.conditions!.items!)).to.deep.equal(keys(conditionKeys));
  });

  it('has a description on every field, so kubectl explain reads well', () => {
    expect(undescribed(root)).to.deep.equal([]);
  });

  it('is structural: every node has a type', () => {
    expect(untyped(root)).to.deep.equal([]);
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
    expect(spec.properties!.accountRef!.properties!.kind!.enum).to.deep.equal([...accountKinds]);
    expect(spec.properties!.accountRef!.required).to.deep.equal(['kind', 'name']);
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
    expect(s.accountRef!.properties!.name!.pattern).to.equal(c.DNS1123_SUBDOMAIN_PATTERN.source);
    expect(s.accountRef!.properties!.name!.maxLength).to.equal(c.DNS1123_SUBDOMAIN_MAX_LENGTH);
    expect(s.accountRef!.description).to.contain('--default-account');
    const form = `self.matches('${c.DURATION_PATTERN.source}')`;
    expect(s.driftCheckInterval!['x-kubernetes-validations']![0]!.rule).to.equal(form);
    expect(s.driftCheckInterval!.maxLength).to.equal(c.DURATION_MAX_LENGTH);
    // No default at admission: the operator's --drift-interval applies to routes that set none.
    expect(s.driftCheckInterval!.default).to.equal(undefined);
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
    const columns: PrinterColumn[] = version.additionalPrinterColumns;
    expect(columns.map((col) => col.name)).to.include.members(['Traffic', 'Ready', 'In-Sync', 'Total', 'Age']);
    expect(danglingColumns(root, columns)).to.deep.equal([]);
  });
});

describe('the account CRDs and src/api/v1alpha1 agree', () => {
  const load = (file: string) => parse(readFileSync(new URL(`../../crds/${file}`, import.meta.url), 'utf8'));
  const crds = {
    [CLUSTER_ACCOUNT_KIND]: load(`${CLUSTER_ACCOUNT_CRD_NAME}.yaml`),
    [NAMESPACED_ACCOUNT_KIND]: load(`${NAMESPACED_ACCOUNT_CRD_NAME}.yaml`),
  };
  const schemaOf = (kind: AccountKind): Schema => crds[kind].spec.versions[0].schema.openAPIV3Schema;
  const specOf = (kind: AccountKind): Schema => schemaOf(kind).properties!.spec!;
  const withoutDescriptions = (schema: unknown): unknown =>
    JSON.parse(JSON.stringify(schema), (key, value: unknown) => (key === 'description' ? undefined : value));

  const clusterSpecKeys: Record<keyof ClusterCloudPhoneAccountSpec, true> = {
    endpoint: true,
    region: true,
    projectId: true,
    credentials: true,
    phoneScope: true,
    namespaceSelector: true,
    namespaces: true,
  };
  const namespacedSpecKeys: Record<keyof CloudPhoneAccountSpec, true> = {
    endpoint: true,
    region: true,
    projectId: true,
    credentials: true,
    phoneScope: true,
  };
  const credentialsKeys: Record<keyof AccountCredentials, true> = { secretRef: true, ambient: true };
  const accountSecretRefKeys: Record<keyof AccountSecretRef, true> = {
    name: true,
    accessKeyKey: true,
    secretKeyKey: true,
  };
  const scopeKeys: Record<keyof PhoneScope, true> = { serverIds: true, phoneNamePrefixes: true };
  const selectorKeys: Record<keyof LabelSelector, true> = { matchLabels: true, matchExpressions: true };
  const requirementKeys: Record<keyof LabelSelectorRequirement, true> = { key: true, operator: true, values: true };
  const accountStatusKeys: Record<keyof CloudPhoneAccountStatus, true> = {
    observedGeneration: true,
    conditions: true,
    phonesInScope: true,
    phonesObservedAt: true,
  };

  it('name the kinds as account-types.ts does', () => {
    const expected = {
      [CLUSTER_ACCOUNT_KIND]: {
        name: CLUSTER_ACCOUNT_CRD_NAME,
        scope: 'Cluster',
        listKind: CLUSTER_ACCOUNT_LIST_KIND,
        plural: CLUSTER_ACCOUNT_PLURAL,
        singular: CLUSTER_ACCOUNT_SINGULAR,
        short: CLUSTER_ACCOUNT_SHORT_NAME,
      },
      [NAMESPACED_ACCOUNT_KIND]: {
        name: NAMESPACED_ACCOUNT_CRD_NAME,
        scope: 'Namespaced',
        listKind: NAMESPACED_ACCOUNT_LIST_KIND,
        plural: NAMESPACED_ACCOUNT_PLURAL,
        singular: NAMESPACED_ACCOUNT_SINGULAR,
        short: NAMESPACED_ACCOUNT_SHORT_NAME,
      },
    };
    for (const kind of accountKinds) {
      const crd = crds[kind];
      const want = expected[kind];
      expect(crd.metadata.name).to.equal(want.name);
      expect(crd.spec.group).to.equal(c.GROUP);
      expect(crd.spec.scope).to.equal(want.scope);
      expect(crd.spec.names).to.deep.equal({
        kind,
        listKind: want.listKind,
        plural: want.plural,
        singular: want.singular,
        shortNames: [want.short],
        categories: [c.CATEGORY],
      });
      expect(crd.spec.versions).to.have.length(1);
      expect(crd.spec.versions[0]).to.include({ name: c.VERSION, served: true, storage: true });
      expect(crd.spec.versions[0].subresources).to.deep.equal({ status: {} });
    }
  });

  it('are listed in crds/Kustomization beside the route CRD', () => {
    const kustomization = parse(readFileSync(new URL('../../crds/Kustomization', import.meta.url), 'utf8')) as {
      resources: string[];
    };
    expect(kustomization.resources).to.have.members([
      `${c.CRD_NAME}.yaml`,
      `${CLUSTER_ACCOUNT_CRD_NAME}.yaml`,
      `${NAMESPACED_ACCOUNT_CRD_NAME}.yaml`,
    ]);
  });

  it('have exactly the fields of the types', () => {
    expect(props(specOf(CLUSTER_ACCOUNT_KIND))).to.deep.equal(keys(clusterSpecKeys));
    expect(props(specOf(NAMESPACED_ACCOUNT_KIND))).to.deep.equal(keys(namespacedSpecKeys));
    for (const kind of accountKinds) {
      const s = specOf(kind).properties!;
      expect(props(s.credentials!), kind).to.deep.equal(keys(credentialsKeys));
      expect(props(s.credentials!.properties!.secretRef!), kind).to.deep.equal(keys(accountSecretRefKeys));
      expect(props(s.phoneScope!), kind).to.deep.equal(keys(scopeKeys));
      expect(props(schemaOf(kind).properties!.status!), kind).to.deep.equal(keys(accountStatusKeys));
      expect(specOf(kind).required, kind).to.deep.equal(['projectId', 'credentials', 'phoneScope']);
    }
    const selector = specOf(CLUSTER_ACCOUNT_KIND).properties!.namespaceSelector!;
    expect(props(selector)).to.deep.equal(keys(selectorKeys));
    expect(props(selector.properties!.matchExpressions!.items!)).to.deep.equal(keys(requirementKeys));
  });

  it('describe every field, for kubectl explain, and are structural', () => {
    for (const kind of accountKinds) {
      expect(undescribed(schemaOf(kind)), kind).to.deep.equal([]);
      expect(untyped(schemaOf(kind)), kind).to.deep.equal([]);
    }
  });

  it('share one spec: the CloudPhoneAccount is the ClusterCloudPhoneAccount without namespaces, selector and ambient credentials', () => {
    const cluster = structuredClone(specOf(CLUSTER_ACCOUNT_KIND));
    delete cluster.properties!.namespaceSelector;
    delete cluster.properties!.namespaces;
    const namespaced = structuredClone(specOf(NAMESPACED_ACCOUNT_KIND));
    for (const spec of [cluster, namespaced]) {
      const credentials = spec.properties!.credentials!;
      delete credentials['x-kubernetes-validations'];
      delete credentials.properties!.ambient;
    }
    expect(withoutDescriptions(namespaced)).to.deep.equal(withoutDescriptions(cluster));
    // And one status, whose conditions are the route's.
    expect(schemaOf(NAMESPACED_ACCOUNT_KIND).properties!.status).to.deep.equal(
      schemaOf(CLUSTER_ACCOUNT_KIND).properties!.status,
    );
    expect(
      withoutDescriptions(schemaOf(CLUSTER_ACCOUNT_KIND).properties!.status!.properties!.conditions),
    ).to.deep.equal(withoutDescriptions(status.properties!.conditions));
  });

  it('use the patterns and bounds of the constants', () => {
    for (const kind of accountKinds) {
      const s = specOf(kind).properties!;
      expect(s.endpoint!['x-kubernetes-validations']![0]!.rule, kind).to.equal(
        `self.matches(r'${c.ENDPOINT_PATTERN.source.replaceAll('\\/', '/')}')`,
      );
      expect(s.endpoint!.maxLength).to.equal(c.ENDPOINT_MAX_LENGTH);
      expect(s.region!.pattern).to.equal(c.REGION_PATTERN.source);
      expect(s.region!.maxLength).to.equal(c.REGION_MAX_LENGTH);
      expect(s.projectId!.pattern).to.equal(c.PROJECT_ID_PATTERN.source);
      const ref = s.credentials!.properties!.secretRef!.properties!;
      expect(ref.name!.pattern).to.equal(c.DNS1123_SUBDOMAIN_PATTERN.source);
      expect(ref.accessKeyKey!.pattern).to.equal(c.SECRET_KEY_PATTERN.source);
      expect(ref.accessKeyKey!.default).to.equal(c.DEFAULT_ACCESS_KEY_KEY);
      expect(ref.secretKeyKey!.default).to.equal(c.DEFAULT_SECRET_KEY_KEY);
      const scope = s.phoneScope!.properties!;
      expect(scope.serverIds!.items!.pattern).to.equal(c.SERVER_ID_PATTERN.source);
      expect(scope.serverIds!.maxItems).to.equal(c.MAX_SERVER_IDS);
      expect(scope.serverIds!['x-kubernetes-list-type']).to.equal('set');
      expect(scope.phoneNamePrefixes!.maxItems).to.equal(c.MAX_PHONE_NAME_PREFIXES);
      expect(scope.phoneNamePrefixes!.items!.maxLength).to.equal(c.PHONE_NAME_PREFIX_MAX_LENGTH);
      expect(scope.phoneNamePrefixes!['x-kubernetes-list-type']).to.equal('set');
      expect(schemaOf(kind).properties!.status!.properties!.conditions!['x-kubernetes-list-map-keys']).to.deep.equal([
        'type',
      ]);
    }
    const s = specOf(CLUSTER_ACCOUNT_KIND).properties!;
    expect(s.namespaces!.items!.pattern).to.equal(c.DNS1123_LABEL_PATTERN.source);
    expect(s.namespaces!.items!.maxLength).to.equal(c.DNS1123_LABEL_MAX_LENGTH);
    expect(s.namespaces!.maxItems).to.equal(c.MAX_ACCOUNT_NAMESPACES);
    expect(s.namespaces!.minItems).to.equal(1);
    expect(s.namespaces!['x-kubernetes-list-type']).to.equal('set');
    const selector = s.namespaceSelector!.properties!;
    const labelKey = c.LABEL_KEY_PATTERN.source.replaceAll('\\/', '/');
    expect(selector.matchLabels!.maxProperties).to.equal(c.MAX_SELECTOR_MATCH_LABELS);
    expect(selector.matchLabels!.additionalProperties!.pattern).to.equal(c.LABEL_VALUE_PATTERN.source);
    expect(selector.matchLabels!['x-kubernetes-validations']![0]!.rule).to.equal(
      `self.all(k, k.matches(r'${labelKey}'))`,
    );
    expect(selector.matchExpressions!.maxItems).to.equal(c.MAX_SELECTOR_REQUIREMENTS);
    const requirement = selector.matchExpressions!.items!.properties!;
    expect(requirement.key!.pattern).to.equal(labelKey);
    expect(requirement.key!.maxLength).to.equal(c.LABEL_KEY_MAX_LENGTH);
    expect(requirement.operator!.enum).to.deep.equal([...labelSelectorOperators]);
    expect(requirement.values!.maxItems).to.equal(c.MAX_SELECTOR_VALUES);
    expect(requirement.values!.items!.pattern).to.equal(c.LABEL_VALUE_PATTERN.source);
  });

  it("name the field in every CEL rule's message", () => {
    for (const kind of accountKinds) {
      const walk = (schema: Schema, path: string): void => {
        for (const rule of schema['x-kubernetes-validations'] ?? []) {
          const field = `spec${path}${rule.fieldPath ?? ''}`;
          expect(rule.message, `${kind} ${path}: ${rule.rule}`).to.contain(field);
        }
        for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`);
        if (schema.items) walk(schema.items, `${path}[]`);
      };
      walk(specOf(kind), '');
    }
  });

  it('refuse ambient credentials on a CloudPhoneAccount with the message account-parse.ts gives', () => {
    const rules = specOf(NAMESPACED_ACCOUNT_KIND).properties!.credentials!['x-kubernetes-validations']!;
    const ambient = rules.find((r) => r.fieldPath === '.ambient');
    expect(ambient?.rule).to.equal('!has(self.ambient)');
    expect(ambient?.message).to.equal(AMBIENT_REFUSED_MESSAGE);
  });

  it('print the account, its readiness and its phones', () => {
    for (const kind of accountKinds) {
      const version = crds[kind].spec.versions[0];
      const columns: PrinterColumn[] = version.additionalPrinterColumns;
      expect(
        columns.map((col) => col.name),
        kind,
      ).to.deep.equal(['Region', 'Endpoint', 'Project', 'Ready', 'Reason', 'Phones', 'Age']);
      expect(danglingColumns(schemaOf(kind), columns), kind).to.deep.equal([]);
    }
  });
});
