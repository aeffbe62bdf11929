/**
 * `npm run demo`: the operator on a local control plane against the CPH simulator, start to finish.
 * Builds what it needs (the control plane once, into a cache; the operator into dist/), starts everything,
 * applies examples/, shows the resources converging, changes a route behind the operator's back and shows
 * it corrected, then tears everything down. `--keep` leaves it all running until Ctrl-C and says how to
 * connect.
 * examples/ point their accounts at Huawei Cloud (`region: cn-north-4`); the demo applies them with the
 * region replaced by its simulator's endpoint (and says so), and starts the operator with the simulator's key
 * pair as its own (ambient) credentials, --default-account default and --allowed-endpoint-hosts 127.0.0.1.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane } from '../test/cluster/harness.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/index.js';
import { SimAdmin } from '../test/support/sim-admin.js';
import { waitFor } from '../test/support/wait.js';
import { freePort } from '../test/support/operator-process.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const demoDir = path.join(root, '.local/demo');
const namespace = 'cph-demo';
const projectId = 'demo-project';
// The simulator's key pair: the operator's ambient credentials, and examples/credentials-secret.yaml's.
const ak = 'DEMOACCESSKEY0000001';
const sk = 'demo-secret-key';

const step = (text: string): void => {
  process.stdout.write(`\n\u001b[1m==> ${text}\u001b[0m\n`);
};

async function kubectl(cp: ControlPlane, ...args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args]);
  return stdout;
}

async function table(cp: ControlPlane): Promise<string> {
  return kubectl(cp, 'get', 'cpr', '-n', namespace);
}

async function accountsTable(cp: ControlPlane): Promise<string> {
  return kubectl(cp, 'get', 'ccpa,cpa', '-A');
}

/** Every object of these kinds Ready=True for its generation. */
async function allReady(cp: ControlPlane, kinds = 'cpr', where = ['-n', namespace]): Promise<boolean> {
  const out = await kubectl(
    cp,
    'get',
    kinds,
    ...where,
    '-o',
    'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}/{.status.observedGeneration}/{.metadata.generation}{"\\n"}{end}',
  );
  const lines = out.trim().split('\n').filter(Boolean);
  return lines.length > 0 && lines.every((line) => /=True\/(\d+)\/\1$/.test(line));
}

/**
 * examples/ point their accounts at Huawei Cloud (spec.region); the demo points them at its simulator: each
 * ClusterCloudPhoneAccount and CloudPhoneAccount with a region gets `endpoint: <simulator>` instead. Returns
 * the YAML to apply and what was rewritten.
 */
function pointAccountsAt(endpoint: string, text: string): { yaml: string; rewritten: string[] } {
  const documents = parseAllDocuments(text);
  const rewritten: string[] = [];
  for (const document of documents) {
    const kind = document.get('kind');
    const region = document.getIn(['spec', 'region']);
    if ((kind !== 'ClusterCloudPhoneAccount' && kind !== 'CloudPhoneAccount') || region === undefined) continue;
    document.deleteIn(['spec', 'region']);
    document.setIn(['spec', 'endpoint'], endpoint);
    rewritten.push(
      `${kind} ${String(document.getIn(['metadata', 'name']))}: region ${String(region)} -> endpoint ${endpoint} (the simulator)`,
    );
  }
  return { yaml: documents.map((document) => document.toString()).join('---\n'), rewritten };
}

async function applyYaml(cp: ControlPlane, yamlText: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', cp.kubeconfigPath, 'apply', ...args, '-f', '-'],
      (error, stdout, stderr) =>
        error ? reject(new Error(`kubectl apply: ${stderr || error.message}`)) : resolve(stdout),
    );
    child.stdin?.end(yamlText);
  });
}

