// Limits the kernel enforces on each sandbox, through cgroups: memory with no swap, processes and threads,
// a CPU quota, and CPU time accounting. Uses cgroup v2 when it offers memory, pids and cpu, else the v1
// controllers. Each sandbox gets its own group under a shared `runbox` parent, named
// `<daemon pid>-<its start time>-<random tag>-<n>`, so a daemon can sweep the groups of one that was killed.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { chooseCgroupLayout, COUNTER_FILES, hierarchyDirs, parseCgroupMounts, readKeyedCounter, V2_REQUIRED, type CgroupController, type CgroupLayout } from './cgroup-layout.js';
import { readKernelFile, writeKernelFile } from './kernel-files.js';
import { listProcessTree, readStartTime } from './process-tree.js';

/** The parent group, in each hierarchy, of every sandbox's group. */
export const CGROUP_PARENT = 'runbox';
const CPU_PERIOD_US = 100_000;
/** `<daemon pid>-<its start time in clock ticks>-<random tag of one SandboxCgroups>-<n>` */
const GROUP_NAME = /^(\d+)-(\d+)-[0-9a-f]+-\d+$/;
/** How long removing a group waits for its processes to be gone, and for the kernel to let it go. */
const DRAIN_TIMEOUT_MS = 5_000;
const KILL_AFTER_MS = 200;

export interface GroupLimits {
  readonly memoryBytes: number;
  readonly maxProcesses: number;
}

/** What the kernel counted for one group (cumulative since it was made). */
export interface CgroupCounters {
  readonly cpuTimeMs: number;
  readonly oomKills: number;
  readonly forkFailures: number;
}

/** Lowering memoryBytes below what the sandbox already holds (modules a warm sandbox preloaded). */
export class MemoryInUseError extends Error {
  constructor(readonly inUseBytes: number, readonly limitBytes: number) {
    super(`the sandbox already holds ${inUseBytes} bytes, more than memoryBytes (${limitBytes} bytes)`);
    this.name = 'MemoryInUseError';
  }
}

export interface CgroupOptions {
  /** CPU cores each sandbox may use at once (a CFS quota); null for no quota. @default 1 */
  readonly cpuCores?: number | null;
  /** The text of /proc/self/mountinfo. @default read from /proc */
  readonly mountinfo?: string;
}

// Finds the hierarchy to use, or says why there is none (not mounted, controllers missing).
export async function detectCgroupLayout(mountinfo?: string): Promise<CgroupLayout | string> {
  const text = mountinfo ?? (await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => ''));
  const mounts = parseCgroupMounts(text);
  const v2Controllers = mounts.v2 ? (await fs.readFile(path.join(mounts.v2, 'cgroup.controllers'), 'utf8').catch(() => '')).trim().split(/\s+/) : [];
  return chooseCgroupLayout(mounts, v2Controllers);
}

// At daemon start: detects and proves the cgroup setup, sweeps the groups of daemons that died, and logs one
// warning when there are no kernel limits (the daemon then runs without them). Null when unusable.
export async function setUpCgroups(logger: Logger, options: CgroupOptions = {}): Promise<SandboxCgroups | null> {
  const { cgroups, problem } = await SandboxCgroups.setUp(options);
  if (!cgroups) {
    logger.warn({ problem }, 'cgroups are not usable: executions run WITHOUT kernel limits on memory, processes and CPU time');
    return null;
  }
  const swept = await sweepStaleCgroups(cgroups.layout).catch((error: Error) => {
    logger.error({ err: error }, 'could not sweep the cgroups of a daemon that died');
    return [];
  });
  logger.info({ version: cgroups.layout.version, cpuCores: cgroups.cpuCores, swept: swept.length }, 'sandbox cgroups ready');
  return cgroups;
}

// The daemon's groups: makes one per sandbox. One instance per daemon.
export class SandboxCgroups {
  private readonly tag = `${readStartTime(process.pid) ?? 0}-${randomBytes(3).toString('hex')}`;
  private count = 0;

  private constructor(readonly layout: CgroupLayout, readonly cpuCores: number | null) {}

