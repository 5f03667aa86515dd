// Size-limited workspaces: a tmpfs with a byte and a file (inode) limit, mounted by the daemon on a workspace
// directory before bubblewrap binds it, so code that fills its workspace or creates a million files gets ENOSPC
// instead of filling the host's disk. Needs the right to mount (root); without it workspaces are plain
// directories and the daemon says so at start. mount(2) is not in Node: every function here takes the daemon's
// mount helper (mounter.ts, one long-lived process that calls it), and without one runs util-linux's mount and
// umount, a process (a fork of the daemon) each.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Mounter } from './mounter.js';
import { parseMountinfo, readMountinfo, type MountEntry } from './mountinfo.js';
import { runCommand, type CommandResult } from './spawn.js';

export const MOUNT_PATH = '/usr/bin/mount';
export const UMOUNT_PATH = '/usr/bin/umount';
/** The source name of every workspace tmpfs, so the sweep can tell them from anything else mounted. */
export const WORKSPACE_FS_NAME = 'runbox-workspace';
/** The source name of the tmpfs that holds the execution directories (work-dir.ts, mountExecutionsDir). */
export const EXECUTIONS_FS_NAME = 'runbox-executions';
/** Every source name Runbox mounts a tmpfs under (runtimes/host/mounter.py accepts only these). */
const RUNBOX_FS_NAMES: readonly string[] = [WORKSPACE_FS_NAME, EXECUTIONS_FS_NAME];
/** The options of the executions tmpfs: root's, and like the work directory, others may only pass through. */
export const EXECUTIONS_MOUNT_OPTIONS = 'mode=0711';

export interface WorkspaceSize {
  /** Bytes of file data the workspace holds at most. */
  readonly bytes: number;
  /** Files and directories the workspace holds at most. */
  readonly files: number;
}

/** The host user and group a workspace tmpfs belongs to. */
export interface WorkspaceOwner {
  readonly uid: number;
  readonly gid: number;
}

/** The mount flags of every workspace: a setuid binary or a device node made in a workspace means nothing. */
const WORKSPACE_MOUNT_FLAGS = ['nosuid', 'nodev'] as const;

// Pure: the tmpfs options of a workspace owned by uid/gid, mount(2)'s data. The flags (WORKSPACE_MOUNT_FLAGS) are
// not among them: mount(2) takes those as MS_NOSUID|MS_NODEV, and tmpfs refuses them in its data (EINVAL).
export function buildWorkspaceMountOptions(size: WorkspaceSize, owner?: WorkspaceOwner): string {
  const options = [`size=${size.bytes}`, `nr_inodes=${size.files}`, 'mode=0700'];
  if (owner) options.push(`uid=${owner.uid}`, `gid=${owner.gid}`);
  return options.join(',');
}

// Pure: the mount(8) command line of a workspace tmpfs owned by uid/gid (mount(8) turns the flags of -o into
// mount(2)'s flags itself).
export function buildWorkspaceMountArgs(dir: string, size: WorkspaceSize, owner?: WorkspaceOwner): string[] {
  return ['-t', 'tmpfs', '-o', [...WORKSPACE_MOUNT_FLAGS, buildWorkspaceMountOptions(size, owner)].join(','), WORKSPACE_FS_NAME, dir];
}

// A mount or unmount that failed: the kernel refused it (errno says why), the mount helper could not answer, or
// mount(8)/umount(8) failed or could not start (EMFILE, ENOENT; stderr says why).
export class MountError extends Error {
  constructor(
    message: string,
    /** What mount(8) or umount(8) wrote; '' through the mount helper. */
    readonly stderr: string,
    /** The kernel's errno name (EBUSY, EPERM...) through the mount helper; undefined otherwise. */
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'MountError';
  }
}

// Mounts a workspace tmpfs on dir (an empty directory), through the mount helper when there is one.
export async function mountWorkspace(dir: string, size: WorkspaceSize, owner?: WorkspaceOwner, mounter?: Mounter | null): Promise<void> {
  if (mounter) return mounter.mountTmpfs(dir, size, owner);
  checkCommand('mount', await runCommand(MOUNT_PATH, buildWorkspaceMountArgs(dir, size, owner)));
}

// Unmounts a workspace; lazily when something still holds it, so the directory can always be removed after.
export async function unmountWorkspace(dir: string, mounter?: Mounter | null): Promise<void> {
  try {
    return await unmount(dir, false, mounter);
  } catch (error) {
    if (!(error instanceof MountError)) throw error;
  }
  if (!(await isWorkspaceMount(dir))) return;
  await unmount(dir, true, mounter);
}

// Binds source onto dir (the work directory onto itself, fork-server/shared-work-dir.ts).
export async function bindMount(source: string, dir: string, mounter?: Mounter | null): Promise<void> {
  if (mounter) return mounter.bind(source, dir);
  checkCommand(`mount --bind ${source}`, await runCommand(MOUNT_PATH, ['--bind', source, dir]));
}

