// What differs between cgroup v1 and v2 sits behind two interfaces, implemented once per version (v1.ts, v2.ts):
// a CgroupTree, the hierarchy the sandboxes' groups live in, and an ExecutionCgroup, one sandbox's group. The
// kernel-file work both versions do alike (writing settings, reading counters, moving processes in, draining and
// removing a group) is written here, once.
import { rmdirSync } from 'node:fs';
import path from 'node:path';
import type { CgroupController, CgroupLayout } from '../cgroup-layout.js';
import { readKernelFile, writeKernelFile, writeKernelFileInPool } from '../kernel-files.js';
import { signalProcess } from '../spawn.js';
import { retryWhileOutOfDescriptors } from '../../descriptors.js';

/** The parent group, in each hierarchy, of every sandbox's group. */
export const CGROUP_PARENT = 'runbox';
/** The CFS period a CPU quota is a share of. */
export const CPU_PERIOD_US = 100_000;
/** How long removing a group waits for its processes to be gone, and for the kernel to let it go. */
const DRAIN_TIMEOUT_MS = 5_000;
/** How long removing a group waits before it kills what is still in it. */
const KILL_AFTER_MS = 200;

/** The counters of a group Runbox reads. */
export type CounterName = 'cpuTime' | 'oomKills' | 'forkFailures' | 'memoryInUse';

/** Where a counter lives: the controller whose directory holds the file, the file, the key of its line (null for
 * a file holding one number), and what to divide by for milliseconds (1 for a count or bytes). */
export interface CounterFile {
  readonly controller: CgroupController;
  readonly file: string;
  readonly key: string | null;
  readonly divisor: number;
}

/** A control file written in the directory of a controller; `optional`: some kernels lack it (then skipped). */
export interface ControlWrite {
  readonly controller: CgroupController;
  readonly file: string;
  readonly value: string;
  readonly optional?: boolean;
  /** The kernel may hold the write for a while (a memory limit: it reclaims down to it first): it is made on
   * the thread pool (kernel-files.ts). */
  readonly mayBlock?: boolean;
}

/** One version's cgroup hierarchy: the parent of the sandboxes' groups, and each group. */
export interface CgroupTree {
  readonly layout: CgroupLayout;
  /** Makes the parent in each hierarchy (v2: and hands the controllers down to its children). */
  prepare(): Promise<void>;
  /** The parent's directory in each hierarchy. */
  parentDirs(): string[];
  /** The group called `name` under the parent; nothing is made before its create(). */
  group(name: string): ExecutionCgroup;
}

/** One sandbox's group, in each hierarchy of its tree. */
export interface ExecutionCgroup {
  readonly name: string;
  /** Makes the group, with a CPU quota of cpuCores (none when null) and no swap. */
  create(cpuCores: number | null): Promise<void>;
  /** Memory of all its processes together, swap included; MemoryInUseError when it already holds more (v1). */
  setMemoryLimit(bytes: number): Promise<void>;
  /** Processes and threads together. */
  setProcessLimit(count: number): Promise<void>;
  /** Moves a process, with all its threads, in (in every hierarchy); one that already exited is skipped. */
  addProcess(pid: number): Promise<void>;
  /** The pids in the group in every hierarchy. */
  processes(): Promise<Set<number>>;
  /** A counter (cpuTime in ms); 0 when it cannot be read. */
  readCounter(counter: CounterName): Promise<number>;
  /** SIGKILLs every process in the group. */
  killAll(): Promise<void>;
  /** Asks the kernel to stop every process in the group; false when this host has no freezer for it. */
  requestFreeze(): Promise<boolean>;
  /** True once every process in the group is stopped (none of them can run until thawed). */
  isFrozen(): Promise<boolean>;
  /** Lets the group's processes run again (killed ones then die). */
  thaw(): Promise<void>;
  /** Removes the group once its processes are gone (killing any left after a short wait; a frozen group's at
   * once, then thawed so they die). Safe to call twice. */
  remove(): Promise<void>;
}

/** Lowering memoryBytes below what the sandbox already holds (modules a warm sandbox preloaded). */
export class MemoryInUseError extends Error {
  constructor(readonly inUseBytes: number, readonly limitBytes: number) {
    super(`the sandbox already holds ${inUseBytes} bytes, more than memoryBytes (${limitBytes} bytes)`);
    this.name = 'MemoryInUseError';
  }
}

// Pure: a CPU quota of cores, in microseconds per CPU_PERIOD_US.
export function cpuQuotaUs(cores: number): number {
  return Math.round(cores * CPU_PERIOD_US);
}

// Pure: a counter's value from the text of its file; 0 when the text holds none.
export function parseCounter(text: string, counter: CounterFile): number {
  const raw = counter.key === null ? Number(text.trim()) || 0 : readKeyedCounter(text, counter.key);
  return raw / counter.divisor;
}

// Pure: a number from a "key value" per line file (memory.events, pids.events, cpu.stat, memory.oom_control); 0 when absent.
export function readKeyedCounter(text: string, key: string): number {
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === key) {
      const number = Number(value);
      return Number.isFinite(number) ? number : 0;
    }
  }
  return 0;
}

// Reads a counter from the directory of its controller; 0 when the file cannot be read.
export async function readCounterIn(dir: string, counter: CounterFile): Promise<number> {
  return parseCounter(await readKernelFile(path.join(dir, counter.file)).catch(() => ''), counter);
}