  // Detects the cgroup setup and proves it works by making, limiting and removing a group. `problem` says
  // why cgroups cannot be used (not root, read-only, controllers missing); the daemon then runs without.
  static async setUp(options: CgroupOptions = {}): Promise<{ cgroups: SandboxCgroups | null; problem: string | null }> {
    const layout = await detectCgroupLayout(options.mountinfo);
    if (typeof layout === 'string') return { cgroups: null, problem: layout };
    const cgroups = new SandboxCgroups(layout, options.cpuCores === undefined ? 1 : options.cpuCores);
    try {
      await ensureParent(layout);
      const probe = await cgroups.create({ memoryBytes: 64 * 1024 * 1024, maxProcesses: 8 });
      await probe.remove();
      return { cgroups, problem: null };
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'EACCES' || (error as NodeJS.ErrnoException).code === 'EROFS' ? ' (the daemon must run as root with a writable cgroup file system)' : '';
      return { cgroups: null, problem: `cannot make cgroups under ${layout.memory}: ${(error as Error).message}${reason}` };
    }
  }

  /** Group names of this daemon start with this. */
  get namePrefix(): string {
    return `${process.pid}-${this.tag}-`;
  }

  // A new group with the given limits, a CPU quota and no swap; empty until adoptTree() moves processes in.
  async create(limits: GroupLimits): Promise<SandboxCgroup> {
    const group = new SandboxCgroup(this.layout, `${this.namePrefix}${++this.count}`, this.cpuCores);
    try {
      await group.make();
      await group.setLimits(limits);
    } catch (error) {
      await group.remove().catch(() => undefined);
      throw error;
    }
    return group;
  }
}

// One sandbox's group, in each hierarchy of the layout.
export class SandboxCgroup {
  /** The limits written so far. */
  private limits: GroupLimits | null = null;

  constructor(private readonly layout: CgroupLayout, readonly name: string, readonly cpuCores: number | null) {}

  private dir(controller: CgroupController): string {
    return path.join(this.layout[controller] as string, CGROUP_PARENT, this.name);
  }

  private dirs(): string[] {
    return hierarchyDirs(this.layout).map((root) => path.join(root, CGROUP_PARENT, this.name));
  }

