/**
 * The Kubernetes client's request accounting (rest_client_requests_total) and its client-side rate limit
 * (--kube-api-qps, --kube-api-burst), over real HTTP to a small local server standing in for the API server.
 */
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/runtime/kube-client.js';
import { TokenBucket } from '../../src/cph/rate-limiter.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';
import { freePort } from '../support/operator-process.js';
import { waitFor } from '../support/wait.js';

/** A kubeconfig for a plain-HTTP server (client-node insists on skipTLSVerify for http:). */
function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server, skipTLSVerify: true }],
    users: [{ name: 'anonymous' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'anonymous' }],
    currentContext: 'local',
  });
  return kc;
}

describe('KubeClient request accounting and rate limit', () => {
  let server: http.Server;
  let base: string;
  const seenPaths: string[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      seenPaths.push(`${req.method} ${req.url}`);
      const missing = req.url?.includes('/missing');
      res.writeHead(missing ? 404 : 200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify(
          missing ? { kind: 'Status', code: 404, reason: 'NotFound', message: 'not found' } : { kind: 'ConfigMap' },
        ),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reports each request with its status code, method and host, and <error> when no answer came', async () => {
    const seen: string[] = [];
    const onRequest = (code: string, method: string, host: string): void => {
      seen.push(`${code} ${method} ${host}`);
    };
    const client = await KubeClient.create(kubeConfigFor(base), { onRequest });
    const host = new URL(base).host;
    await client.request({ method: 'GET', path: '/api/v1/namespaces/a/configmaps/x' });
    await client.request({ method: 'GET', path: '/api/v1/namespaces/a/configmaps/missing' }).catch(() => undefined);
    await client.request({ method: 'PATCH', path: '/api/v1/namespaces/a/configmaps/x', body: {} });
    expect(seen).to.deep.equal([`200 GET ${host}`, `404 GET ${host}`, `200 PATCH ${host}`]);
    client.close();

    const closedPort = await freePort();
    const unreachable = await KubeClient.create(kubeConfigFor(`http://127.0.0.1:${closedPort}`), { onRequest });
    await unreachable.request({ method: 'GET', path: '/api/v1/namespaces' }).catch(() => undefined);
    expect(seen.at(-1)).to.equal(`<error> GET 127.0.0.1:${closedPort}`);
    unreachable.close();
  });

  it('holds requests past the burst until the bucket refills', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 1, burst: 2, clock });
    const client = await KubeClient.create(kubeConfigFor(base), { rateLimiter: bucket });
    seenPaths.length = 0;
    const sent = [1, 2, 3].map((n) => client.request({ method: 'GET', path: `/api/v1/namespaces/a/configmaps/c${n}` }));
    await Promise.all(sent.slice(0, 2));
    // The third has reserved the next token and waits for the (fake) clock: the server saw two requests.
    await waitFor(() => bucket.available() < 0, { what: 'the third request waiting for a token' });
    await flushMicrotasks();
    expect(seenPaths).to.have.length(2);
    await clock.advance(1_000);
    await sent[2];
    expect(seenPaths).to.have.length(3);
    client.close();
  });
});