async function main(): Promise<void> {
  await mkdir(demoDir, { recursive: true });
  let cp: ControlPlane | undefined;
  let sim: RunningSimulator | undefined;
  let operator: ChildProcess | undefined;
  const cleanup = async (): Promise<void> => {
    if (operator && operator.exitCode === null) {
      operator.kill('SIGTERM');
      await new Promise((resolve) => operator?.once('exit', resolve));
    }
    await sim?.close();
    await cp?.stop();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    step('Building the operator (tsc → dist/)');
    await run('npm', ['run', '--silent', 'build'], { cwd: root });

    step(
      'Starting the local control plane (etcd, kube-apiserver, kube-controller-manager; the first run builds them, several minutes)',
    );
    cp = await startControlPlane({
      dataDir: path.join(demoDir, 'cluster'),
      progress: (line) => process.stdout.write(`    ${line}\n`),
    });
    process.stdout.write(`    kube-apiserver ${cp.version} at ${cp.server}\n`);

    step('Starting the CPH simulator (1000 phones, HTTPS, jobs of 2 s, 50 requests/s per API)');
    const caFile = path.join(demoDir, 'cph-sim-ca.pem');
    sim = await startSimulator({
      tls: true,
      caOut: caFile,
      phones: 1000,
      seed: 7,
      projectId,
      ak,
      sk,
      jobMs: 2000,
      latencyMs: 30,
      rateLimit: 50,
    });
    const admin = new SimAdmin(sim.url, sim.caPem);
    process.stdout.write(`    ${sim.url} (admin API under /_sim/)\n`);

    step(
      'Installing the CRDs (CloudPhoneRoute, ClusterCloudPhoneAccount, CloudPhoneAccount) and starting the operator',
    );
    await kubectl(cp, 'apply', '-k', path.join(root, 'crds'));
    await kubectl(cp, 'wait', '--for=condition=Established', '--timeout=60s', '-f', path.join(root, 'crds'));
    const logFile = await open(path.join(demoDir, 'operator.log'), 'w');
    const metricsPort = await freePort();
    const healthPort = await freePort();
    operator = spawn(
      process.execPath,
      [
        path.join(root, 'dist/main.js'),
        '--kubeconfig',
        cp.kubeconfigPath,
        '--cph-ca-file',
        caFile,
        // Routes without spec.accountRef use the ClusterCloudPhoneAccount `default` (examples/cluster-account.yaml).
        '--default-account',
        'default',
        // The simulator listens on loopback; Huawei Cloud's hosts are the default list.
        '--allowed-endpoint-hosts',
        '127.0.0.1',
        '--metrics-bind-address',
        `127.0.0.1:${metricsPort}`,
        '--health-probe-bind-address',
        `127.0.0.1:${healthPort}`,
        '--log-format',
        'json',
      ],
      // The operator's own (ambient) credentials, used only by ClusterCloudPhoneAccounts that say `ambient: true`.
      {
        env: { ...process.env, HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: sk },
        stdio: ['ignore', logFile.fd, logFile.fd],
      },
    );
    await waitFor(async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok, {
      timeoutMs: 30_000,
      what: 'the operator ready',
    });
    process.stdout.write(
      `    metrics http://127.0.0.1:${metricsPort}/metrics, log ${path.relative(root, path.join(demoDir, 'operator.log'))}\n`,
    );

    step(`Applying examples/ in namespace ${namespace}, their accounts pointed at the simulator`);
    await kubectl(cp, 'create', 'namespace', namespace);
    const examples = (await readdir(path.join(root, 'examples'))).filter((f) => f.endsWith('.yaml')).sort();
    for (const file of examples) {
      const { yaml, rewritten } = pointAccountsAt(sim.url, await readFile(path.join(root, 'examples', file), 'utf8'));
      for (const line of rewritten) process.stdout.write(`    examples/${file}: ${line}\n`);
      process.stdout.write(await applyYaml(cp, yaml, '-n', namespace));
    }

    step('Watching them converge (kubectl get cpr; then kubectl get ccpa,cpa)');
    let last = '';
    await waitFor(
      async () => {
        const now = await table(cp as ControlPlane);
        if (now !== last) process.stdout.write(`${now}\n`);
        last = now;
        return (await allReady(cp as ControlPlane)) && (await allReady(cp as ControlPlane, 'ccpa,cpa', ['-A']));
      },
      { timeoutMs: 180_000, intervalMs: 1500, what: 'every example Ready' },
    );
    process.stdout.write(`${await accountsTable(cp)}\n`);

    step("Changing a route behind the operator's back (as a console user or a script would)");
    const victim = (await admin.phones('pool-a-'))[0];
    if (!victim) throw new Error('the simulator has no pool-a phone');
    await admin.drift(victim.phone_id, 'direct');
    process.stdout.write(`    ${victim.phone_name} (${victim.phone_id}) set to direct; pool-a-routing wants routing\n`);
    const driftAt = Date.now();
    await waitFor(async () => (await admin.phone(victim.phone_id)).traffic_type === 'routing', {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: 'the drift corrected',
    });
    process.stdout.write(
      `    corrected after ${((Date.now() - driftAt) / 1000).toFixed(1)} s (drift check every 30 s)\n`,
    );
    await waitFor(() => allReady(cp as ControlPlane), { timeoutMs: 60_000, what: 'every example Ready again' });
    process.stdout.write(`${await table(cp)}\n`);
    const calls = await admin.counters();
    process.stdout.write(
      `    CPH calls so far: ${JSON.stringify(Object.fromEntries(Object.entries(calls.byOperation).map(([op, c]) => [op, c.total])))}\n`,
    );
    admin.close();

    if (keep) {
      step('Everything keeps running (Ctrl-C stops it)');
      process.stdout.write(
        [
          `    export KUBECONFIG=${cp.kubeconfigPath}`,
          `    kubectl get cpr -n ${namespace}`,
          '    kubectl get ccpa,cpa -A',
          `    kubectl describe cpr pool-a-routing -n ${namespace}`,
          `    curl --cacert ${caFile} ${sim.url}/_sim/counters`,
          `    curl -X POST --cacert ${caFile} -d '{"traffic_type":"direct"}' ${sim.url}/_sim/phones/${victim.phone_id}/traffic`,
          `    curl http://127.0.0.1:${metricsPort}/metrics`,
          '',
        ].join('\n'),
      );
      await new Promise(() => undefined);
    }
    step('Tearing down');
    await cleanup();
    process.stdout.write('Demo finished: every example resource became Ready and a drifted phone was put back.\n');
  } catch (error) {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    await cleanup();
    process.exit(1);
  }
}

await main();
