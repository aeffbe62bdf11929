/**
 * A real Prometheus server for the tests (built from its Go module, test/tools/prometheus.ts), on loopback with a
 * throw-away TSDB: it scrapes the given targets and evaluates the given rule groups at the given intervals.
 * The process runs under `setpriv --pdeathsig SIGKILL` (as the control plane does), so it dies with the test
 * process whatever happens; stop() ends it and removes its folder.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { ensurePrometheus } from '../tools/prometheus.js';
import { freePort } from './operator-process.js';
import { waitFor } from './wait.js';

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Array<Record<string, unknown>>;
}

export interface PrometheusOptions {
  /** host:port of each target, scraped at /metrics under the job `jobName`. */
  targets: readonly string[];
  jobName: string;
  groups: readonly RuleGroup[];
  /** Default 1s: fast enough for a test to see a scrape and an evaluation within seconds. */
  scrapeInterval?: string;
  evaluationInterval?: string;
}

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

export interface PrometheusServer {
  readonly url: string;
  /** Instant query; returns the result vector. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Alerts now pending or firing (resolved ones are gone). */
  alerts(): Promise<ActiveAlert[]>;
  /** The scrape targets with their health. */
  targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastError: string }>>;
  logs(): string;
  stop(): Promise<void>;
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
}

function withParentDeathSignal(command: string, args: string[]): [string, string[]] {
  const probe = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore' });
  return probe.status === 0 ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args]] : [command, args];
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const binary = await ensurePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  writeFileSync(join(dir, 'rules.yaml'), stringifyYaml({ groups: options.groups }));
  writeFileSync(
    join(dir, 'prometheus.yaml'),
    stringifyYaml({
      global: {
        scrape_interval: options.scrapeInterval ?? '1s',
        evaluation_interval: options.evaluationInterval ?? '1s',
      },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: [{ job_name: options.jobName, static_configs: [{ targets: [...options.targets] }] }],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const [command, args] = withParentDeathSignal(binary, [
    `--config.file=${join(dir, 'prometheus.yaml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as ApiResponse<T>;
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  }

  const server: PrometheusServer = {
    url,
    async query(expr) {
      const data = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      return data.result;
    },
    async alerts() {
      return (await api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts;
    },
    async targets() {
      return (
        await api<{ activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> }>(
          '/api/v1/targets',
        )
      ).activeTargets;
    },
    logs: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${output.slice(-2000)}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'Prometheus ready' },
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
