// What every section gets: the daemon under test, the machine's facts, the Jupyter peer (or why it is missing),
// the sample size, the board the targets go on, and memos for baselines that several sections share.
import type { DaemonProcess } from '../lib/daemon-process.js';
import type { BenchHost } from '../lib/host.js';
import { waitForQuiet } from '../lib/proc.js';
import type { TargetBoard } from '../lib/report.js';
import type { JupyterKernel } from '../peers/jupyter.js';

export interface BenchContext {
  readonly host: BenchHost;
  readonly daemon: DaemonProcess;
  /** BENCH_RUNS: timed runs per latency series. */
  readonly runs: number;
  readonly targets: TargetBoard;
  /** The warm kernel, or null with the reason in jupyterMissing. */
  readonly jupyter: JupyterKernel | null;
  readonly jupyterMissing: string | null;
  /** A directory of the bench's own, removed at the end. */
  readonly scratchDir: string;
  readonly memo: Memo;
  /** Figures one section leaves for another (the daemon's RSS right after the throughput run). */
  readonly figures: Map<string, number>;
}

// Computes each keyed value once per run (a baseline two sections compare with).
export class Memo {
  private readonly values = new Map<string, Promise<unknown>>();

  get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    if (!this.values.has(key)) this.values.set(key, compute());
    return this.values.get(key) as Promise<T>;
  }
}

// Waits until the daemon and its sandboxes are idle (warm sandboxes started and preloaded), so that a series
// starts from the same state and a baseline is not slowed by a pool refilling in the background. Answers a note
// when it never settled.
export async function settle(context: BenchContext): Promise<string> {
  const waitedMs = await waitForQuiet(context.daemon.pid);
  return waitedMs === null ? '(the daemon was still busy after 30 s)' : '';
}
