// Pure: which cgroup hierarchy Runbox can use, from /proc/self/mountinfo and the controllers cgroup v2 offers.
// The files that hold each limit and counter are the business of each version (cgroups/v1.ts, cgroups/v2.ts).
import { parseMountinfo } from './mountinfo.js';

export type CgroupController = 'memory' | 'pids' | 'cpu' | 'cpuacct' | 'freezer';

/** The directory of each controller's hierarchy. v2: the same directory for all; v1: cpu and cpuacct may share one. */
export interface CgroupLayout {
  readonly version: 'v1' | 'v2';
  readonly memory: string;
  readonly pids: string;
  /** The CPU quota; null on a v1 host without the cpu controller (accounting still works through cpuacct). */
  readonly cpu: string | null;
  /** CPU time accounting (v2: cpu.stat of the same directory). */
  readonly cpuacct: string;
  /** Stopping a sandbox's processes while its files are collected (v2: cgroup.freeze of the same directory); null
   * or absent on a v1 host without the freezer (collection then waits for the processes to exit). */
  readonly freezer?: string | null;
}

export interface CgroupMounts {
  /** Mount point of the cgroup2 file system, if one is mounted. */
  readonly v2: string | null;
  /** Mount point of each v1 controller Runbox uses that is mounted. */
  readonly v1: Partial<Record<CgroupController, string>>;
}

const V1_CONTROLLERS: readonly CgroupController[] = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer'];
/** What cgroup v2 must offer: memory and pids limits, and the cpu controller for the quota. */
export const V2_REQUIRED = ['memory', 'pids', 'cpu'] as const;

// The cgroup mounts listed in the text of /proc/self/mountinfo (the first mount of each kind wins).
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  let v2: string | null = null;
  const v1: Partial<Record<CgroupController, string>> = {};
  for (const { fsType, mountPoint, superOptions } of parseMountinfo(mountinfo)) {
    if (fsType === 'cgroup2') v2 ??= mountPoint;
    if (fsType !== 'cgroup') continue;
    for (const controller of V1_CONTROLLERS) if (superOptions.includes(controller)) v1[controller] ??= mountPoint;
  }
  return { v2, v1 };
}

// The layout to use: cgroup v2 when it offers memory, pids and cpu, else the v1 controllers memory, pids and
// cpuacct (cpu optional). A string says why neither works.
export function chooseCgroupLayout(mounts: CgroupMounts, v2Controllers: readonly string[]): CgroupLayout | string {
  if (mounts.v2 && V2_REQUIRED.every((c) => v2Controllers.includes(c))) {
    return { version: 'v2', memory: mounts.v2, pids: mounts.v2, cpu: mounts.v2, cpuacct: mounts.v2, freezer: mounts.v2 };
  }
  const { memory, pids, cpu, cpuacct, freezer } = mounts.v1;
  if (memory && pids && cpuacct) return { version: 'v1', memory, pids, cpu: cpu ?? null, cpuacct, freezer: freezer ?? null };
  const v2Missing = V2_REQUIRED.filter((c) => !v2Controllers.includes(c));
  const v1Missing = (['memory', 'pids', 'cpuacct'] as const).filter((c) => !mounts.v1[c]);
  const v2Text = mounts.v2 ? `cgroup v2 at ${mounts.v2} lacks ${v2Missing.join(', ')}` : 'no cgroup v2 mount';
  const v1Text = `cgroup v1 lacks ${v1Missing.join(', ')}`;
  return `no usable cgroup controllers (${v2Text}; ${v1Text})`;
}

// The distinct hierarchy directories of a layout (one for v2; up to five for v1).
export function hierarchyDirs(layout: CgroupLayout): string[] {
  return [...new Set([layout.memory, layout.pids, layout.cpu, layout.cpuacct, layout.freezer ?? null].filter((d): d is string => d !== null))];
}