  // Makes the group's directory in each hierarchy, with the CPU quota and no swap.
  async make(): Promise<void> {
    await Promise.all(this.dirs().map((dir) => fs.mkdir(dir)));
    const memory = this.dir('memory');
    const cpu = this.layout.cpu && this.cpuCores ? this.dir('cpu') : null;
    const quotaUs = Math.round((this.cpuCores ?? 0) * CPU_PERIOD_US);
    if (this.layout.version === 'v2') {
      await Promise.all([
        writeIfPresent(path.join(memory, 'memory.swap.max'), '0'),
        // An OOM kill takes the whole sandbox, not one process the code could carry on without.
        writeIfPresent(path.join(memory, 'memory.oom.group'), '1'),
        cpu ? writeKernelFile(path.join(cpu, 'cpu.max'), `${quotaUs} ${CPU_PERIOD_US}`) : undefined,
      ]);
      return;
    }
    const setCpuQuota = async (dir: string) => {
      await writeKernelFile(path.join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      await writeKernelFile(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
    };
    const avoidSwap = async () => {
      // Without swap accounting (no memsw files), at least ask the kernel not to swap this group out.
      if (!(await exists(path.join(memory, 'memory.memsw.limit_in_bytes')))) await writeIfPresent(path.join(memory, 'memory.swappiness'), '0');
    };
    await Promise.all([avoidSwap(), cpu ? setCpuQuota(cpu) : undefined]);
  }

  // Sets the memory (swap included) and process limits; a limit already set is not written again. Throws
  // MemoryInUseError when the group already holds more memory than the new limit (v2 would OOM-kill it; v1
  // refuses with EBUSY).
  async setLimits(limits: GroupLimits): Promise<void> {
    const setMemory = async () => {
      if (limits.memoryBytes === this.limits?.memoryBytes) return;
      const inUse = await this.readCounter('memoryInUse');
      if (inUse >= limits.memoryBytes) throw new MemoryInUseError(inUse, limits.memoryBytes);
      const memory = this.dir('memory');
      if (this.layout.version === 'v2') await writeKernelFile(path.join(memory, 'memory.max'), String(limits.memoryBytes));
      else await this.setV1Memory(memory, limits.memoryBytes);
    };
    const setProcesses = async () => {
      if (limits.maxProcesses !== this.limits?.maxProcesses) await writeKernelFile(path.join(this.dir('pids'), 'pids.max'), String(limits.maxProcesses));
    };
    await Promise.all([setMemory(), setProcesses()]);
    this.limits = { memoryBytes: limits.memoryBytes, maxProcesses: limits.maxProcesses };
  }

  // v1 needs memsw ≥ memory at every moment: lowering writes memory first, raising writes memsw first.
  private async setV1Memory(memory: string, bytes: number): Promise<void> {
    const memsw = path.join(memory, 'memory.memsw.limit_in_bytes');
    const hasMemsw = await exists(memsw);
    try {
      await writeKernelFile(path.join(memory, 'memory.limit_in_bytes'), String(bytes));
      if (hasMemsw) await writeKernelFile(memsw, String(bytes));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EBUSY') throw new MemoryInUseError(await this.readCounter('memoryInUse'), bytes);
      if (code !== 'EINVAL' || !hasMemsw) throw error;
      await writeKernelFile(memsw, String(bytes));
      await writeKernelFile(path.join(memory, 'memory.limit_in_bytes'), String(bytes));
    }
  }

  // Makes sure rootPid and every descendant is in the group in every hierarchy: walks the tree, moves what is
  // outside, and walks again until a walk finds every process inside (so one forked meanwhile is not missed).
  // Moving can be slow (the kernel may wait for an RCU grace period), so what is inside is not moved again.
  async adoptTree(rootPid: number, maxRounds = 10): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      const [tree, members] = await Promise.all([listProcessTree(rootPid), this.members()]);
      const outside = tree.filter((pid) => !members.has(pid));
      if (outside.length === 0) return;
      for (const pid of outside) await Promise.all(this.dirs().map((dir) => movePid(dir, pid)));
    }
    throw new Error(`the process tree of pid ${rootPid} kept changing while it was moved into its cgroup`);
  }

  // The pids that are in the group in every hierarchy.
  private async members(): Promise<Set<number>> {
    const lists = await Promise.all(this.dirs().map(async (dir) => (await readKernelFile(path.join(dir, 'cgroup.procs'))).split('\n').filter(Boolean).map(Number)));
    return new Set(lists[0].filter((pid) => lists.every((list) => list.includes(pid))));
  }

  // The kernel's counters for this group. A counter that cannot be read counts as 0.
  async readCounters(): Promise<CgroupCounters> {
    const [cpuTimeMs, oomKills, forkFailures] = await Promise.all([this.readCounter('cpuTime'), this.readCounter('oomKills'), this.readCounter('forkFailures')]);
    return { cpuTimeMs, oomKills, forkFailures };
  }

  async readCpuTimeMs(): Promise<number> {
    return this.readCounter('cpuTime');
  }

  private async readCounter(name: keyof (typeof COUNTER_FILES)['v1']): Promise<number> {
    const spec = COUNTER_FILES[this.layout.version][name];
    const text = await readKernelFile(path.join(this.dir(spec.controller), spec.file)).catch(() => '');
    const raw = spec.key === null ? Number(text.trim()) || 0 : readKeyedCounter(text, spec.key);
    return raw / spec.divisor;
  }

  // Removes the group once its processes are gone (killing any left after a short wait). Safe to call twice.
  async remove(): Promise<void> {
    for (const dir of this.dirs()) await removeGroupDir(dir);
  }
}

