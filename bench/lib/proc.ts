// What /proc says about a process tree: its members, their memory, the CPU time they use. The bench finds the
// daemon's sandboxes this way (as its descendants) so it depends on no internal of the daemon: however the
// daemon builds a sandbox (bubblewrap per execution, a fork server), its processes are below the daemon.
import fs from 'node:fs';
import { sleep } from './stats.js';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (USER_HZ: 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime, in ms. */
  readonly cpuMs: number;
}

// One process's parent and CPU time, or null when it is gone (or not readable).
function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may hold spaces or parentheses itself: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { pid, ppid: Number(fields[1]), cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
}

// Every process on the machine that can be read.
function listProcesses(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

// The direct children of `rootPid`, each with all its descendants: one entry per child tree.
export function childTrees(rootPid: number): Array<{ readonly childPid: number; readonly pids: number[] }> {
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of listProcesses()) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const below = (pid: number): number[] => [pid, ...(children.get(pid) ?? []).flatMap(below)];
  return (children.get(rootPid) ?? []).map((childPid) => ({ childPid, pids: below(childPid) }));
}

// `rootPid` and all its descendants.
export function treePids(rootPid: number): number[] {
  return [rootPid, ...childTrees(rootPid).flatMap((tree) => tree.pids)];
}

export interface Memory {
  /** Resident set size: every page mapped, shared ones counted in full in each process. */
  readonly rssBytes: number;
  /** Proportional set size: shared pages divided among the processes sharing them (what adding one costs). */
  readonly pssBytes: number;
}

// Reads a "Name:   1234 kB" field of a /proc file, in bytes; 0 when the file or field is missing.
function readKbField(file: string, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// The summed RSS and PSS of some processes (those that have gone count 0).
export function memoryOf(pids: readonly number[]): Memory {
  let rssBytes = 0;
  let pssBytes = 0;
  for (const pid of pids) {
    rssBytes += readKbField(`/proc/${pid}/status`, 'VmRSS');
    pssBytes += readKbField(`/proc/${pid}/smaps_rollup`, 'Pss');
  }
  return { rssBytes, pssBytes };
}

// The argv of a process, joined with spaces ('' when it is gone).
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

// CPU ms used so far by a tree: its processes alive now (the CPU of those that have exited is not counted,
// which is why quietness is judged over short windows).
function treeCpuMs(rootPid: number): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const pid of treePids(rootPid)) {
    const stat = readStat(pid);
    if (stat) cpu.set(pid, stat.cpuMs);
  }
  return cpu;
}

export interface QuietOptions {
  /** Length of one observation window. @default 500 */
  readonly windowMs?: number;
  /** CPU the tree may use in a window and still count as quiet (an idle daemon's timers, a ping). @default 20 */
  readonly maxCpuMs?: number;
  /** Give up after this long. @default 30000 */
  readonly capMs?: number;
}

// Waits until a process tree has used almost no CPU for a whole window: the daemon's warm sandboxes have finished
// starting and preloading. Answers how long that took, or null when the tree was still busy at the cap.
export async function waitForQuiet(rootPid: number, options: QuietOptions = {}): Promise<number | null> {
  const windowMs = options.windowMs ?? 500;
  const maxCpuMs = options.maxCpuMs ?? 20;
  const capMs = options.capMs ?? 30_000;
  const start = Date.now();
  while (Date.now() - start < capMs) {
    const before = treeCpuMs(rootPid);
    await sleep(windowMs);
    const after = treeCpuMs(rootPid);
    // A process that appeared during the window counts from 0: new processes are work.
    let usedMs = 0;
    for (const [pid, cpuMs] of after) usedMs += cpuMs - (before.get(pid) ?? 0);
    if (usedMs <= maxCpuMs) return Date.now() - start;
  }
  return null;
}

// CPU time (user and system) a process has used so far, in ms; 0 when it is gone.
export function cpuTimeMsOf(pid: number): number {
  return readStat(pid)?.cpuMs ?? 0;
}

// CPU time every process on the host has used so far (user, nice, system, irq, softirq, steal), in ms.
export function hostCpuTimeMs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = line;
  return ((user + nice + system + irq + softirq + steal) * 1000) / TICKS_PER_SECOND;
}
