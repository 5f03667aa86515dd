// The work directory belongs to one daemon at a time: a pid file claims it, and what an earlier daemon left
// behind there (it was killed with SIGKILL, or crashed) is swept away at start-up, before any new sandbox starts.
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../files/held-dir.js';
import type { Mounter } from '../sandbox/mounter.js';
import { unmountSelfBinds, unmountWorkspace, workspaceMountsUnder } from '../sandbox/mounts.js';
import { readStartTime } from '../sandbox/process-tree.js';

const PID_FILE = 'daemon.pid';
/** Entries of the work directory that only ever belong to one daemon's executions, probes, installs and sessions. */
const LEFTOVER = /^(exec-|probe-|install-|runtimes\.\d+\.tmp$|sessions$)/;

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
    for (const mountPoint of await workspaceMountsUnder(workDir)) await unmountWorkspace(mountPoint, mounter);
  } finally {
    // Even when a workspace would not unmount: detaching the bind takes what is mounted under it along.
    await unmountSelfBinds(workDir, mounter);
  }
  const names = (await fs.readdir(workDir)).filter((name) => LEFTOVER.test(name));
  for (const name of names) await removeTree(path.join(workDir, name));
  return names;
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
