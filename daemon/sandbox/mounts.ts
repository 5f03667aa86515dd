// Size-limited workspaces: a tmpfs with a byte and a file (inode) limit, mounted by the daemon on a workspace
// directory before bubblewrap binds it, so code that fills its workspace or creates a million files gets ENOSPC
// instead of filling the host's disk. Needs the right to mount (root); without it workspaces are plain
// directories and the daemon says so at start. mount(2) is not in Node, so util-linux's mount/umount run it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseMountinfo, readMountinfo, type MountEntry } from './mountinfo.js';
import { runCommand, type CommandResult } from './spawn.js';

export const MOUNT_PATH = '/usr/bin/mount';
export const UMOUNT_PATH = '/usr/bin/umount';
/** The source name of every workspace tmpfs, so the sweep can tell them from anything else mounted. */
export const WORKSPACE_FS_NAME = 'runbox-workspace';

export interface WorkspaceSize {
  /** Bytes of file data the workspace holds at most. */
  readonly bytes: number;
  /** Files and directories the workspace holds at most. */
  readonly files: number;
}

// Pure: the mount(8) command line of a workspace tmpfs owned by uid/gid. nosuid and nodev: a setuid binary or
// a device node made in a workspace means nothing.
export function buildWorkspaceMountArgs(dir: string, size: WorkspaceSize, owner?: { uid: number; gid: number }): string[] {
  const options = [`size=${size.bytes}`, `nr_inodes=${size.files}`, 'mode=0700', 'nosuid', 'nodev'];
  if (owner) options.push(`uid=${owner.uid}`, `gid=${owner.gid}`);
  return ['-t', 'tmpfs', '-o', options.join(','), WORKSPACE_FS_NAME, dir];
}

// A mount(8) or umount(8) that failed (or could not start: EMFILE, ENOENT); its stderr says why.
export class MountError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'MountError';
  }
}

// Mounts a workspace tmpfs on dir (an empty directory).
export async function mountWorkspace(dir: string, size: WorkspaceSize, owner?: { uid: number; gid: number }): Promise<void> {
  checkCommand('mount', await runCommand(MOUNT_PATH, buildWorkspaceMountArgs(dir, size, owner)));
}

// Unmounts a workspace; lazily when something still holds it, so the directory can always be removed after.
export async function unmountWorkspace(dir: string): Promise<void> {
  const plain = await runCommand(UMOUNT_PATH, [dir]);
  if (plain.exitCode === 0) return;
  if (!(await isWorkspaceMount(dir))) return;
  checkCommand('umount --lazy', await runCommand(UMOUNT_PATH, ['--lazy', dir]));
}

function checkCommand(what: string, result: CommandResult): void {
  if (result.exitCode === 0) return;
  const why = result.spawnError ?? (result.stderr.trim() || `exit code ${result.exitCode}, signal ${result.signal}`);
  throw new MountError(`${what} failed: ${why}`, result.spawnError ?? result.stderr);
}

// True when mounting a workspace tmpfs works here (tried once in a scratch directory under parentDir).
export async function canMountWorkspaces(parentDir: string): Promise<{ ok: true } | { ok: false; problem: string }> {
  const dir = await fs.mkdtemp(path.join(parentDir, 'probe-mount-'));
  try {
    await mountWorkspace(dir, { bytes: 1024 * 1024, files: 16 });
    await unmountWorkspace(dir);
    return { ok: true };
  } catch (error) {
    const stderr = error instanceof MountError ? error.stderr : '';
    return { ok: false, problem: (stderr || (error as Error).message).trim().split('\n')[0] };
  } finally {
    await fs.rmdir(dir).catch(() => undefined);
  }
}

// Workspace tmpfs mounts at or below root, deepest first (from /proc/self/mountinfo).
export async function workspaceMountsUnder(root: string): Promise<string[]> {
  return parseWorkspaceMounts(await readMountinfo(), root);
}

// Pure: the workspace mount points in mountinfo text that lie at or under root, deepest first.
export function parseWorkspaceMounts(mountinfo: string, root: string): string[] {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return parseMountinfo(mountinfo)
    .filter(({ fsType, source, mountPoint }) => fsType === 'tmpfs' && source === WORKSPACE_FS_NAME && (mountPoint === root || mountPoint.startsWith(prefix)))
    .map(({ mountPoint }) => mountPoint)
    .sort((a, b) => b.length - a.length);
}

// Unmounts every bind of dir onto itself (the fork server's shared work directory, fork-server/shared-work-dir.ts,
// which a killed daemon leaves behind), lazily: a fork server's processes that are still going away may hold
// it, and the directory must be removable at once. Returns how many there were.
export async function unmountSelfBinds(dir: string): Promise<number> {
  const count = selfBinds(parseMountinfo(await readMountinfo()), dir).length;
  for (let i = 0; i < count; i++) checkCommand('umount --lazy', await runCommand(UMOUNT_PATH, ['--lazy', dir]));
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
  return (await workspaceMountsUnder(dir)).includes(dir);
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
