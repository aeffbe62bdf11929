import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { signRequest } from '../../src/cph/signer.js';

/** Runs `cph-sim` from source (tsx) as a separate process, as a user would run the built bin. */
describe('cph-sim command', () => {
  let child: ChildProcess | undefined;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cph-sim-'));
  });
  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('prints its URL, serves HTTPS with the CA it wrote, and stops cleanly on SIGTERM', async () => {
    const caOut = join(dir, 'ca.pem');
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/simulator/cli.ts',
        '--port',
        '0',
        '--tls',
        '--ca-out',
        caOut,
        '--phones',
        '300',
        '--seed',
        '7',
        '--project-id',
        'P',
        '--ak',
        'AK',
        '--sk',
        'SK',
        '--log-format',
        'json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const proc = child;
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve(line.trim());
      });
      proc.once('exit', (code) => reject(new Error(`cph-sim exited with ${code}`)));
    });
    expect(url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = await readFile(caOut, 'utf8');
    expect(ca).to.contain('BEGIN CERTIFICATE');

    const target = new URL('/v1/P/cloud-phone/phones?limit=1', url);
    const headers = { 'Content-Type': 'application/json' };
    const signed = {
      ...headers,
      ...signRequest({ method: 'GET', url: target, headers, body: '' }, { ak: 'AK', sk: 'SK' }, new Date()),
    };
    const body = await new Promise<{ status: number; json: { count: number } }>((resolve, reject) => {
      https
        .get(target, { headers: signed, ca, agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
        })
        .on('error', reject);
    });
    expect(body.status).to.equal(200);
    expect(body.json.count).to.equal(300);

    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).to.equal(0);
  });

  it('documents every flag in --help', async () => {
    const help = await new Promise<string>((resolve, reject) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/cli.ts', '--help'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
      proc.once('exit', () => resolve(out));
      proc.once('error', reject);
    });
    for (const flag of [
      '--host',
      '--port',
      '--tls',
      '--ca-out',
      '--phones',
      '--seed',
      '--project-id',
      '--ak',
      '--sk',
      '--iam-user',
      '--iam-password',
      '--iam-domain',
      '--latency-ms',
      '--job-ms',
      '--job-failure-rate',
      '--fault-rate',
      '--rate-limit',
      '--job-error-fields',
      '--not-found-status',
      '--max-list-limit',
      '--restart-on-route-change',
      '--refuse-not-running',
      '--repeat-creates-job',
    ]) {
      expect(help).to.contain(flag);
    }
  });
});
