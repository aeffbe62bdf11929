/**
 * Route-change jobs. A job is created running, ends at begin + jobMs, and then succeeds or fails by a
 * seeded draw keyed on the phone and its job count. Nothing runs in the background: before every request
 * the simulator settles the jobs that are due by its clock (a min-heap by end time), so a fake clock
 * drives job timing exactly and a real one costs no timers.
 */
import type { JobStatus, TrafficType } from '../cph/wire.js';

export interface SimJob {
  readonly jobId: string;
  readonly requestId: string;
  readonly phoneId: string;
  readonly serverId: string;
  readonly trafficType: TrafficType;
  readonly beginTime: number;
  readonly dueTime: number;
  /** Decided at creation from the seed, revealed at dueTime. */
  readonly willFail: boolean;
  /** A repeat of the phone's current route. */
  readonly repeat: boolean;
  status: JobStatus;
  endTime?: number;
  errorCode?: string;
  errorMsg?: string;
  executeMsg?: string;
}

/** Binary min-heap of jobs by dueTime. */
export class DueQueue {
  private readonly heap: SimJob[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(job: SimJob): void {
    const heap = this.heap;
    heap.push(job);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as SimJob).dueTime <= job.dueTime) break;
      heap[i] = heap[parent] as SimJob;
      i = parent;
    }
    heap[i] = job;
  }

  /** Removes and returns the earliest job if it is due at `now`. */
  popDue(now: number): SimJob | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (!top || top.dueTime > now) return undefined;
    const last = heap.pop() as SimJob;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        let best = last.dueTime;
        if (left < heap.length && (heap[left] as SimJob).dueTime < best) {
          smallest = left;
          best = (heap[left] as SimJob).dueTime;
        }
        if (right < heap.length && (heap[right] as SimJob).dueTime < best) smallest = right;
        if (smallest === i) break;
        heap[i] = heap[smallest] as SimJob;
        i = smallest;
      }
      heap[i] = last;
    }
    return top;
  }
}

/**
 * Jobs by ID and by request ID. Bounded: past `maxJobs`, the oldest requests whose jobs have all ended are
 * forgotten (their jobs then read as not found, as expired jobs would), so long benchmarks stay small.
 */
export class JobStore {
  private readonly byId = new Map<string, SimJob>();
  private readonly byRequest = new Map<string, SimJob[]>();
  readonly due = new DueQueue();
  /** Jobs ever created (not reduced by eviction). */
  created = 0;
  evicted = 0;

  constructor(private readonly maxJobs = 1_000_000) {}

  add(job: SimJob): void {
    this.byId.set(job.jobId, job);
    this.created++;
    const list = this.byRequest.get(job.requestId);
    if (list) list.push(job);
    else this.byRequest.set(job.requestId, [job]);
    if (job.status === 1) this.due.push(job);
    if (this.byId.size > this.maxJobs) this.evict();
  }

  private evict(): void {
    const target = Math.floor(this.maxJobs * 0.9);
    for (const [requestId, jobs] of this.byRequest) {
      if (this.byId.size <= target) break;
      if (jobs.some((job) => job.status === 1)) continue;
      for (const job of jobs) this.byId.delete(job.jobId);
      this.byRequest.delete(requestId);
      this.evicted += jobs.length;
    }
  }

  get(jobId: string): SimJob | undefined {
    return this.byId.get(jobId);
  }

  forRequest(requestId: string): readonly SimJob[] {
    return this.byRequest.get(requestId) ?? [];
  }

  get size(): number {
    return this.byId.size;
  }
}
