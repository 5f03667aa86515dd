// How much of the CPU the daemon may run on was idle lately, from the kernel's per-CPU counters in /proc/stat,
// for the warm pool: a refill that would find the cores busy waits. Only the CPUs this process may run on count
// (its affinity, as a cpuset sets it); a CPU quota is not seen here, so the pool never relies on this alone.
import { readFileSync } from 'node:fs';

/** Busy and total time of some CPUs, in the kernel's clock ticks (USER_HZ), and how many CPUs were counted. */
export interface CpuTicks {
  readonly busy: number;
  readonly total: number;
  readonly cpus: number;
}

// Pure: the CPU numbers of a list such as "0-3,8,10-11" (Cpus_allowed_list in /proc/<pid>/status).
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!range) continue;
    const first = Number(range[1]);
    for (let cpu = first; cpu <= Number(range[2] ?? first); cpu++) cpus.push(cpu);
  }
  return cpus;
}

// Pure: the busy and total ticks of the given CPUs (all of them when null) from /proc/stat's `cpuN` lines: idle
// and iowait are idle, the rest (user, nice, system, irq, softirq, steal) busy; guest time is already in user.
export function parseProcStat(text: string, cpus: readonly number[] | null): CpuTicks {
  let busy = 0;
  let total = 0;
  let counted = 0;
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line);
    if (!match || (cpus !== null && !cpus.includes(Number(match[1])))) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2].trim().split(/\s+/).map(Number);
    const lineBusy = user + nice + system + irq + softirq + (steal || 0);
    busy += lineBusy;
    total += lineBusy + idle + iowait;
    counted += 1;
  }
  return { busy, total, cpus: counted };
}

/** Where the meter reads its numbers (the real files unless a test says otherwise). */
export interface CpuIdleSources {
  readStat(): string;
  readAllowedCpus(): string | null;
}

/** A window longer than this many windowMs (no one asked for a while) is not measured over. */
const MAX_WINDOWS = 4;

const PROC_SOURCES: CpuIdleSources = {
  readStat: () => readFileSync('/proc/stat', 'utf8'),
  readAllowedCpus: () => /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? null,
};

// Idle cores over the last window of at least windowMs: one sample of /proc/stat per window (a synchronous read of
// a small kernel file, tens of microseconds), so a pool asking often costs nothing more.
export class CpuIdleMeter {
  private readonly cpus: readonly number[] | null;
  private last: { at: number; ticks: CpuTicks } | null = null;
  private measured: { from: number; idleCores: number } | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly sources: CpuIdleSources = PROC_SOURCES,
  ) {
    let cpus: number[] | null = null;
    try {
      const list = sources.readAllowedCpus();
      cpus = list === null ? null : parseCpuList(list);
    } catch {
      cpus = null;
    }
    this.cpus = cpus !== null && cpus.length > 0 ? cpus : null;
  }

  // The idle cores of the last whole window and when that window began, or null when there is none yet (or
  // /proc/stat cannot be read): the caller then decides without it.
  idle(nowMs: number): { readonly idleCores: number; readonly since: number } | null {
    if (this.last === null || nowMs - this.last.at >= this.windowMs) {
      let ticks: CpuTicks;
      try {
        ticks = parseProcStat(this.sources.readStat(), this.cpus);
      } catch {
        return null;
      }
      const previous = this.last;
      this.last = { at: nowMs, ticks };
      const elapsed = previous ? ticks.total - previous.ticks.total : 0;
      // A sample from long ago averages over a time that says little about now: it only starts a new window.
      if (previous && elapsed > 0 && nowMs - previous.at <= MAX_WINDOWS * this.windowMs) {
        const idleShare = 1 - (ticks.busy - previous.ticks.busy) / elapsed;
        this.measured = { from: previous.at, idleCores: Math.max(0, idleShare) * ticks.cpus };
      } else {
        this.measured = null;
      }
    }
    return this.measured ? { idleCores: this.measured.idleCores, since: this.measured.from } : null;
  }
}
