// Watches the CPU time of a running execution's whole sandbox (every process, every thread, as its cgroup counts
// it) against cpuTimeMs: checked more often as the remainder shrinks, and reported once when it is over.

/** The CPU time is checked at least this often while code runs... */
export const MAX_CPU_CHECK_MS = 250;
/** ...and at most this often. */
export const MIN_CPU_CHECK_MS = 20;

// How long to wait before the next check: at most `cores` ms of CPU time pass per ms of wall time, so the next
// check comes before the remainder can run out (within MIN_CPU_CHECK_MS and MAX_CPU_CHECK_MS).
export function nextCpuCheckDelayMs(cpuTimeMs: number, usedMs: number, cores: number): number {
  return Math.min(MAX_CPU_CHECK_MS, Math.max(MIN_CPU_CHECK_MS, (cpuTimeMs - usedMs) / cores));
}

/** What one watch checks, against what, and whom it tells. */
export interface CpuWatchOptions {
  /** The CPU time the code may use, in ms. */
  readonly cpuTimeMs: number;
  /** CPU cores the code may use at once (its quota, or the machine's). */
  readonly cores: number;
  /** The CPU time used so far, in ms; null when it cannot be read (the watch then ends). */
  readCpuTimeMs(): Promise<number | null>;
  /** Called once, when the CPU time used is over cpuTimeMs; the watch has ended by then. */
  onOver(usedMs: number): void;
}

// A watch with a lifecycle: start() when the code starts, stop() when it ends or is stopped for another reason.
export class CpuWatch {
  private timer: NodeJS.Timeout | undefined;
  private watching = false;

  constructor(private readonly options: CpuWatchOptions) {}

  // Starts checking; the first check comes as if nothing had been used yet.
  start(): void {
    if (this.watching) return;
    this.watching = true;
    this.schedule(0);
  }

  // Stops checking; a check under way reports nothing.
  stop(): void {
    this.watching = false;
    clearTimeout(this.timer);
  }

  private schedule(usedMs: number): void {
    const { cpuTimeMs, cores } = this.options;
    this.timer = setTimeout(() => void this.check(), nextCpuCheckDelayMs(cpuTimeMs, usedMs, cores));
  }

  private async check(): Promise<void> {
    const usedMs = await this.options.readCpuTimeMs().catch(() => null);
    if (usedMs === null || !this.watching) return;
    if (usedMs > this.options.cpuTimeMs) {
      this.stop();
      this.options.onOver(usedMs);
    } else this.schedule(usedMs);
  }
}
