/**
 * The operator's configuration: command-line flags and the environment turned into one typed value, or an
 * error that names the flag. Credentials come only from the environment (never from flags, which show in
 * `ps` and in the pod spec); see src/cph/credentials.ts for their names.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from './api/v1alpha1/parse.js';
import { MIN_DRIFT_CHECK_INTERVAL_MS } from './api/v1alpha1/constants.js';
import { credentialEnv } from './cph/credentials.js';
import { DEFAULT_ALLOWED_ENDPOINT_HOSTS, EndpointError, parseHostPatterns, type HostPattern } from './cph/endpoints.js';
import { operatorVersion } from './version.js';

export interface OperatorConfig {
  /** A kubeconfig file; undefined: in-cluster config, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig: string | undefined;
  /** Namespaces to watch; empty: all. */
  namespaces: string[];
  /** IAM for ambient password login when the environment names none (default: from the account's region). */
  iamEndpoint: string | undefined;
  cphCaFile: string | undefined;
  /** --allowed-endpoint-hosts: the only hosts CPH or IAM requests go to. */
  allowedEndpointHosts: HostPattern[];
  /** Where ClusterCloudPhoneAccount Secrets are read. */
  clusterResourceNamespace: string;
  /** The ClusterCloudPhoneAccount of routes without spec.accountRef. */
  defaultAccount: string | undefined;
  /** Used for resources that leave spec.driftCheckInterval out. */
  driftIntervalMs: number;
  maxConcurrentReconciles: number;
  cphQps: number;
  /** Calls of any one CPH API per second (the gateway's unit). */
  cphApiQps: number;
  cphBurst: number;
  cphTimeoutMs: number;
  jobPollIntervalMs: number;
  /** Client-side limit of Kubernetes API requests per second (controller-runtime's default 20). */
  kubeApiQps: number;
  /** Kubernetes API requests allowed at once after a quiet period (controller-runtime's default 30). */
  kubeApiBurst: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** host:port, or undefined when disabled with "0". */
  metricsBindAddress: string | undefined;
  healthProbeBindAddress: string | undefined;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logFormat: 'json' | 'text' | undefined;
  /** This replica's identity in the Lease (pod name, else hostname + pid). */
  identity: string;
}

function duration(flag: string, minMs = 1): (value: string) => number {
  return (value) => {
    let ms: number;
    try {
      ms = parseDuration(value, flag);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
    if (ms < minMs) throw new InvalidArgumentError(`${flag} must be at least ${minMs} ms, got ${value}`);
    return ms;
  };
}

function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${flag} must be a whole number >= 1, got ${value}`);
    return n;
  };
}

function positiveNumber(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a number > 0, got ${value}`);
    return n;
  };
}

function url(flag: string): (value: string) => string {
  return (value) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new InvalidArgumentError(
        `${flag} must be a URL like https://cph.cn-north-4.myhuaweicloud.com, got ${value}`,
      );
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
      throw new InvalidArgumentError(`${flag} must be an http(s) URL, got ${value}`);
    return value.replace(/\/+$/, '');
  };
}

function hostPatterns(value: string): HostPattern[] {
  try {
    return parseHostPatterns(value);
  } catch (error) {
    if (error instanceof EndpointError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

function objectName(flag: string): (value: string) => string {
  return (value) => {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value) || value.length > 253)
      throw new InvalidArgumentError(`${flag}: ${JSON.stringify(value)} is not an object name`);
    return value;
  };
}

function bindAddress(flag: string): (value: string) => string {
  return (value) => {
    if (value === '0') return value;
    if (!/^[^\s]*:[0-9]{1,5}$/.test(value))
      throw new InvalidArgumentError(`${flag} must be host:port, :port or 0 (off), got ${value}`);
    return value;
  };
}

function namespaceName(flag: string): (value: string) => string {
  return (value) => {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 63)
      throw new InvalidArgumentError(`${flag}: ${JSON.stringify(value)} is not a namespace name`);
    return value;
  };
}

function namespaceList(value: string): string[] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  for (const name of names) namespaceName('--namespaces')(name);
  return names;
}

