/**
 * Measures the figures docs/testing.md reports: warm start time of the control plane (binaries cached, from
 * startControlPlane() to /readyz ok, the default namespace present and kube-controller-manager's first work
 * done) and the resident memory of etcd, kube-apiserver and kube-controller-manager once idle. Usage: npx tsx test/cluster/measure.ts [starts=3] [idleSeconds=60]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ensureControlPlaneBinaries, startControlPlane } from './harness.js';

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** CPU seconds (user + system) a process has used so far: a figure that, unlike wall time, load does not inflate. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const starts = Number(process.argv[2] ?? 3);
const idleSeconds = Number(process.argv[3] ?? 60);
await ensureControlPlaneBinaries();
const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');

for (let run = 1; run <= starts; run += 1) {
  const began = performance.now();
  const plane = await startControlPlane({ loadClient: false });
  const seconds = (performance.now() - began) / 1000;
  const cpu = cpuSeconds(plane.pids.etcd) + cpuSeconds(plane.pids.kubeApiserver);
  const controllerManagerCpu = cpuSeconds(plane.pids.kubeControllerManager);
  process.stdout.write(
    `start ${run}: ready in ${seconds.toFixed(1)} s; etcd + kube-apiserver used ${cpu.toFixed(1)} CPU s, kube-controller-manager ${controllerManagerCpu.toFixed(1)} CPU s to get there (load average ${load()})\n`,
  );
  if (run === starts) {
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const etcd = rssMiB(plane.pids.etcd);
    const apiserver = rssMiB(plane.pids.kubeApiserver);
    const controllerManager = rssMiB(plane.pids.kubeControllerManager);
    process.stdout.write(
      `RSS after ${idleSeconds} s idle: etcd ${etcd.toFixed(0)} MiB, kube-apiserver ${apiserver.toFixed(0)} MiB, kube-controller-manager ${controllerManager.toFixed(0)} MiB, together ${(etcd + apiserver + controllerManager).toFixed(0)} MiB\n`,
    );
  }
  await plane.stop();
}
