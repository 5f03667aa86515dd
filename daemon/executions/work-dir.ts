// The work directory belongs to one daemon at a time: a pid file claims it, and what an earlier daemon left
// behind there (it was killed with SIGKILL, or crashed) is swept away at start-up, before any new sandbox starts.
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../files/tree-removal.js';
import type { Mounter } from '../sandbox/mounter.js';
import { unmountSelfBinds, unmountWorkspace, tmpfsMountsUnder } from '../sandbox/mounts.js';
import { readStartTime } from '../sandbox/process-tree.js';

const PID_FILE = 'daemon.pid';
/** The tmpfs of the work directory that holds the execution directories (mountExecutionsDir). */
export const EXECUTIONS_DIR = 'executions';
/** Entries of the work directory that only ever belong to one daemon's executions, probes, installs and sessions. */
const LEFTOVER = /^(exec-|probe-|install-|runtimes\.\d+\.tmp$|sessions$|executions$)/;

export interface WorkDirClaim {
  /** Removes the pid file (only if it is still ours). */
  release(): Promise<void>;
}

// Thrown when another live daemon holds the work directory.
export class WorkDirInUseError extends Error {
  constructor(readonly workDir: string, readonly pid: number) {
    super(`work directory ${workDir} is in use by another Runbox daemon (pid ${pid}); give each daemon its own --work-dir (RUNBOX_WORK_DIR)`);
    this.name = 'WorkDirInUseError';
  }
}

// Writes `<pid> <start time>` into the work directory's pid file, refusing if a live daemon already holds it.
// The start time tells a live owner from an unrelated process that got the same pid after a crash.
export async function claimWorkDir(workDir: string): Promise<WorkDirClaim> {
  const file = path.join(workDir, PID_FILE);
  const mine = `${process.pid} ${startTimeOf(process.pid)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.writeFile(file, mine, { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const holder = parseOwner(await fs.readFile(file, 'utf8').catch(() => ''));
    if (holder && (await isAlive(holder))) throw new WorkDirInUseError(workDir, holder.pid);
    await fs.rm(file, { force: true });
  }
  return {
    release: async () => {
      const current = await fs.readFile(file, 'utf8').catch(() => '');
      if (current === mine) await fs.rm(file, { force: true });
    },
  };
}

// Removes execution and probe directories (with their bridge sockets and workspace mounts) left in the work
// directory by an earlier daemon, through the mount helper when there is one. Only call it while holding the
// claim. Returns the names removed.
export async function sweepLeftovers(workDir: string, mounter?: Mounter | null): Promise<string[]> {
  try {
    for (const mountPoint of await tmpfsMountsUnder(workDir)) await unmountWorkspace(mountPoint, mounter);
  } finally {
    // Even when a workspace would not unmount: detaching the bind takes what is mounted under it along.
    await unmountSelfBinds(workDir, mounter);
  }
  const names = (await fs.readdir(workDir)).filter((name) => LEFTOVER.test(name));
  for (const name of names) await removeTree(path.join(workDir, name));
  return names;
}

// Mounts a tmpfs at <workDir>/executions for the execution directories (exec-*, made and removed for every
// sandbox), through the mount helper, and answers its path. On the work directory's disk, making and removing one
// (its directories, sockets and token file: some twenty calls, each a journal update) cost the daemon several ms
// of CPU per execution; on a tmpfs each call takes µs. What the directories hold is small (sockets, a token, the
// mount points of workspace tmpfs) except the packages an execution installs at run time, which now take memory
// until the execution ends (at most maxPackageBytes per runtime; docs/configuration.md). Only call it after the
// sweep, and after shareWorkDir when there is a fork server (its self-bind would hide an earlier mount). Throws
// MountError when the mount fails (the caller then keeps the directories in workDir).
export async function mountExecutionsDir(workDir: string, mounter: Mounter): Promise<string> {
  const dir = path.join(workDir, EXECUTIONS_DIR);
  await fs.mkdir(dir, { mode: 0o711 });
  try {
    await mounter.mountExecutions(dir);
  } catch (error) {
    await fs.rmdir(dir).catch(() => undefined);
    throw error;
  }
  return dir;
}

function parseOwner(text: string): { pid: number; startTime: string } | null {
  const match = /^(\d+) (\S+)\n?$/.exec(text);
  return match ? { pid: Number(match[1]), startTime: match[2] } : null;
}

async function isAlive(owner: { pid: number; startTime: string }): Promise<boolean> {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return startTimeOf(owner.pid) === owner.startTime;
}

// The process's start time in clock ticks after boot (process-tree.ts), or '?' without /proc.
function startTimeOf(pid: number): string {
  return readStartTime(pid) ?? '?';
}
