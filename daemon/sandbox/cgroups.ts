// Limits the kernel enforces on each sandbox, through cgroups: memory with no swap, processes and threads, a CPU
// quota, and CPU time accounting. At daemon start this finds the hierarchy (cgroup v2 when it offers memory, pids
// and cpu, else the v1 controllers), proves it works, and then makes one group per sandbox through that
// version's implementation (cgroups/v1.ts, cgroups/v2.ts). Each group has its own name under a shared `runbox`
// parent, `<daemon pid>-<its start time>-<random tag>-<n>`, so a daemon can sweep the groups of one that was killed.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { chooseCgroupLayout, parseCgroupMounts, type CgroupLayout } from './cgroup-layout.js';
import { SandboxCgroup, type GroupLimits } from './cgroups/group.js';
import { CGROUP_PARENT, type CgroupTree } from './cgroups/tree.js';
import { CgroupV1 } from './cgroups/v1.js';
import { CgroupV2 } from './cgroups/v2.js';
import { readMountinfo } from './mountinfo.js';
import { readStartTime } from './process-tree.js';

export { SandboxCgroup, type CgroupCounters, type GroupLimits } from './cgroups/group.js';
export { MemoryInUseError } from './cgroups/tree.js';

/** `<daemon pid>-<its start time in clock ticks>-<random tag of one SandboxCgroups>-<n>` */
const GROUP_NAME = /^(\d+)-(\d+)-[0-9a-f]+-\d+$/;
/** The limits of the group made, and removed, to prove cgroups work. */
const PROBE_LIMITS: GroupLimits = { memoryBytes: 64 * 1024 * 1024, maxProcesses: 8 };

export interface CgroupOptions {
  /** CPU cores each sandbox may use at once (a CFS quota); null for no quota. @default 1 */
  readonly cpuCores?: number | null;
  /** The text of /proc/self/mountinfo. @default read from /proc */
  readonly mountinfo?: string;
}

// Finds the hierarchy to use, or says why there is none (not mounted, controllers missing).
export async function detectCgroupLayout(mountinfo?: string): Promise<CgroupLayout | string> {
  const mounts = parseCgroupMounts(mountinfo ?? (await readMountinfo()));
  const v2Controllers = mounts.v2 ? (await fs.readFile(path.join(mounts.v2, 'cgroup.controllers'), 'utf8').catch(() => '')).trim().split(/\s+/) : [];
  return chooseCgroupLayout(mounts, v2Controllers);
}

// The implementation of a layout's version: the one place that tells v1 from v2.
export function openCgroupTree(layout: CgroupLayout): CgroupTree {
  return layout.version === 'v2' ? new CgroupV2(layout) : new CgroupV1(layout);
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

  private constructor(
    private readonly tree: CgroupTree,
    readonly cpuCores: number | null,
  ) {}

  // Detects the cgroup setup and proves it works by making, limiting and removing a group. `problem` says
  // why cgroups cannot be used (not root, read-only, controllers missing); the daemon then runs without.
  static async setUp(options: CgroupOptions = {}): Promise<{ cgroups: SandboxCgroups | null; problem: string | null }> {
    const layout = await detectCgroupLayout(options.mountinfo);
    if (typeof layout === 'string') return { cgroups: null, problem: layout };
    const cgroups = new SandboxCgroups(openCgroupTree(layout), options.cpuCores === undefined ? 1 : options.cpuCores);
    try {
      await cgroups.tree.prepare();
      await (await cgroups.create(PROBE_LIMITS)).remove();
      return { cgroups, problem: null };
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'EACCES' || (error as NodeJS.ErrnoException).code === 'EROFS' ? ' (the daemon must run as root with a writable cgroup file system)' : '';
      return { cgroups: null, problem: `cannot make cgroups under ${layout.memory}: ${(error as Error).message}${reason}` };
    }
  }

  /** The hierarchy in use. */
  get layout(): CgroupLayout {
    return this.tree.layout;
  }

  /** The directory holding this daemon's groups in the freezer's hierarchy (v2: the one hierarchy); null without a freezer. */
  get freezerParentDir(): string | null {
    const root = this.tree.layout.freezer;
    return root ? path.join(root, CGROUP_PARENT) : null;
  }

  /** Group names of this daemon start with this. */
  get namePrefix(): string {
    return `${process.pid}-${this.tag}-`;
  }

  // A new group with the given limits, a CPU quota and no swap; empty until adoptTree() moves processes in.
  async create(limits: GroupLimits): Promise<SandboxCgroup> {
    const group = new SandboxCgroup(this.tree.group(`${this.namePrefix}${++this.count}`), this.cpuCores);
    await group.create(limits);
    return group;
  }
}

// Removes the groups that daemons which are gone left behind (a daemon killed with SIGKILL cannot clean up):
// kills what is still in them, then removes them. Groups of live daemons are never touched. A group's owner is
// recognised by its pid and start time, so daemons sharing a cgroup hierarchy must share a pid namespace.
export async function sweepStaleCgroups(layout?: CgroupLayout, isAlive: (pid: number, startTime: string) => boolean = processIsAlive): Promise<string[]> {
  const found = layout ?? (await detectCgroupLayout());
  if (typeof found === 'string') return [];
  const tree = openCgroupTree(found);
  const stale = (await groupNames(tree)).filter((name) => {
    const [, pid, startTime] = GROUP_NAME.exec(name) as RegExpExecArray;
    return !isAlive(Number(pid), startTime);
  });
  for (const name of stale) await tree.group(name).remove();
  return stale;
}

// The names of the sandbox groups that exist now, in any hierarchy of the layout (for tests and diagnostics).
export async function listSandboxGroups(layout: CgroupLayout): Promise<string[]> {
  return groupNames(openCgroupTree(layout));
}

// The names of the sandbox groups under the parent in any hierarchy, sorted.
async function groupNames(tree: CgroupTree): Promise<string[]> {
  const names = new Set<string>();
  for (const parent of tree.parentDirs()) {
    for (const name of await fs.readdir(parent).catch(() => [] as string[])) if (GROUP_NAME.test(name)) names.add(name);
  }
  return [...names].sort();
}

// True when the process that made a group still runs (not merely a later process with the same pid).
function processIsAlive(pid: number, startTime: string): boolean {
  const now = readStartTime(pid);
  return now !== null && (now === startTime || startTime === '0');
}