export function buildCommand(env: Readonly<Record<string, string | undefined>>): Command {
  const command = new Command('cph-route-operator')
    .description(
      'Keeps the route (traffic_type) of Huawei Cloud Phone Host phones in line with CloudPhoneRoute resources.\n\n' +
        'Where and as whom: ClusterCloudPhoneAccount and CloudPhoneAccount objects (endpoint or region, project,\n' +
        'credentials, phone scope). Routes name one in spec.accountRef, or use --default-account.\n' +
        'The operator\'s own ("ambient") credentials, used only by a ClusterCloudPhoneAccount with\n' +
        'spec.credentials.ambient, come from the environment only:\n' +
        `  ${credentialEnv.ak} / ${credentialEnv.sk}   access key pair (SDK-HMAC-SHA256 signing), or\n` +
        `  ${credentialEnv.iamUser} / ${credentialEnv.iamPassword} / ${credentialEnv.iamDomain}   IAM password login\n` +
        `  ${credentialEnv.iamEndpoint}   IAM endpoint (or --iam-endpoint; default from the account's region)`,
    )
    .version(operatorVersion)
    .helpOption('-h, --help', 'show this help')
    .addOption(
      new Option(
        '--kubeconfig <path>',
        'kubeconfig file (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)',
      ),
    )
    .addOption(
      new Option('--namespaces <list>', 'comma-separated namespaces to watch')
        .argParser(namespaceList)
        .default([] as string[], 'all'),
    )
    .addOption(
      new Option(
        '--iam-endpoint <url>',
        'IAM endpoint for ambient password login (default: https://iam.{region}.myhuaweicloud.com of the account)',
      ).argParser(url('--iam-endpoint')),
    )
    .addOption(
      new Option(
        '--allowed-endpoint-hosts <list>',
        'comma-separated hosts the operator may call (CPH and IAM), exact or *.domain; an account at any other host is refused',
      )
        .argParser(hostPatterns)
        .default(parseHostPatterns(DEFAULT_ALLOWED_ENDPOINT_HOSTS.join(',')), DEFAULT_ALLOWED_ENDPOINT_HOSTS.join(',')),
    )
    .addOption(
      new Option(
        '--cluster-resource-namespace <ns>',
        'namespace of the Secrets ClusterCloudPhoneAccounts name ($POD_NAMESPACE when set)',
      )
        .argParser(namespaceName('--cluster-resource-namespace'))
        .default(env.POD_NAMESPACE ?? 'cph-route-operator-system'),
    )
    .addOption(
      new Option(
        '--default-account <name>',
        'ClusterCloudPhoneAccount used by routes without spec.accountRef (when it admits their namespace)',
      ).argParser(objectName('--default-account')),
    )
    .addOption(
      new Option(
        '--cph-ca-file <path>',
        'extra CA bundle (PEM) trusted for CPH and IAM, besides the system CAs; TLS verification cannot be turned off',
      ),
    )
    .addOption(
      new Option('--drift-interval <duration>', 'drift check interval for resources that set none')
        .argParser(duration('--drift-interval', MIN_DRIFT_CHECK_INTERVAL_MS))
        .default(300_000, '5m'),
    )
    .addOption(
      new Option('--max-concurrent-reconciles <n>', 'resources reconciled at once')
        .argParser(positiveInt('--max-concurrent-reconciles'))
        .default(4),
    )
    .addOption(
      new Option('--cph-qps <n>', 'CPH requests per second per account, all APIs and callers together')
        .argParser(positiveNumber('--cph-qps'))
        .default(20),
    )
    .addOption(
      new Option('--cph-burst <n>', 'CPH request burst per account').argParser(positiveInt('--cph-burst')).default(40),
    )
    .addOption(
      new Option(
        '--cph-api-qps <n>',
        'CPH requests of any one API per account in any second, burst included: the gateway counts per API (200/s by default)',
      )
        .argParser(positiveInt('--cph-api-qps'))
        .default(undefined, 'floor of --cph-qps'),
    )
    .addOption(
      new Option('--cph-timeout <duration>', 'timeout of one CPH request')
        .argParser(duration('--cph-timeout'))
        .default(30_000, '30s'),
    )
    .addOption(
      new Option('--job-poll-interval <duration>', 'how often running route jobs are polled')
        .argParser(duration('--job-poll-interval', 200))
        .default(2_000, '2s'),
    )
    .addOption(
      new Option(
        '--kube-api-qps <n>',
        'Kubernetes API requests per second, a client-side limit (as controller-runtime)',
      )
        .argParser(positiveNumber('--kube-api-qps'))
        .default(20),
    )
    .addOption(
      new Option('--kube-api-burst <n>', 'Kubernetes API request burst above --kube-api-qps')
        .argParser(positiveInt('--kube-api-burst'))
        .default(30),
    )
    .addOption(
      new Option('--leader-elect', 'elect a leader through a Lease so that only one replica acts').default(false),
    )
    .addOption(
      new Option('--leader-election-namespace <ns>', 'namespace of the Lease ($POD_NAMESPACE when set)').default(
        env.POD_NAMESPACE ?? 'cph-route-operator-system',
      ),
    )
    .addOption(new Option('--leader-election-id <name>', 'name of the Lease').default('cph-route-operator-leader'))
    .addOption(
      new Option('--leader-election-lease-duration <duration>', 'how long a Lease is valid without renewal')
        .argParser(duration('--leader-election-lease-duration'))
        .default(15_000, '15s'),
    )
    .addOption(
      new Option(
        '--leader-election-renew-deadline <duration>',
        'how long the leader keeps trying to renew before it steps down',
      )
        .argParser(duration('--leader-election-renew-deadline'))
        .default(10_000, '10s'),
    )
    .addOption(
      new Option('--leader-election-retry-period <duration>', 'how often candidates try to take or renew the Lease')
        .argParser(duration('--leader-election-retry-period'))
        .default(2_000, '2s'),
    )
    .addOption(
      new Option('--metrics-bind-address <addr>', 'address of /metrics, or 0 to turn it off')
        .argParser(bindAddress('--metrics-bind-address'))
        .default(':8080'),
    )
    .addOption(
      new Option('--health-probe-bind-address <addr>', 'address of /healthz and /readyz, or 0 to turn it off')
        .argParser(bindAddress('--health-probe-bind-address'))
        .default(':8081'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level').choices(['error', 'warn', 'info', 'debug']).default('info'),
    )
    .addOption(
      new Option('--log-format <format>', 'log format (default: text on a terminal, else json)').choices([
        'json',
        'text',
      ]),
    );
  command.exitOverride();
  return command;
}

/** Parses argv (without node and script) and the environment. Throws commander's errors for bad flags. */
export function parseOperatorArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  hostname = 'operator',
  output?: { writeOut(text: string): void; writeErr(text: string): void },
): OperatorConfig {
  const command = buildCommand(env);
  if (output) command.configureOutput(output);
  command.parse([...argv], { from: 'user' });
  const o = command.opts<Record<string, unknown>>();
  const leaseDurationMs = o.leaderElectionLeaseDuration as number;
  const renewDeadlineMs = o.leaderElectionRenewDeadline as number;
  const retryPeriodMs = o.leaderElectionRetryPeriod as number;
  if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs))
    throw new InvalidArgumentError(
      'leader election needs --leader-election-retry-period < --leader-election-renew-deadline < --leader-election-lease-duration',
    );
  const address = (value: unknown): string | undefined => (value === '0' ? undefined : (value as string));
  return {
    kubeconfig: o.kubeconfig as string | undefined,
    namespaces: o.namespaces as string[],
    iamEndpoint: o.iamEndpoint as string | undefined,
    cphCaFile: o.cphCaFile as string | undefined,
    allowedEndpointHosts: o.allowedEndpointHosts as HostPattern[],
    clusterResourceNamespace: o.clusterResourceNamespace as string,
    defaultAccount: o.defaultAccount as string | undefined,
    driftIntervalMs: o.driftInterval as number,
    maxConcurrentReconciles: o.maxConcurrentReconciles as number,
    cphQps: o.cphQps as number,
    cphBurst: o.cphBurst as number,
    cphApiQps: (o.cphApiQps as number | undefined) ?? Math.max(1, Math.floor(o.cphQps as number)),
    cphTimeoutMs: o.cphTimeout as number,
    jobPollIntervalMs: o.jobPollInterval as number,
    kubeApiQps: o.kubeApiQps as number,
    kubeApiBurst: o.kubeApiBurst as number,
    leaderElect: o.leaderElect as boolean,
    leaderElectionNamespace: o.leaderElectionNamespace as string,
    leaderElectionId: o.leaderElectionId as string,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    metricsBindAddress: address(o.metricsBindAddress),
    healthProbeBindAddress: address(o.healthProbeBindAddress),
    logLevel: o.logLevel as OperatorConfig['logLevel'],
    logFormat: o.logFormat as OperatorConfig['logFormat'],
    identity: env.POD_NAME ?? `${hostname}-${process.pid}`,
  };
}
