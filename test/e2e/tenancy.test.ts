/**
 * Two teams on one cluster, end to end: the real control plane, the CPH simulator over HTTPS (the only host
 * on the operator's allowlist, 127.0.0.1), a second HTTPS endpoint the operator would trust (its CA is in
 * the bundle given to --cph-ca-file) at a host off the allowlist (localhost), and the operator with its real
 * flags. Team A has a ClusterCloudPhoneAccount admitting only its namespace, with a phone scope; team B tries
 * every way ../../docs/security.md lists to borrow what it was not given. The foreign endpoint must receive
 * no request at all, and no phone may change that the rules do not allow.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { sharedControlPlane, CONTROL_PLANE_START_TIMEOUT_MS, type ControlPlane } from '../support/control-plane.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { Routes, installCrd, freshNamespace, condition } from '../support/routes.js';
import { applyClusterAccount, createNamespacedAccount } from '../support/accounts.js';
import { refusal } from '../support/admission.js';
import { SimAdmin, type SimPhone } from '../support/sim-admin.js';
import { waitFor } from '../support/wait.js';

const projectId = 'tenancyproject';
const operatorCredentials = { ak: 'OPERATORAMBIENT01', sk: 'operator-ambient-secret-0123456789' };
const teamBCredentials = { ak: 'TEAMBOWNKEY000001', sk: 'team-b-own-secret-0123456789' };

describe('tenancy: accounts keep each team to what it was given', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let cp: ControlPlane;
  let sim: RunningSimulator;
  let foreign: RunningSimulator;
  let admin: SimAdmin;
  let foreignAdmin: SimAdmin;
  let operator: OperatorProcess;
  let routes: Routes;
  let phones: SimPhone[];
  let teamA: string;
  let teamB: string;
  let operatorNs: string;
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const teamAAccount = `team-a-${suffix}`;

  before(async () => {
    cp = await sharedControlPlane();
    const kc = cp.kubeConfig();
    await installCrd(kc);
    const dir = await mkdtemp(path.join(tmpdir(), 'cph-tenancy-'));
    sim = await startSimulator({
      tls: true,
      caOut: path.join(dir, 'sim-ca.pem'),
      phones: 120,
      phonesPerServer: 40,
      seed: 31,
      projectId,
      credentials: [operatorCredentials, teamBCredentials],
      jobMs: 400,
    });
    foreign = await startSimulator({
      tls: true,
      host: 'localhost',
      caOut: path.join(dir, 'foreign-ca.pem'),
      phones: 10,
      seed: 32,
      projectId,
      credentials: [operatorCredentials, teamBCredentials],
    });
    const bundle = path.join(dir, 'bundle.pem');
    await writeFile(
      bundle,
      `${await readFile(path.join(dir, 'sim-ca.pem'), 'utf8')}\n${await readFile(path.join(dir, 'foreign-ca.pem'), 'utf8')}`,
    );
    admin = new SimAdmin(sim.url, sim.caPem);
    foreignAdmin = new SimAdmin(foreign.url, foreign.caPem);
    phones = await admin.phones();
    routes = new Routes(kc);
    teamA = await freshNamespace(kc, 'team-a');
    teamB = await freshNamespace(kc, 'team-b');
    operatorNs = await freshNamespace(kc, 'operator');
    // Team A's phones: those on the first server; the scope admits only them.
    const serverA = phones[0]!.server_id;
    await applyClusterAccount(kc, teamAAccount, {
      endpoint: sim.url,
      projectId,
      credentials: { ambient: true },
      phoneScope: { serverIds: [serverA] },
      namespaces: [teamA],
    });
    operator = await startOperator({
      kubeconfigPath: cp.kubeconfigPath,
      cphEndpoint: sim.url,
      projectId,
      defaultAccount: false,
      caFile: bundle,
      env: { HUAWEICLOUD_SDK_AK: operatorCredentials.ak, HUAWEICLOUD_SDK_SK: operatorCredentials.sk },
      extraArgs: [
        '--allowed-endpoint-hosts',
        '127.0.0.1',
        '--cluster-resource-namespace',
        operatorNs,
        '--namespaces',
        `${teamA},${teamB}`,
        '--job-poll-interval',
        '300ms',
        '--drift-interval',
        '10s',
      ],
    });
  });

  after(async () => {
    const logs = operator?.logs() ?? [];
    await operator?.stop();
    admin?.close();
    foreignAdmin?.close();
    await sim?.close();
    await foreign?.close();
    for (const line of logs) {
      expect(line).to.not.include(operatorCredentials.sk);
      expect(line).to.not.include(teamBCredentials.sk);
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator.logs().slice(-60).join('\n')}\n`);
  });

  const phonesOn = (server: string, traffic?: string): SimPhone[] =>
    phones.filter((p) => p.server_id === server && (traffic === undefined || p.traffic_type === traffic));
  const offServer = (server: string, traffic: string): SimPhone[] =>
    phones.filter((p) => p.server_id !== server && p.traffic_type === traffic);

  it('team A: phones inside the scope are changed; a phone outside it is reported PhonesOutOfScope and never written', async () => {
    const server = phones[0]!.server_id;
    const inScope = phonesOn(server, 'direct')
      .slice(0, 3)
      .map((p) => p.phone_id);
    const outside = offServer(server, 'direct')[0]!.phone_id;
    expect(inScope).to.have.lengthOf(3);
    await routes.create(teamA, 'mine', {
      trafficType: 'routing',
      phoneIds: [...inScope, outside],
      accountRef: { kind: 'ClusterCloudPhoneAccount', name: teamAAccount },
    });
    await waitFor(
      async () =>
        condition(await routes.get(teamA, 'mine'), 'Ready')?.reason === 'PhonesOutOfScope' &&
        (await routes.get(teamA, 'mine'))?.status?.summary?.inSync === 3,
      { timeoutMs: 60_000, what: 'the in-scope phones on routing and PhonesOutOfScope' },
    );
    const route = await routes.get(teamA, 'mine');
    expect(condition(route, 'Stalled')).to.deep.include({ status: 'True', reason: 'PhonesOutOfScope' });
    expect(condition(route, 'Stalled')?.message).to.contain(outside);
    for (const id of inScope) expect((await admin.phone(id)).traffic_type).to.equal('routing');
    expect((await admin.phone(outside)).traffic_type).to.equal('direct');
    expect((await admin.writes()).flatMap((w) => w.phoneIds)).to.not.include(outside);
    // The account says it works and how many phones its scope holds.
    const account = (await cp.kubeConfig().makeApiClient(CustomObjectsApi).getClusterCustomObject({
      group: 'cloudphone.dev',
      version: 'v1alpha1',
      plural: 'clustercloudphoneaccounts',
      name: teamAAccount,
    })) as {
      status?: { conditions?: Array<{ type: string; status: string; reason: string }>; phonesInScope?: number };
    };
    await waitFor(
      async () => {
        const current = (await cp.kubeConfig().makeApiClient(CustomObjectsApi).getClusterCustomObject({
          group: 'cloudphone.dev',
          version: 'v1alpha1',
          plural: 'clustercloudphoneaccounts',
          name: teamAAccount,
        })) as typeof account;
        return (
          current.status?.conditions?.some(
            (c) => c.type === 'Ready' && c.status === 'True' && c.reason === 'CredentialsVerified',
          ) && current.status.phonesInScope === phonesOn(server).length
        );
      },
      { timeoutMs: 60_000, what: `${teamAAccount} Ready with ${phonesOn(server).length} phones in scope` },
    );
  });

  it("team B naming team A's ClusterCloudPhoneAccount gets AccountNotAllowed and changes nothing", async () => {
    const target = phonesOn(phones[0]!.server_id, 'direct')
      .slice(3, 5)
      .map((p) => p.phone_id);
    const writesBefore = (await admin.counters()).routeWrites.total;
    await routes.create(teamB, 'borrow', {
      trafficType: 'routing',
      phoneIds: target,
      accountRef: { kind: 'ClusterCloudPhoneAccount', name: teamAAccount },
    });
    await routes.waitForCondition(teamB, 'borrow', 'Ready', 'False', 'AccountNotAllowed', 60_000);
    expect(condition(await routes.get(teamB, 'borrow'), 'Stalled')?.reason).to.equal('AccountNotAllowed');
    for (const id of target) expect((await admin.phone(id)).traffic_type).to.equal('direct');
    expect((await admin.counters()).routeWrites.total).to.equal(writesBefore);
  });

  it("team B's own account at a foreign endpoint, with its Secret, is refused EndpointNotAllowed; with ambient: true it is refused at admission", async () => {
    const kc = cp.kubeConfig();
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: teamB,
      body: {
        metadata: { name: 'team-b-creds' },
        stringData: { HUAWEICLOUD_SDK_AK: teamBCredentials.ak, HUAWEICLOUD_SDK_SK: teamBCredentials.sk },
      },
    });
    await createNamespacedAccount(kc, teamB, 'elsewhere', {
      endpoint: foreign.url,
      projectId,
      credentials: { secretRef: { name: 'team-b-creds' } },
      phoneScope: {},
    });
    await routes.create(teamB, 'exfiltrate', {
      trafficType: 'routing',
      phoneIds: [phones[10]!.phone_id],
      accountRef: { kind: 'CloudPhoneAccount', name: 'elsewhere' },
    });
    await routes.waitForCondition(teamB, 'exfiltrate', 'Ready', 'False', 'EndpointNotAllowed', 60_000);
    const api = kc.makeApiClient(CustomObjectsApi);
    await waitFor(
      async () => {
        const account = (await api.getNamespacedCustomObject({
          group: 'cloudphone.dev',
          version: 'v1alpha1',
          namespace: teamB,
          plural: 'cloudphoneaccounts',
          name: 'elsewhere',
        })) as { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } };
        return account.status?.conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'False' && c.reason === 'EndpointNotAllowed',
        );
      },
      { timeoutMs: 60_000, what: 'the foreign account EndpointNotAllowed' },
    );
    const ambient = await refusal(() =>
      createNamespacedAccount(kc, teamB, 'ambient', {
        endpoint: sim.url,
        projectId,
        credentials: { ambient: true },
        phoneScope: {},
      }),
    );
    expect(ambient?.code).to.equal(422);
    expect(ambient?.status.message).to.contain('spec.credentials.ambient');
  });

  it('a route still carrying spec.endpoint is refused by strict validation, and pruned to no account otherwise', async () => {
    const api = cp.kubeConfig().makeApiClient(CustomObjectsApi);
    const body = (name: string): object => ({
      apiVersion: 'cloudphone.dev/v1alpha1',
      kind: 'CloudPhoneRoute',
      metadata: { name, namespace: teamB },
      spec: { trafficType: 'routing', phoneIds: [phones[11]!.phone_id], endpoint: foreign.url, projectId },
    });
    const strict = await refusal(() =>
      api.createNamespacedCustomObject({
        group: 'cloudphone.dev',
        version: 'v1alpha1',
        namespace: teamB,
        plural: 'cloudphoneroutes',
        body: body('old-strict'),
        fieldValidation: 'Strict',
      }),
    );
    expect(strict?.status.message).to.match(/unknown field "spec.endpoint"/);
    await api.createNamespacedCustomObject({
      group: 'cloudphone.dev',
      version: 'v1alpha1',
      namespace: teamB,
      plural: 'cloudphoneroutes',
      body: body('old-lax'),
      fieldValidation: 'Ignore',
    });
    const stored = await routes.get(teamB, 'old-lax');
    expect(stored?.spec).to.not.have.property('endpoint');
    await routes.waitForCondition(teamB, 'old-lax', 'Ready', 'False', 'AccountNotFound', 60_000);
  });

  it('one phone claimed through two accounts of one project (two spellings of the endpoint) is a Conflict on both and written 0 times', async () => {
    const kc = cp.kubeConfig();
    const server = phones[0]!.server_id;
    const contested = phonesOn(server, 'direct')[5]!.phone_id;
    // Team B's own key reaches the same project; its endpoint is spelled differently.
    await createNamespacedAccount(kc, teamB, 'own', {
      endpoint: `${sim.url}/`,
      projectId,
      credentials: { secretRef: { name: 'team-b-creds' } },
      phoneScope: {},
    });
    // Team B first: it wants the phone's current route, so it is Ready without a write; team A's claim then
    // meets it in the one plan of the project.
    await routes.create(teamB, 'contested-b', {
      trafficType: 'direct',
      phoneIds: [contested],
      accountRef: { kind: 'CloudPhoneAccount', name: 'own' },
    });
    await routes.waitForCondition(teamB, 'contested-b', 'Ready', 'True', 'InSync', 60_000);
    await routes.create(teamA, 'contested-a', {
      trafficType: 'routing',
      phoneIds: [contested],
      accountRef: { kind: 'ClusterCloudPhoneAccount', name: teamAAccount },
    });
    await routes.waitForCondition(teamA, 'contested-a', 'Ready', 'False', 'Conflict', 60_000);
    await routes.waitForCondition(teamB, 'contested-b', 'Ready', 'False', 'Conflict', 60_000);
    const a = await routes.get(teamA, 'contested-a');
    const b = await routes.get(teamB, 'contested-b');
    // Neither team learns the other's route name.
    expect(JSON.stringify(a?.status)).to.not.contain('contested-b').and.not.contain(teamB);
    expect(JSON.stringify(b?.status)).to.not.contain('contested-a').and.not.contain(teamA);
    expect((await admin.writes()).flatMap((w) => w.phoneIds)).to.not.include(contested);
    expect((await admin.phone(contested)).traffic_type).to.equal('direct');
  });

  it('the foreign endpoint received no request at all', async () => {
    expect((await foreignAdmin.counters()).total).to.equal(0);
  });
});
