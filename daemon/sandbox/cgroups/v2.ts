// cgroup v2: one unified hierarchy, so one directory per group. The controllers Runbox needs are handed down
// (cgroup.subtree_control) from the root to the shared parent and from it to each group; a group is limited
// through memory.max, memory.swap.max and pids.max, given a quota in cpu.max, and killed as a whole
// (memory.oom.group on an OOM kill, cgroup.kill when it is removed).
import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { V2_REQUIRED, type CgroupLayout } from '../cgroup-layout.js';
import { readKernelFile, writeKernelFile, writeKernelFileInPool } from '../kernel-files.js';
import {
  applyControlWrites,
  CGROUP_PARENT,
  CPU_PERIOD_US,
  cpuQuotaUs,
  killIfFrozen,
  killListed,
  moveProcess,
  processesIn,
  readCounterIn,
  readKeyedCounter,
  removeGroupDir,
  writeIfPresent,
  type CgroupTree,
  type ControlWrite,
  type CounterFile,
  type CounterName,
  type ExecutionCgroup,
} from './tree.js';

/** Where each counter lives in a v2 group (every controller's files are in its one directory). */
export const V2_COUNTERS: Readonly<Record<CounterName, CounterFile>> = {
  cpuTime: { controller: 'cpuacct', file: 'cpu.stat', key: 'usage_usec', divisor: 1e3 },
  oomKills: { controller: 'memory', file: 'memory.events', key: 'oom_kill', divisor: 1 },
  forkFailures: { controller: 'pids', file: 'pids.events', key: 'max', divisor: 1 },
  memoryInUse: { controller: 'memory', file: 'memory.current', key: null, divisor: 1 },
};

// Pure: the settings of a new v2 group: no swap, an OOM kill that takes the whole group, and the CPU quota.
export function v2GroupSettings(cpuCores: number | null): ControlWrite[] {
  const writes: ControlWrite[] = [
    { controller: 'memory', file: 'memory.swap.max', value: '0', optional: true },
    // An OOM kill takes the whole sandbox, not one process the code could carry on without.
    { controller: 'memory', file: 'memory.oom.group', value: '1', optional: true },
  ];
  if (cpuCores) writes.push({ controller: 'cpu', file: 'cpu.max', value: `${cpuQuotaUs(cpuCores)} ${CPU_PERIOD_US}` });
  return writes;
}

// Pure: the controllers Runbox needs that a cgroup.subtree_control text does not list as enabled yet.
export function controllersToEnable(subtreeControl: string): string[] {
  const enabled = subtreeControl.trim().split(/\s+/);
  return V2_REQUIRED.filter((controller) => !enabled.includes(controller));
}

// The unified hierarchy (a layout of version v2: every controller in the same directory).
export class CgroupV2 implements CgroupTree {
  constructor(readonly layout: CgroupLayout) {}

  parentDirs(): string[] {
    return [path.join(this.layout.memory, CGROUP_PARENT)];
  }

  // The shared parent, with the controllers enabled for it (in the root) and for its children (in itself).
  async prepare(): Promise<void> {
    const [parent] = this.parentDirs();
    await fs.mkdir(parent, { recursive: true });
    for (const dir of [this.layout.memory, parent]) {
      const file = path.join(dir, 'cgroup.subtree_control');
      for (const controller of controllersToEnable(await fs.readFile(file, 'utf8'))) {
        await writeKernelFile(file, `+${controller}`).catch((error: NodeJS.ErrnoException) => {
          // cgroup v2 hands controllers down only from a group with no processes of its own (a container's root has some).
          const hint = error.code === 'EBUSY' ? ' (the group holds processes; in a container, give the daemon a cgroup v2 tree of its own)' : '';
          throw new Error(`cannot enable the ${controller} controller in ${file}: ${error.message}${hint}`);
        });
      }
    }
  }

  group(name: string): ExecutionCgroup {
    return new CgroupV2Group(path.join(this.layout.memory, CGROUP_PARENT, name), name);
  }
}

class CgroupV2Group implements ExecutionCgroup {
  constructor(
    private readonly dir: string,
    readonly name: string,
  ) {}

  async create(cpuCores: number | null): Promise<void> {
    mkdirSync(this.dir);
    await applyControlWrites(() => this.dir, v2GroupSettings(cpuCores));
  }

  // Above memory.max the kernel reclaims, then OOM-kills the group; memory.swap.max is 0, so this is all of it.
  async setMemoryLimit(bytes: number): Promise<void> {
    await writeKernelFileInPool(path.join(this.dir, 'memory.max'), String(bytes));
  }

  async setProcessLimit(count: number): Promise<void> {
    await writeKernelFile(path.join(this.dir, 'pids.max'), String(count));
  }

  addProcess(pid: number): Promise<void> {
    return moveProcess([this.dir], pid);
  }

  processes(): Promise<Set<number>> {
    return processesIn([this.dir]);
  }

  readCounter(counter: CounterName): Promise<number> {
    return readCounterIn(this.dir, V2_COUNTERS[counter]);
  }

  // cgroup.kill (Linux 5.14) kills every process at once, including one forked meanwhile; else each listed one.
  async killAll(): Promise<void> {
    if (!(await writeIfPresent(path.join(this.dir, 'cgroup.kill'), '1'))) await killListed([this.dir]);
  }

  // cgroup.freeze (Linux 5.2): 1 asks; cgroup.events says `frozen 1` once every process is stopped.
  async requestFreeze(): Promise<boolean> {
    return writeIfPresent(path.join(this.dir, 'cgroup.freeze'), '1');
  }

  async isFrozen(): Promise<boolean> {
    const events = await readKernelFile(path.join(this.dir, 'cgroup.events')).catch(() => '');
    return readKeyedCounter(events, 'frozen') === 1;
  }

  async thaw(): Promise<void> {
    await writeIfPresent(path.join(this.dir, 'cgroup.freeze'), '0');
  }

  // A frozen v2 group's processes do die of SIGKILL; it is killed and thawed first all the same, as on v1.
  async remove(): Promise<void> {
    await killIfFrozen(this);
    await removeGroupDir(this.dir, () => this.killAll());
  }
}