// Removes the groups that daemons which are gone left behind (a daemon killed with SIGKILL cannot clean up):
// kills what is still in them, then removes them. Groups of live daemons are never touched. A group's owner is
// recognised by its pid and start time, so daemons sharing a cgroup hierarchy must share a pid namespace.
export async function sweepStaleCgroups(layout?: CgroupLayout, isAlive: (pid: number, startTime: string) => boolean = processIsAlive): Promise<string[]> {
  const found = layout ?? (await detectCgroupLayout());
  if (typeof found === 'string') return [];
  const removed = new Set<string>();
  for (const root of hierarchyDirs(found)) {
    const parent = path.join(root, CGROUP_PARENT);
    const names = await fs.readdir(parent).catch(() => [] as string[]);
    for (const name of names) {
      const match = GROUP_NAME.exec(name);
      if (!match || isAlive(Number(match[1]), match[2])) continue;
      await removeGroupDir(path.join(parent, name));
      removed.add(name);
    }
  }
  return [...removed];
}

// The names of the sandbox groups that exist now, in any hierarchy of the layout (for tests and diagnostics).
export async function listSandboxGroups(layout: CgroupLayout): Promise<string[]> {
  const names = new Set<string>();
  for (const root of hierarchyDirs(layout)) {
    for (const name of await fs.readdir(path.join(root, CGROUP_PARENT)).catch(() => [] as string[])) if (GROUP_NAME.test(name)) names.add(name);
  }
  return [...names].sort();
}

// The shared parent in every hierarchy; on v2 also the controllers delegated to it and to its children.
async function ensureParent(layout: CgroupLayout): Promise<void> {
  for (const root of hierarchyDirs(layout)) await fs.mkdir(path.join(root, CGROUP_PARENT), { recursive: true });
  if (layout.version === 'v1') return;
  for (const dir of [layout.memory, path.join(layout.memory, CGROUP_PARENT)]) {
    const enabled = (await fs.readFile(path.join(dir, 'cgroup.subtree_control'), 'utf8')).trim().split(/\s+/);
    for (const controller of V2_REQUIRED) {
      if (enabled.includes(controller)) continue;
      await writeKernelFile(path.join(dir, 'cgroup.subtree_control'), `+${controller}`).catch((error: NodeJS.ErrnoException) => {
        // cgroup v2 hands controllers down only from a group with no processes of its own (a container's root has some).
        const hint = error.code === 'EBUSY' ? ' (the group holds processes; in a container, give the daemon a cgroup v2 tree of its own)' : '';
        throw new Error(`cannot enable the ${controller} controller in ${dir}/cgroup.subtree_control: ${error.message}${hint}`);
      });
    }
  }
}

// Writes a pid to cgroup.procs (which moves every thread of the process); a process that already exited is skipped.
async function movePid(dir: string, pid: number): Promise<void> {
  try {
    await writeKernelFile(path.join(dir, 'cgroup.procs'), String(pid));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

// Waits for a group to hold no process (SIGKILLing what is still there after a moment), then removes it.
async function removeGroupDir(dir: string): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  const killAt = Date.now() + KILL_AFTER_MS;
  for (let delayMs = 5; ; delayMs = Math.min(delayMs * 2, 100)) {
    const procs = await readKernelFile(path.join(dir, 'cgroup.procs')).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? null : ''));
    if (procs === null) return;
    const pids = procs.split('\n').filter(Boolean).map(Number);
    if (pids.length === 0) {
      try {
        await fs.rmdir(dir);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || Date.now() > deadline) throw error;
      }
    } else if (Date.now() > deadline) {
      throw new Error(`cgroup ${dir} still holds processes ${pids.join(', ')} after ${DRAIN_TIMEOUT_MS} ms`);
    } else if (Date.now() >= killAt) {
      if (!(await writeIfPresent(path.join(dir, 'cgroup.kill'), '1'))) for (const pid of pids) killQuietly(pid);
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// True when the process that made a group still runs (not merely a later process with the same pid).
function processIsAlive(pid: number, startTime: string): boolean {
  const now = readStartTime(pid);
  return now !== null && (now === startTime || startTime === '0');
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

// Writes a control file that only some kernels have; false when it does not exist.
async function writeIfPresent(file: string, value: string): Promise<boolean> {
  try {
    await writeKernelFile(file, value);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
