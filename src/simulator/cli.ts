#!/usr/bin/env node
/**
 * `cph-sim`: runs the CPH simulator until SIGINT or SIGTERM. Prints the URL (first line of stdout) once it
 * serves; logs go to stderr.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger, type LogLevel } from '../runtime/logger.js';
import { allFaultKinds, knownFaultKinds, startSimulator, type FaultKind } from './index.js';

function int(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be an integer`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be from ${min} to ${max}`);
    return n;
  };
}

function rate(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
      throw new InvalidArgumentError(`${name} must be a number from 0 to 1`);
    return n;
  };
}

function bool(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError('must be true or false');
}

const program = new Command()
  .name('cph-sim')
  .description(
    'A faithful Huawei Cloud Phone Host (CPH) API simulator: phones, phones-traffic, jobs and IAM tokens, with seeded faults. See docs/cph-simulator.md.',
  )
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--port <port>', 'port to listen on (0 = any free port)', int('--port', 0, 65535), 0)
  .option('--tls', 'serve HTTPS with a certificate for localhost and 127.0.0.1 made at start', false)
  .option('--ca-out <file>', 'with --tls: write the CA certificate (PEM) to this file')
  .option('--phones <n>', 'number of phones', int('--phones', 0), 1000)
  .option('--seed <n>', 'seed for phone IDs, job outcomes and faults', int('--seed', 0, 0xffffffff), 1)
  .requiredOption('--project-id <id>', 'the project ID the CPH paths must carry')
  .option('--ak <ak>', 'accepted access key (env CPH_SIM_AK); without --ak/--sk no signature passes')
  .option('--sk <sk>', 'secret key of --ak (env CPH_SIM_SK)')
  .option('--iam-user <name>', 'IAM user accepted by POST /v3/auth/tokens (without it every login fails)')
  .option('--iam-password <password>', 'password of --iam-user (env CPH_SIM_IAM_PASSWORD)')
  .option('--iam-domain <name>', 'account (domain) name of --iam-user; any when absent')
  .option('--token-ttl-seconds <n>', 'lifetime of issued IAM tokens', int('--token-ttl-seconds', 1), 86400)
  .option('--latency-ms <ms>', 'delay before every API answer', int('--latency-ms', 0), 0)
  .option('--job-ms <ms>', 'how long a route job runs', int('--job-ms', 0), 2000)
  .option('--job-failure-rate <r>', 'share of route jobs that fail (seeded), 0..1', rate('--job-failure-rate'), 0)
  .option('--fault-rate <r>', 'share of API requests that get a fault (seeded), 0..1', rate('--fault-rate'), 0)
  .option(
    '--fault-kinds <list>',
    `comma-separated fault mix from ${knownFaultKinds.join(',')} (lost: the request takes effect, the answer is lost)`,
    allFaultKinds.join(','),
  )
  .option(
    '--rate-limit <n>',
    'requests per second per API before 429 APIGW.0308 (0 = unlimited)',
    int('--rate-limit', 0),
    200,
  )
  .option('--retry-after-seconds <n>', 'Retry-After on injected 429s', int('--retry-after-seconds', 0), 1)
  .option('--phones-per-server <n>', 'phones per server', int('--phones-per-server', 1), 8)
  .option('--pools <list>', 'pool names; phones are named pool-<pool>-<n>, server k in pool k mod count', 'a,b,c,d')
  .option(
    '--phone-ids <list>',
    'comma-separated IDs for the newest phones (e.g. the published example 631056bfb66b4f4ea02ba25f04830cb4)',
  )
  .addOption(
    new Option('--initial-traffic-type <type>', 'route every phone starts with')
      .choices(['direct', 'routing'])
      .default('direct'),
  )
  .addOption(
    new Option(
      '--job-error-fields <reading>',
      'no-error job fields: documented (ShowJob null, ListJobs ""), null, or empty',
    )
      .choices(['documented', 'null', 'empty'])
      .default('documented'),
  )
  .addOption(
    new Option('--not-found-status <status>', 'HTTP status of CPS.0005').choices(['404', '400']).default('404'),
  )
  .option(
    '--max-list-limit <n>',
    'largest phone list limit accepted (200 per the API reference, 100 per the Go SDK)',
    int('--max-list-limit', 1),
    200,
  )
  .option('--restart-on-route-change <bool>', 'phones show status 4 (restarting) while a route job runs', bool, false)
  .option(
    '--refuse-not-running <bool>',
    'phones not in status 2 get a per-phone CPS.0012 instead of a job',
    bool,
    false,
  )
  .option(
    '--repeat-creates-job <bool>',
    'asking for the current route runs a real job (false: an already-finished job)',
    bool,
    true,
  )
  .addOption(
    new Option(
      '--error-body <reading>',
      'error body shape: cph {request_id, error_code, error_msg}, nested {error: {code, message}} or top {code, message}',
    )
      .choices(['cph', 'nested', 'top'])
      .default('cph'),
  )
  .option('--too-many-ids-error-code <code>', 'error code of the 400 for more than 100 phone IDs', 'APIGW.0201')
  .option('--skew-error-code <code>', 'error code of the 401 for an X-Sdk-Date more than 15 minutes off', 'APIGW.0303')
  .addOption(new Option('--log-level <level>', 'log level').choices(['error', 'warn', 'info', 'debug']).default('info'))
  .addOption(new Option('--log-format <format>', 'log format').choices(['json', 'text']));

program.addHelpText(
  'after',
  `
Serves the CPH paths under /v1/{project_id}/cloud-phone/ (phones, phones/{id}, phones-traffic, jobs, jobs/{id}),
IAM at POST /v3/auth/tokens, and an admin API without auth:
  GET  /_sim/health | /_sim/phones[?phone_name_prefix=&offset=&limit=] | /_sim/phones/{id}
  POST /_sim/phones/{id}/traffic {traffic_type}      out-of-band route change (drift), no job
  POST /_sim/traffic {traffic_type, phone_ids | phone_name_prefix}   bulk drift
  POST /_sim/phones/{id}/status {status}
  GET|POST /_sim/faults {faultRate, faultKinds, latencyMs, rateLimit, retryAfterSeconds, jobMs, jobFailureRate, failJobsForPhones, unreachable}
  GET|POST /_sim/faults/script {faults: [{kind, operation?, count?}]}
  GET|POST /_sim/readings {jobErrorFields, notFoundStatus, maxListLimit, restartOnRouteChange, refuseNotRunning,
                           repeatCreatesJob, errorBody, tooManyIdsErrorCode, skewErrorCode}
  GET|POST /_sim/quirks {phones: {<id>: {omit?, trafficType?}}, trafficRequestId, noJobFor, refuse}
  GET  /_sim/counters   POST /_sim/counters/reset   GET /_sim/writes[?since=seq]
  POST /_sim/tokens/revoke   POST /_sim/locks/reset
Five bad signatures in a row lock an AK for 5 minutes (POST /_sim/locks/reset clears). See docs/cph-simulator.md.`,
);

program.parse();
const opts = program.opts<Record<string, unknown>>();

async function main(): Promise<void> {
  const logger = createLogger({
    level: opts.logLevel as LogLevel,
    ...(opts.logFormat !== undefined ? { format: opts.logFormat as 'json' | 'text' } : {}),
  });
  const faultKinds = String(opts.faultKinds)
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  for (const kind of faultKinds) {
    if (!(knownFaultKinds as readonly string[]).includes(kind)) program.error(`--fault-kinds: unknown fault ${kind}`);
  }
  const ak = (opts.ak as string | undefined) ?? process.env.CPH_SIM_AK;
  const sk = (opts.sk as string | undefined) ?? process.env.CPH_SIM_SK;
  if ((ak === undefined) !== (sk === undefined)) program.error('--ak and --sk go together');
  const iamPassword = (opts.iamPassword as string | undefined) ?? process.env.CPH_SIM_IAM_PASSWORD;
  const sim = await startSimulator({
    host: opts.host as string,
    port: opts.port as number,
    tls: opts.tls as boolean,
    ...(opts.caOut !== undefined ? { caOut: opts.caOut as string } : {}),
    phones: opts.phones as number,
    seed: opts.seed as number,
    projectId: opts.projectId as string,
    ...(ak !== undefined && sk !== undefined ? { ak, sk } : {}),
    ...(opts.iamUser !== undefined ? { iamUser: opts.iamUser as string } : {}),
    ...(iamPassword !== undefined ? { iamPassword } : {}),
    ...(opts.iamDomain !== undefined ? { iamDomain: opts.iamDomain as string } : {}),
    tokenTtlSeconds: opts.tokenTtlSeconds as number,
    latencyMs: opts.latencyMs as number,
    jobMs: opts.jobMs as number,
    jobFailureRate: opts.jobFailureRate as number,
    faultRate: opts.faultRate as number,
    faultKinds: faultKinds as FaultKind[],
    rateLimit: opts.rateLimit as number,
    retryAfterSeconds: opts.retryAfterSeconds as number,
    phonesPerServer: opts.phonesPerServer as number,
    pools: String(opts.pools)
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== ''),
    initialTrafficType: opts.initialTrafficType as 'direct' | 'routing',
    ...(opts.phoneIds !== undefined
      ? {
          fixedPhoneIds: String(opts.phoneIds)
            .split(',')
            .map((id) => id.trim())
            .filter((id) => id !== ''),
        }
      : {}),
    errorBody: opts.errorBody as 'cph' | 'nested' | 'top',
    jobErrorFields: opts.jobErrorFields as 'documented' | 'null' | 'empty',
    notFoundStatus: Number(opts.notFoundStatus) as 404 | 400,
    maxListLimit: opts.maxListLimit as number,
    restartOnRouteChange: opts.restartOnRouteChange as boolean,
    refuseNotRunning: opts.refuseNotRunning as boolean,
    repeatCreatesJob: opts.repeatCreatesJob as boolean,
    tooManyIdsErrorCode: opts.tooManyIdsErrorCode as string,
    skewErrorCode: opts.skewErrorCode as string,
    logger,
  });
  process.stdout.write(`${sim.url}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('cph-sim stopping', { signal });
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`cph-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
