// cgroup v1: one hierarchy per controller (cpu and cpuacct often mounted together), so a group is a directory
// of the same name in each: memory (memory.limit_in_bytes, and memory.memsw.limit_in_bytes where the kernel
// accounts swap), pids (pids.max), cpu (the CFS quota, when that controller is mounted) and cpuacct (CPU time).
// v1 has no cgroup.kill and no memory.oom.group: the kernel OOM-kills the largest process, not the group.
import { existsSync, mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { hierarchyDirs, type CgroupController, type CgroupLayout } from '../cgroup-layout.js';
import { readKernelFile, writeKernelFile } from '../kernel-files.js';
import {
  applyControlWrites,
  CGROUP_PARENT,
  CPU_PERIOD_US,
  cpuQuotaUs,
  killIfFrozen,
  killListed,
  MemoryInUseError,
  moveProcess,
  processesIn,
  readCounterIn,
  removeGroupDir,
  type CgroupTree,
  type ControlWrite,
  type CounterFile,
  type CounterName,
  type ExecutionCgroup,
} from './tree.js';

/** Where each counter lives in a v1 group: the controller whose hierarchy holds the file. */
export const V1_COUNTERS: Readonly<Record<CounterName, CounterFile>> = {
  cpuTime: { controller: 'cpuacct', file: 'cpuacct.usage', key: null, divisor: 1e6 },
  oomKills: { controller: 'memory', file: 'memory.oom_control', key: 'oom_kill', divisor: 1 },
  forkFailures: { controller: 'pids', file: 'pids.events', key: 'max', divisor: 1 },
  memoryInUse: { controller: 'memory', file: 'memory.usage_in_bytes', key: null, divisor: 1 },
};

/** The file that exists only where the kernel accounts swap (swapaccount=1). */
const MEMSW_LIMIT_FILE = 'memory.memsw.limit_in_bytes';

/** What a v1 host has of what Runbox uses. */
export interface V1Features {
  /** The cpu controller is mounted (else there is no quota, only accounting). */
  readonly cpuController: boolean;
  /** The memsw files exist: the memory limit can count swap too. */
  readonly swapAccounting: boolean;
}

// Pure: the settings of a new v1 group: the CPU quota (the period first, as the quota is a share of it), and,
// where swap is not accounted, at least a request to the kernel not to swap the group out.
export function v1GroupSettings(cpuCores: number | null, features: V1Features): ControlWrite[] {
  const writes: ControlWrite[] = [];
  if (!features.swapAccounting) writes.push({ controller: 'memory', file: 'memory.swappiness', value: '0', optional: true });
  if (cpuCores && features.cpuController) {
    writes.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(CPU_PERIOD_US) }, { controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(cpuQuotaUs(cpuCores)) });
  }
  return writes;
}

// Pure: the writes that set the memory limit, swap included where it is accounted. v1 needs memsw ≥ memory at
// every moment, so lowering writes memory first and raising memsw first; the kernel refuses the wrong order
// with EINVAL, so `lowering` is tried first and `raising` (null without memsw) after an EINVAL.
export function v1MemoryLimitWrites(bytes: number, swapAccounting: boolean): { lowering: ControlWrite[]; raising: ControlWrite[] | null } {
  const memory: ControlWrite = { controller: 'memory', file: 'memory.limit_in_bytes', value: String(bytes), mayBlock: true };
  if (!swapAccounting) return { lowering: [memory], raising: null };
  const memsw: ControlWrite = { controller: 'memory', file: MEMSW_LIMIT_FILE, value: String(bytes), mayBlock: true };
  return { lowering: [memory, memsw], raising: [memsw, memory] };
}

// The v1 hierarchies of a layout.
export class CgroupV1 implements CgroupTree {
  constructor(readonly layout: CgroupLayout) {}

  parentDirs(): string[] {
    return hierarchyDirs(this.layout).map((root) => path.join(root, CGROUP_PARENT));
  }

  async prepare(): Promise<void> {
    for (const dir of this.parentDirs()) await fs.mkdir(dir, { recursive: true });
  }

  group(name: string): ExecutionCgroup {
    return new CgroupV1Group(this.layout, name);
  }
}

class CgroupV1Group implements ExecutionCgroup {
  private swapAccounting: Promise<boolean> | null = null;

  constructor(
    private readonly layout: CgroupLayout,
    readonly name: string,
  ) {}

  // The group's directory in a controller's hierarchy (cpu only when it is mounted).
  private dir(controller: CgroupController): string {
    return path.join(this.layout[controller] as string, CGROUP_PARENT, this.name);
  }

  private dirs(): string[] {
    return hierarchyDirs(this.layout).map((root) => path.join(root, CGROUP_PARENT, this.name));
  }

  private hasSwapAccounting(): Promise<boolean> {
    this.swapAccounting ??= Promise.resolve(existsSync(path.join(this.dir('memory'), MEMSW_LIMIT_FILE)));
    return this.swapAccounting;
  }

  async create(cpuCores: number | null): Promise<void> {
    // Synchronously: a group's directory takes 20–130 µs to make (kernel-files.ts says why that beats the pool).
    for (const dir of this.dirs()) mkdirSync(dir);
    const features = { cpuController: this.layout.cpu !== null, swapAccounting: await this.hasSwapAccounting() };
    await applyControlWrites((controller) => this.dir(controller), v1GroupSettings(cpuCores, features));
  }

  // EBUSY: the kernel could not reclaim enough to bring the group under the new limit (v2 would OOM-kill it).
  async setMemoryLimit(bytes: number): Promise<void> {
    const { lowering, raising } = v1MemoryLimitWrites(bytes, await this.hasSwapAccounting());
    const dirOf = (controller: CgroupController) => this.dir(controller);
    try {
      await applyControlWrites(dirOf, lowering);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EBUSY') throw new MemoryInUseError(await this.readCounter('memoryInUse'), bytes);
      if (code !== 'EINVAL' || !raising) throw error;
      await applyControlWrites(dirOf, raising);
    }
  }

  async setProcessLimit(count: number): Promise<void> {
    await writeKernelFile(path.join(this.dir('pids'), 'pids.max'), String(count));
  }

  addProcess(pid: number): Promise<void> {
    return moveProcess(this.dirs(), pid);
  }

  processes(): Promise<Set<number>> {
    return processesIn(this.dirs());
  }

  readCounter(counter: CounterName): Promise<number> {
    const file = V1_COUNTERS[counter];
    return readCounterIn(this.dir(file.controller), file);
  }

  killAll(): Promise<void> {
    return killListed(this.dirs());
  }

  // freezer.state: FROZEN asks, and reads FROZEN once every process is stopped (FREEZING until then).
  async requestFreeze(): Promise<boolean> {
    if (!this.layout.freezer) return false;
    await writeKernelFile(path.join(this.dir('freezer'), 'freezer.state'), 'FROZEN');
    return true;
  }

  async isFrozen(): Promise<boolean> {
    if (!this.layout.freezer) return false;
    return (await readKernelFile(path.join(this.dir('freezer'), 'freezer.state'))).trim() === 'FROZEN';
  }

  async thaw(): Promise<void> {
    if (this.layout.freezer) await writeKernelFile(path.join(this.dir('freezer'), 'freezer.state'), 'THAWED');
  }

  // The directory in each hierarchy, one after the other (the processes are the same in all of them). On v1, a
  // frozen process does not act on SIGKILL until thawed: a frozen group is killed and thawed first.
  async remove(): Promise<void> {
    await killIfFrozen(this);
    for (const dir of this.dirs()) await removeGroupDir(dir, () => this.killAll());
  }
}
