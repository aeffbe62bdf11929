/**
 * One real control plane per test process, shared by every test file that needs Kubernetes: started on the
 * first call (building the binaries first if the cache lacks them), stopped when the process exits, whether
 * mocha ended normally, a test failed, or the run was interrupted (see test/cluster/harness.ts).
 *
 * Tests share it, so each test works in namespaces of its own (uniqueName below). kube-controller-manager
 * runs in it, so deleted namespaces do go and owned objects are collected; a test that deletes something
 * shared (a namespace others use, a CRD) must put it back.
 */
import { randomBytes } from 'node:crypto';
import { startControlPlane, type ControlPlane } from '../cluster/harness.js';

export type { ControlPlane } from '../cluster/harness.js';

let shared: Promise<ControlPlane> | undefined;

/** One control plane per test process, started on first call, stopped when mocha ends or the process exits. */
export function sharedControlPlane(): Promise<ControlPlane> {
  if (!shared) {
    shared = startControlPlane();
    // A failed start is reported to every caller, and the next call tries again.
    shared.catch(() => {
      shared = undefined;
    });
  }
  return shared;
}

/** A DNS-1123 name unique to this run, for namespaces and other objects tests create: `<prefix>-<8 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * A mocha `this.timeout` large enough for the first test that starts the control plane: a warm start takes
 * seconds, but a cold cache means building kube-apiserver first (minutes on two cores).
 */
export const CONTROL_PLANE_START_TIMEOUT_MS = 30 * 60 * 1000;
