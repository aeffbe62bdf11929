/**
 * The Kubernetes side breaks: the operator's connections to kube-apiserver are cut (through a TCP proxy
 * between the operator and the server, so watches die mid-stream), and kube-apiserver itself restarts
 * (SIGTERM and SIGKILL; harness restartApiServer()). Each time a spec change is made right away, and the
 * operator must act on it within seconds without missing it: the resource reaches Ready/InSync for the
 * new generation and the phones are on the new route.
 */
import net from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { expect } from 'chai';
import { CONTROL_PLANE_START_TIMEOUT_MS } from '../support/control-plane.js';
import type { OperatorProcess } from '../support/operator-process.js';
import { freshNamespace } from '../support/routes.js';
import { waitFor } from '../support/wait.js';
import { chaosOperator, chaosWorld, dumpOnFailure, figure, type ChaosWorld } from './chaos-support.js';

/** A loopback TCP proxy whose connections can all be cut at once. */
async function cuttableProxy(target: URL): Promise<{ port: number; cut: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      const n = sockets.size / 2;
      for (const socket of [...sockets]) socket.resetAndDestroy();
      sockets.clear();
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('chaos: kube-apiserver restarts and cut watches', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let world: ChaosWorld;
  let operator: OperatorProcess | undefined;
  let proxy: Awaited<ReturnType<typeof cuttableProxy>> | undefined;
  let namespace: string;

  before(async () => {
    world = await chaosWorld({ seed: 83, jobMs: 300 });
    proxy = await cuttableProxy(new URL(world.cp.server));
    const kubeconfig = (await readFile(world.cp.kubeconfigPath, 'utf8')).replace(
      world.cp.server,
      `https://127.0.0.1:${proxy.port}`,
    );
    const kubeconfigPath = `${world.cp.kubeconfigPath}.via-proxy`;
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
    namespace = await freshNamespace(world.kc, 'apiserver');
    operator = await chaosOperator(world, { kubeconfigPath, namespaces: [namespace] });
  });

  after(async () => {
    await operator?.stop();
    await proxy?.close();
    await world?.close();
  });

  afterEach(function () {
    dumpOnFailure(this, () => [operator]);
  });

  it('acts on spec changes made right after its connections are cut or kube-apiserver restarts', async () => {
    const phoneIds = world.takePhones(10);
    await world.routes.create(namespace, 'flip', { trafficType: 'routing', phoneIds });
    await world.routes.waitForCondition(namespace, 'flip', 'Ready', 'True', 'InSync');
    const events: Array<{ fault: string; seconds: number }> = [];
    const faults: Array<{ name: string; inject: () => Promise<void> }> = [
      ...Array.from({ length: 5 }, (_, i) => ({ name: `cut ${i + 1}`, inject: async () => void proxy!.cut() })),
      { name: 'apiserver SIGTERM', inject: () => world.cp.restartApiServer({ signal: 'SIGTERM' }) },
      { name: 'apiserver SIGKILL', inject: () => world.cp.restartApiServer({ signal: 'SIGKILL' }) },
      {
        name: 'apiserver SIGKILL + cut',
        inject: async () => {
          await world.cp.restartApiServer({ signal: 'SIGKILL' });
          proxy!.cut();
        },
      },
    ];
    let trafficType: 'routing' | 'direct' = 'routing';
    for (const fault of faults) {
      await fault.inject();
      trafficType = trafficType === 'routing' ? 'direct' : 'routing';
      // The spec changes at once, while the operator is still reconnecting.
      const changedAt = Date.now();
      const patched = await waitFor(() => world.routes.patchSpec(namespace, 'flip', { trafficType }), {
        timeoutMs: 30_000,
        what: 'the spec patch accepted',
      });
      await waitFor(
        async () => {
          const route = await world.routes.get(namespace, 'flip');
          const ready = route?.status?.conditions?.find((c) => c.type === 'Ready');
          return (
            route?.status?.observedGeneration === patched.metadata.generation &&
            ready?.status === 'True' &&
            ready.reason === 'InSync'
          );
        },
        { timeoutMs: 60_000, what: `Ready for generation ${patched.metadata.generation} after ${fault.name}` },
      );
      events.push({ fault: fault.name, seconds: (Date.now() - changedAt) / 1000 });
      for (const id of phoneIds)
        expect((await world.admin.phone(id)).traffic_type, `${id} after ${fault.name}`).to.equal(trafficType);
    }
    expect(operator!.child.exitCode).to.equal(null);
    figure(
      `kube-apiserver: ${events.length} faults (5 cuts of every operator connection, 3 kube-apiserver restarts), 0 spec changes missed; spec change to Ready: ${events.map((e) => `${e.fault} ${e.seconds.toFixed(1)} s`).join(', ')}`,
    );
  });
});