// Makes the mount at dir shared, so that mounts made under it later propagate to its copies.
export async function makeSharedMount(dir: string, mounter?: Mounter | null): Promise<void> {
  if (mounter) return mounter.makeShared(dir);
  checkCommand(`mount --make-shared ${dir}`, await runCommand(MOUNT_PATH, ['--make-shared', dir]));
}

// Unmounts what is mounted at dir, lazily (detached: gone from every path at once, freed once nothing holds it)
// or not; throws MountError when that fails.
async function unmount(dir: string, lazy: boolean, mounter: Mounter | null | undefined): Promise<void> {
  if (mounter) return mounter.unmount(dir, { lazy });
  checkCommand(lazy ? 'umount --lazy' : 'umount', await runCommand(UMOUNT_PATH, lazy ? ['--lazy', dir] : [dir]));
}

function checkCommand(what: string, result: CommandResult): void {
  if (result.exitCode === 0) return;
  const why = result.spawnError ?? (result.stderr.trim() || `exit code ${result.exitCode}, signal ${result.signal}`);
  throw new MountError(`${what} failed: ${why}`, result.spawnError ?? result.stderr);
}

// True when mounting a workspace tmpfs works here (tried once in a scratch directory under parentDir).
export async function canMountWorkspaces(parentDir: string, mounter?: Mounter | null): Promise<{ ok: true } | { ok: false; problem: string }> {
  const dir = await fs.mkdtemp(path.join(parentDir, 'probe-mount-'));
  try {
    await mountWorkspace(dir, { bytes: 1024 * 1024, files: 16 }, undefined, mounter);
    await unmountWorkspace(dir, mounter);
    return { ok: true };
  } catch (error) {
    const stderr = error instanceof MountError ? error.stderr : '';
    return { ok: false, problem: (stderr || (error as Error).message).trim().split('\n')[0] };
  } finally {
    await fs.rmdir(dir).catch(() => undefined);
  }
}

// Runbox's tmpfs mounts (workspaces, and the executions tmpfs that holds some) at or below root, deepest first
// (from /proc/self/mountinfo): what the sweep unmounts, in that order.
export async function tmpfsMountsUnder(root: string): Promise<string[]> {
  return parseTmpfsMounts(await readMountinfo(), root);
}

// Pure: the mount points of Runbox's tmpfs mounts in mountinfo text that lie at or under root, deepest first.
export function parseTmpfsMounts(mountinfo: string, root: string): string[] {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return parseMountinfo(mountinfo)
    .filter(({ fsType, source, mountPoint }) => fsType === 'tmpfs' && RUNBOX_FS_NAMES.includes(source) && (mountPoint === root || mountPoint.startsWith(prefix)))
    .map(({ mountPoint }) => mountPoint)
    .sort((a, b) => b.length - a.length);
}

// Unmounts every bind of dir onto itself (the fork server's shared work directory, fork-server/shared-work-dir.ts,
// which a killed daemon leaves behind), lazily: a fork server's processes that are still going away may hold
// it, and the directory must be removable at once. Returns how many there were.
export async function unmountSelfBinds(dir: string, mounter?: Mounter | null): Promise<number> {
  const count = selfBinds(parseMountinfo(await readMountinfo()), dir).length;
  for (let i = 0; i < count; i++) await unmount(dir, true, mounter);
  return count;
}

// Pure: the mounts at dir that bind dir onto itself: the same device and directory as the mount under them.
export function selfBinds(entries: readonly MountEntry[], dir: string): MountEntry[] {
  const binds: MountEntry[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (entry.mountPoint !== dir) continue;
    const under = entries.slice(0, i).filter((other) => other.mountPoint !== dir && isWithin(dir, other.mountPoint)).sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
    if (!under || under.device !== entry.device) continue;
    const expected = path.posix.join(under.root, path.posix.relative(under.mountPoint, dir));
    if (entry.root === expected) binds.push(entry);
  }
  return binds;
}

function isWithin(dir: string, mountPoint: string): boolean {
  return mountPoint === '/' || dir === mountPoint || dir.startsWith(`${mountPoint}/`);
}

async function isWorkspaceMount(dir: string): Promise<boolean> {
  return (await tmpfsMountsUnder(dir)).includes(dir);
}

export interface WorkspaceUsage {
  readonly usedBytes: number;
  readonly freeBytes: number;
  readonly usedFiles: number;
  readonly freeFiles: number;
}

// How full a workspace is (statfs), to tell "the code failed because its workspace was full"; null if unknown.
export async function workspaceUsage(dir: string): Promise<WorkspaceUsage | null> {
  try {
    const stats = await fs.statfs(dir);
    return {
      usedBytes: (stats.blocks - stats.bfree) * stats.bsize,
      freeBytes: stats.bavail * stats.bsize,
      usedFiles: stats.files - stats.ffree,
      freeFiles: stats.ffree,
    };
  } catch {
    return null;
  }
}
