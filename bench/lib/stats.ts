// Samples and their summaries: medians and p95 of timings, and the loops that collect them.
import { performance } from 'node:perf_hooks';

export interface Summary {
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly count: number;
}

// The value below which a fraction q of the samples fall (nearest rank, no interpolation: small samples stay honest).
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// Median and p95 of a set of timings.
export function summarize(samplesMs: readonly number[]): Summary {
  return { medianMs: quantile(samplesMs, 0.5), p95Ms: quantile(samplesMs, 0.95), count: samplesMs.length };
}

// Milliseconds with the precision their size deserves.
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface TimeRunsOptions {
  readonly runs: number;
  /** Pause before each timed run: an agent's requests are seconds apart, and the pause lets a warm pool refill.
   * Applied to the baselines too, so that both sides see the same pacing. */
  readonly pauseMs: number;
  /** Untimed runs first (page cache, JIT, connection set-up). @default 3 */
  readonly warmups?: number;
}

// Times `run` options.runs times, each after options.pauseMs, after a few untimed warm-up runs.
export async function timeRuns(options: TimeRunsOptions, run: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < (options.warmups ?? 3); i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    if (options.pauseMs > 0) await sleep(options.pauseMs);
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  return samples;
}

export interface ConcurrentRun {
  readonly elapsedMs: number;
  readonly latenciesMs: number[];
  /** Completed runs per second over the whole batch. */
  readonly perSecond: number;
}

// Runs `run` `total` times with `inFlight` of them at once (each worker starts its next run as its last ends),
// timing the whole batch and each run.
export async function runConcurrently(total: number, inFlight: number, run: () => Promise<unknown>): Promise<ConcurrentRun> {
  const latenciesMs: number[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started += 1;
      const start = performance.now();
      await run();
      latenciesMs.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsedMs = performance.now() - start;
  return { elapsedMs, latenciesMs, perSecond: (total * 1000) / elapsedMs };
}
