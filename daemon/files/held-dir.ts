// The one way the daemon walks a directory tree that sandboxed code can change while it is walked (workspaces,
// execution directories): reading, writing, listing and removing all go through directories held by descriptor
// (removing: tree-removal.ts).
//
// Node has no openat(2), but `/proc/self/fd/<fd>/<name>` resolves <name> inside the directory that descriptor
// holds: the magic link is the open directory itself, not a path anyone could swap. Each step opens exactly ONE
// name relative to a held directory (directories with O_DIRECTORY|O_NOFOLLOW, files with O_NOFOLLOW|O_NONBLOCK,
// so a FIFO never blocks the daemon), and fstat checks what was opened. A symlink swapped in at any moment fails
// with ENOTDIR or ELOOP instead of being followed; lstat, unlink, rmdir and mkdir never follow the last name.
// A held directory that code renames stays inside its workspace: the workspace is its own mount (a tmpfs, and
// inside the sandbox a bind mount), and rename(2) across mounts fails with EXDEV. Names are Buffers, so names
// that are not UTF-8 are walked, listed and removed like any other.
//
// Device files: code cannot make them (no CAP_MKNOD in its user namespace; workspace tmpfs are nodev), and files
// are lstat'ed before they are opened, so the daemon never opens a device it did not expect.
import { constants, type Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import { DIR_FLAGS, entryPath, errno, FILE_FLAGS } from './fd-path.js';
import { removeEntry } from './tree-removal.js';

/** Why a walk stopped: what the name at `depth` (1 = the first name of the path) turned out to be. */
export type WalkProblem = 'missing' | 'symlink' | 'not_directory' | 'is_directory' | 'not_regular' | 'hard_link' | 'changed';

export class WalkError extends Error {
  /** How many names of the path, up to and including the one at fault (set by the walk). */
  depth = 0;
  constructor(readonly problem: WalkProblem) {
    super(`workspace walk: ${problem}`);
    this.name = 'WalkError';
  }
}

export interface CreateDirs {
  /** Mode of each directory made. */
  readonly mode: number;
  /** Who gets each directory made (the sandbox user). */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/** A directory held open by descriptor; every operation names one entry in it. Close it when done. */
export class HeldDir {
  private constructor(private readonly handle: FileHandle) {}

  // Holds a directory the daemon names by path (its own workspace or work directory, which no code can change).
  static async open(dirPath: string): Promise<HeldDir> {
    return new HeldDir(await fs.open(dirPath, DIR_FLAGS));
  }

  // The entry `name` in this very directory, as a path the kernel resolves from the descriptor.
  private entry(name: Buffer): Buffer {
    return entryPath(this.handle.fd, name);
  }

  // The entry's own metadata (a link is not followed); null when there is none.
  async lstat(name: Buffer): Promise<Stats | null> {
    try {
      return await fs.lstat(this.entry(name));
    } catch (error) {
      if (errno(error) === 'ENOENT') return null;
      throw error;
    }
  }

  // The names in this directory, as bytes.
  async names(): Promise<Buffer[]> {
    return fs.readdir(Buffer.from(`/proc/self/fd/${this.handle.fd}`), { encoding: 'buffer' });
  }

  // True when /proc/self/fd/<fd> is this very directory (checkHeldDirs).
  async resolvesThroughProc(): Promise<boolean> {
    const [viaProc, direct] = await Promise.all([fs.stat(`/proc/self/fd/${this.handle.fd}`).catch(() => null), this.handle.stat()]);
    return viaProc !== null && viaProc.ino === direct.ino && viaProc.dev === direct.dev;
  }

  /** This directory's own metadata. */
  stat(): Promise<Stats> {
    return this.handle.stat();
  }

  // Holds the subdirectory `name`; a link or anything but a directory is a WalkError, never followed.
  async openDir(name: Buffer): Promise<HeldDir> {
    try {
      return new HeldDir(await fs.open(this.entry(name), DIR_FLAGS));
    } catch (error) {
      throw await this.explain(name, error);
    }
  }

  // Holds the subdirectory `name`, making it (with the given mode and owner) when it does not exist.
  async openOrMakeDir(name: Buffer, create: CreateDirs): Promise<HeldDir> {
    let made = true;
    try {
      await fs.mkdir(this.entry(name), { mode: create.mode });
    } catch (error) {
      if (errno(error) !== 'EEXIST') throw error;
      made = false;
    }
    const dir = await this.openDir(name);
    try {
      if (made && create.owner) await dir.handle.chown(create.owner.uid, create.owner.gid);
    } catch (error) {
      await dir.close();
      throw error;
    }
    return dir;
  }

  // Opens the regular file `name` for reading: lstat'ed first (no link, FIFO, socket or device is ever opened
  // on purpose), then opened without following or blocking and matched by inode with what lstat saw. One link
  // only: a second name for a file may sit outside the workspace (code cannot make one across filesystems or
  // mounts, so this refuses what someone else linked in, and every hard link inside the workspace alike).
  async openFile(name: Buffer): Promise<{ handle: FileHandle; stat: Stats }> {
    const seen = await this.lstat(name);
    if (!seen) throw new WalkError('missing');
    if (seen.isSymbolicLink()) throw new WalkError('symlink');
    if (seen.isDirectory()) throw new WalkError('is_directory');
    if (!seen.isFile()) throw new WalkError('not_regular');
    if (seen.nlink > 1) throw new WalkError('hard_link');
    let handle: FileHandle;
    try {
      handle = await fs.open(this.entry(name), constants.O_RDONLY | FILE_FLAGS);
    } catch (error) {
      if (['ENOENT', 'ELOOP', 'ENXIO', 'EISDIR'].includes(errno(error) ?? '')) throw new WalkError('changed');
      throw error;
    }
    const stat = await handle.stat();
    if (!stat.isFile() || stat.ino !== seen.ino || stat.dev !== seen.dev || stat.nlink > 1) {
      await handle.close();
      throw new WalkError('changed');
    }
    return { handle, stat };
  }

  // Creates `name` as a new regular file (O_EXCL: never through a link, never an existing file).
  async createFile(name: Buffer, mode: number): Promise<FileHandle> {
    try {
      return await fs.open(this.entry(name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    } catch (error) {
      if (errno(error) === 'EEXIST') throw new WalkError('changed');
      throw error;
    }
  }

  // Removes the entry itself: a file, link (not what it points to), FIFO or socket is unlinked; a directory is
  // emptied through descriptors and removed. False when there was nothing by that name.
  async remove(name: Buffer): Promise<boolean> {
    return removeEntry(this.handle.fd, name);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  // A failed open of `name` as a WalkError when it says what the entry is; other errors as they are.
  private async explain(name: Buffer, error: unknown): Promise<unknown> {
    const code = errno(error);
    if (code === 'ENOENT') return new WalkError('missing');
    if (code !== 'ENOTDIR' && code !== 'ELOOP') return error;
    const stat = await this.lstat(name).catch(() => null);
    return new WalkError(stat?.isSymbolicLink() ? 'symlink' : stat ? 'not_directory' : 'changed');
  }
}

// Walks to the directory holding the last of `segments` (each one before it a real directory, never a link;
// made when `create` is given), runs fn with it and the last name, and closes every descriptor it opened.
// A WalkError says at which name the walk stopped.
export async function inParentDir<T>(rootDir: string, segments: readonly Buffer[], create: CreateDirs | null, fn: (parent: HeldDir, name: Buffer) => Promise<T>): Promise<T> {
  let dir = await HeldDir.open(rootDir);
  try {
    for (const [index, segment] of segments.slice(0, -1).entries()) {
      const next = await located(index + 1, create ? dir.openOrMakeDir(segment, create) : dir.openDir(segment));
      await dir.close();
      dir = next;
    }
    return await located(segments.length, fn(dir, segments[segments.length - 1]));
  } finally {
    await dir.close();
  }
}

// Opens the regular file at `segments` below rootDir for reading (see HeldDir.openFile).
export function openRegularFile(rootDir: string, segments: readonly Buffer[]): Promise<{ handle: FileHandle; stat: Stats }> {
  return inParentDir(rootDir, segments, null, (parent, name) => parent.openFile(name));
}

// Proves at start that /proc/self/fd resolves names relative to a held directory here (it needs /proc mounted);
// every file operation on a workspace depends on it. Throws a message that says what is missing.
export async function checkHeldDirs(dir: string): Promise<void> {
  const held = await HeldDir.open(dir);
  try {
    if (!(await held.resolvesThroughProc())) {
      throw new Error(`/proc/self/fd does not resolve open directories here (is /proc mounted?); Runbox walks workspaces through it and cannot run without it`);
    }
  } finally {
    await held.close();
  }
}

async function located<T>(depth: number, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof WalkError && error.depth === 0) error.depth = depth;
    throw error;
  }
}
