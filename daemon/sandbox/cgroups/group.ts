// One sandbox's cgroup as the rest of the daemon sees it, the same on v1 and v2: made with its limits, the
// sandbox's whole process tree moved in before any code runs, limits lowered per execution, counters read, and
// removed with everything still in it. The version's own work is done by its ExecutionCgroup (v1.ts, v2.ts).
import { listProcessTree } from '../process-tree.js';
import { freezeGroup, killIfFrozen, MemoryInUseError, type ExecutionCgroup } from './tree.js';

/** How long freeze() waits for the kernel to stop every process of a group before it gives up. */
const FREEZE_TIMEOUT_MS = 1_000;

export interface GroupLimits {
  readonly memoryBytes: number;
  readonly maxProcesses: number;
}

/** What the kernel counted for one group (cumulative since it was made). */
/** What the kernel's cgroup counters saw (counted from when an execution's limits were applied). */
export interface CgroupCounters {
  readonly cpuTimeMs: number;
  /** Processes the kernel's OOM killer killed because the group reached memoryBytes. */
  readonly oomKills: number;
  /** fork/clone calls refused because the group reached maxProcesses. */
  readonly forkFailures: number;
}

export class SandboxCgroup {
  /** The limits written so far. */
  private limits: GroupLimits | null = null;

  constructor(
    private readonly group: ExecutionCgroup,
    /** CPU cores the group's processes may use at once (its quota); null for no quota. */
    readonly cpuCores: number | null,
  ) {}

  get name(): string {
    return this.group.name;
  }

  // Makes the group with its CPU quota, no swap and the given limits; empty until adoptTree() moves processes
  // in. Nothing is left behind when that fails.
  async create(limits: GroupLimits): Promise<void> {
    try {
      await this.group.create(this.cpuCores);
      await this.setLimits(limits);
    } catch (error) {
      await this.group.remove().catch(() => undefined);
      throw error;
    }
  }

  // Sets the memory (swap included) and process limits; a limit already set is not written again. Throws
  // MemoryInUseError when the group already holds more memory than the new limit (v2 would OOM-kill it; v1
  // refuses with EBUSY).
  async setLimits(limits: GroupLimits): Promise<void> {
    const setMemory = async () => {
      if (limits.memoryBytes === this.limits?.memoryBytes) return;
      const inUse = await this.group.readCounter('memoryInUse');
      if (inUse >= limits.memoryBytes) throw new MemoryInUseError(inUse, limits.memoryBytes);
      await this.group.setMemoryLimit(limits.memoryBytes);
    };
    const setProcesses = async () => {
      if (limits.maxProcesses !== this.limits?.maxProcesses) await this.group.setProcessLimit(limits.maxProcesses);
    };
    await Promise.all([setMemory(), setProcesses()]);
    this.limits = { memoryBytes: limits.memoryBytes, maxProcesses: limits.maxProcesses };
  }

  // Makes sure rootPid and every descendant is in the group in every hierarchy: walks the tree, moves what is
  // outside, and walks again until a walk finds every process inside (so one forked meanwhile is not missed).
  // Moving can be slow (the kernel may wait for an RCU grace period), so what is inside is not moved again.
  async adoptTree(rootPid: number, maxRounds = 10): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      const [tree, members] = await Promise.all([listProcessTree(rootPid), this.group.processes()]);
      const outside = tree.filter((pid) => !members.has(pid));
      if (outside.length === 0) return;
      for (const pid of outside) await this.group.addProcess(pid);
    }
    throw new Error(`the process tree of pid ${rootPid} kept changing while it was moved into its cgroup`);
  }

  // Moves one process (all its threads) into the group in every hierarchy; its children forked afterwards are
  // born inside. adoptTree is what makes sure of a whole tree.
  addProcess(pid: number): Promise<void> {
    return this.group.addProcess(pid);
  }

  // The kernel's counters for this group. A counter that cannot be read counts as 0.
  async readCounters(): Promise<CgroupCounters> {
    const [cpuTimeMs, oomKills, forkFailures] = await Promise.all([this.group.readCounter('cpuTime'), this.group.readCounter('oomKills'), this.group.readCounter('forkFailures')]);
    return { cpuTimeMs, oomKills, forkFailures };
  }

  // CPU time the group's processes used so far, in ms (cheaper than readCounters, for the CPU-time watch).
  async readCpuTimeMs(): Promise<number> {
    return this.group.readCounter('cpuTime');
  }

  // Stops every process of the group (the cgroup freezer): true once none can run, false when the host has no
  // freezer or they did not all stop within a second (the group is then running again).
  freeze(): Promise<boolean> {
    return freezeGroup(this.group, FREEZE_TIMEOUT_MS);
  }

  // SIGKILLs every process of a frozen group, then thaws it so that they die (a frozen v1 process acts on no
  // signal); nothing when the group is not frozen.
  killFrozen(): Promise<void> {
    return killIfFrozen(this.group);
  }

  // Removes the group once its processes are gone (killing any left after a short wait; a frozen group's at once,
  // before it is thawed). Safe to call twice.
  async remove(): Promise<void> {
    await this.group.remove();
  }
}