// Writes control files in order, each in the directory of its controller; an optional one this kernel lacks is skipped.
export async function applyControlWrites(dirOf: (controller: CgroupController) => string, writes: readonly ControlWrite[]): Promise<void> {
  for (const write of writes) {
    const file = path.join(dirOf(write.controller), write.file);
    if (write.optional) await writeIfPresent(file, write.value);
    else await (write.mayBlock ? writeKernelFileInPool : writeKernelFile)(file, write.value);
  }
}

// Writes a pid to cgroup.procs in each directory (which moves every thread of the process); a process that
// already exited is skipped. On the thread pool: the kernel holds a move for an RCU grace period.
export async function moveProcess(dirs: readonly string[], pid: number): Promise<void> {
  await Promise.all(
    dirs.map((dir) =>
      writeKernelFileInPool(path.join(dir, 'cgroup.procs'), String(pid)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ESRCH') throw error;
      }),
    ),
  );
}

// The pids listed in cgroup.procs of every one of the directories.
export async function processesIn(dirs: readonly string[]): Promise<Set<number>> {
  const lists = await Promise.all(dirs.map(async (dir) => parsePids(await readKernelFile(path.join(dir, 'cgroup.procs')))));
  return new Set(lists[0].filter((pid) => lists.every((list) => list.includes(pid))));
}

// SIGKILLs each process listed in cgroup.procs of the directories (a group that is gone holds none).
export async function killListed(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    const procs = await readKernelFile(path.join(dir, 'cgroup.procs')).catch(() => '');
    for (const pid of parsePids(procs)) signalProcess(pid, 'SIGKILL');
  }
}

/** Looks at a freeze that did not take at once this many times, each after a pause of FREEZE_PAUSE_MS. */
const FREEZE_PAUSES = 4;
const FREEZE_PAUSE_MS = 0.1;
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

// Stops every process of a group with its freezer and waits until the kernel says all are stopped: true then,
// false when the group has no freezer or did not freeze within timeoutMs (it is thawed again: a process stuck in
// the kernel cannot be frozen, and the caller falls back to waiting for the processes to end).
// A group that cannot be written to or read (removed meanwhile) counts as not frozen.
// A freeze that did not take at once is most often one process runnable but without a CPU: the code's, which the
// daemon preempted when its `done` woke it. It freezes as soon as it runs, so the daemon gives up its CPU for
// 0.1 ms (a futex wait: the event loop is held that long, a few times at most), where a timer would sleep ≥ 1 ms
// and an immediate would keep the CPU. Medians, 30 trivial Python executions 150 ms apart, a scratch loop:
// done → frozen 1.0–1.8 ms with timers, 0.8–0.9 ms with these pauses.
export async function freezeGroup(group: Pick<ExecutionCgroup, 'requestFreeze' | 'isFrozen' | 'thaw'>, timeoutMs: number): Promise<boolean> {
  try {
    if (!(await group.requestFreeze())) return false;
    const deadline = performance.now() + timeoutMs;
    let frozen = await group.isFrozen();
    for (let pauses = 0; !frozen && pauses < FREEZE_PAUSES; pauses++) {
      Atomics.wait(pauseCell, 0, 0, FREEZE_PAUSE_MS);
      frozen = await group.isFrozen();
    }
    for (let delayMs = 1; !frozen && performance.now() <= deadline; delayMs = Math.min(delayMs * 2, 20)) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      frozen = await group.isFrozen();
    }
    if (frozen) return true;
  } catch {
    // the thaw below undoes a request that went through
  }
  // A group left frozen here would hold its processes forever (a kill waits for the thaw): the thaw is tried
  // again while the daemon is out of descriptors, which is when a read of the group fails.
  await retryWhileOutOfDescriptors(() => group.thaw()).catch(() => undefined);
  return false;
}

// Before a frozen group is removed: its processes are killed while frozen (none can run again, or fork), then
// thawed, so that they die without returning to the code.
export async function killIfFrozen(group: Pick<ExecutionCgroup, 'isFrozen' | 'killAll' | 'thaw'>): Promise<void> {
  if (!(await group.isFrozen().catch(() => false))) return;
  await group.killAll();
  await group.thaw();
}

// Waits for a group's directory to hold no process (calling killAll while some are still there after a moment),
// then removes it.
export async function removeGroupDir(dir: string, killAll: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  const killAt = Date.now() + KILL_AFTER_MS;
  for (let delayMs = 5; ; delayMs = Math.min(delayMs * 2, 100)) {
    const procs = await readKernelFile(path.join(dir, 'cgroup.procs')).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? null : ''));
    if (procs === null) return;
    const pids = parsePids(procs);
    if (pids.length === 0) {
      try {
        // Synchronously: removing an empty group takes 20–40 µs (kernel-files.ts says why that beats the pool).
        rmdirSync(dir);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || Date.now() > deadline) throw error;
      }
    } else if (Date.now() > deadline) {
      throw new Error(`cgroup ${dir} still holds processes ${pids.join(', ')} after ${DRAIN_TIMEOUT_MS} ms`);
    } else if (Date.now() >= killAt) {
      await killAll();
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

// Writes a control file that only some kernels have; false when it does not exist.
export async function writeIfPresent(file: string, value: string): Promise<boolean> {
  try {
    await writeKernelFile(file, value);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function parsePids(procs: string): number[] {
  return procs.split('\n').filter(Boolean).map(Number);
}
