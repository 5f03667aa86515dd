// Removing what sandboxed code may have written (an execution's directory, a session's, an entry a client
// deletes), with the discipline of held-dir.ts: every step names ONE entry of a directory held by descriptor
// (fd-path.ts), nothing is followed, a directory code chmod'ed 000 is given back to its owner first.
//
// The calls are synchronous, in slices of about SLICE_MS between which the event loop runs. Each one takes
// µs to some tens of µs, while a call through the thread pool costs the daemon's thread 50–100 µs on these VMs
// (waking an idle worker is a cross-CPU interrupt) and as much again on the worker: an execution's directory
// (some ten entries) cost a few ms of CPU that way. A hostile tree (a million files) is still removed without
// holding the daemon: names are read NAMES_PER_READ at a time, and each slice ends within a call or two of
// SLICE_MS. Nothing here waits on what code controls: directories open non-blocking, files are never opened.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DIR_FLAGS, entryPath, errno, O_PATH } from './fd-path.js';

/** Directories one removal holds open at once; a deeper one is moved up to the top of the tree first. */
const MAX_HELD_DEPTH = 32;
/** Times one name (or a directory's emptying) is retried when it changes while being removed. */
const MAX_REMOVE_ATTEMPTS = 4;
/** Passes over the top of a removal: each one takes every chain MAX_HELD_DEPTH levels further down. */
const MAX_TOP_PASSES = 100_000;
/** Errors that mean an entry changed while it was removed (it is looked at again). */
const RETRIED = new Set(['EISDIR', 'ENOTDIR', 'ELOOP', 'ENOTEMPTY', 'EEXIST', 'ENOENT']);
/** How long the removal runs before the event loop gets a turn. */
const SLICE_MS = 2;
/** Names read from a directory at once (a pass over a bigger one reads it again). */
const NAMES_PER_READ = 1024;

// Removes the entry `name` of the directory held by dirFd: a file, link (not what it points to), FIFO or socket
// is unlinked; a directory is emptied through descriptors and removed. False when there was nothing by that name.
export async function removeEntry(dirFd: number, name: Buffer): Promise<boolean> {
  return new Removal().removeBelow(dirFd, name, null, 0);
}

// Removes a directory tree (or whatever is at that path) by descriptors, even one whose directories code
// chmod'ed 000, and however deep; nothing there is fine. The path's parent must be the daemon's own.
export async function removeTree(treePath: string): Promise<void> {
  let parentFd: number;
  try {
    parentFd = fs.openSync(path.dirname(treePath), DIR_FLAGS);
  } catch (error) {
    if (errno(error) === 'ENOENT') return;
    throw error;
  }
  try {
    await removeEntry(parentFd, Buffer.from(path.basename(treePath)));
  } finally {
    fs.closeSync(parentFd);
  }
}

class Removal {
  private sliceStart = performance.now();

  // Lets the event loop run once the slice is used up.
  private async step(): Promise<void> {
    if (performance.now() - this.sliceStart < SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }

  // Removes `name` of the directory dirFd, `depth` directories below the top of the removal. At most
  // MAX_HELD_DEPTH directories are held at once: a deeper one is moved up into `topFd` (the same tree), which
  // empties itself until nothing is left. An entry that changes kind meanwhile is looked at again.
  async removeBelow(dirFd: number, name: Buffer, topFd: number | null, depth: number): Promise<boolean> {
    let failure: unknown;
    for (let attempt = 0; attempt < MAX_REMOVE_ATTEMPTS; attempt++) {
      await this.step();
      const entry = entryPath(dirFd, name);
      const stat = fs.lstatSync(entry, { throwIfNoEntry: false });
      if (!stat) return attempt > 0;
      try {
        if (!stat.isDirectory()) fs.unlinkSync(entry);
        else if (topFd !== null && depth >= MAX_HELD_DEPTH) fs.renameSync(entry, entryPath(topFd, Buffer.from(`.runbox-removing-${randomBytes(8).toString('hex')}`)));
        else {
          const childFd = openDirToRemove(entry);
          try {
            await this.empty(childFd, topFd, depth + 1);
          } finally {
            fs.closeSync(childFd);
          }
          fs.rmdirSync(entry);
        }
        return true;
      } catch (error) {
        if (!RETRIED.has(errno(error) ?? '')) throw error;
        failure = error;
      }
    }
    throw failure;
  }

  // Removes everything in the directory dirFd (the top of the removal when topFd is null), pass after pass
  // while entries are left: the top receives the directories moved up from below. A read that filled its
  // NAMES_PER_READ does not count as a pass: the directory simply has more.
  private async empty(dirFd: number, topFd: number | null, depth: number): Promise<void> {
    const maxPasses = topFd !== null ? MAX_REMOVE_ATTEMPTS : MAX_TOP_PASSES;
    for (let pass = 0; ; ) {
      const names = readNames(dirFd);
      if (names.length === 0) return;
      if (names.length < NAMES_PER_READ && pass++ >= maxPasses) throw Object.assign(new Error(`a directory still has entries after ${pass - 1} passes`), { code: 'ENOTEMPTY' });
      for (const name of names) await this.removeBelow(dirFd, name, topFd ?? dirFd, depth);
    }
  }
}

// Up to NAMES_PER_READ names of the directory dirFd, as bytes (read through a descriptor of its own).
function readNames(dirFd: number): Buffer[] {
  const dir = fs.opendirSync(`/proc/self/fd/${dirFd}`, { encoding: 'buffer', bufferSize: 128 } as unknown as fs.OpenDirOptions);
  const names: Buffer[] = [];
  try {
    while (names.length < NAMES_PER_READ) {
      const entry = dir.readSync();
      if (!entry) break;
      names.push(entry.name as unknown as Buffer);
    }
  } finally {
    dir.closeSync();
  }
  return names;
}

// Holds a directory to empty it, giving its owner back the rights to do so (code may have chmod'ed it 000; only
// a daemon that is not root is stopped by that).
function openDirToRemove(entry: Buffer): number {
  let fd: number;
  try {
    fd = fs.openSync(entry, DIR_FLAGS);
  } catch (error) {
    if (errno(error) !== 'EACCES') throw error;
    const pathOnly = fs.openSync(entry, O_PATH | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
    try {
      fs.chmodSync(`/proc/self/fd/${pathOnly}`, 0o700);
    } finally {
      fs.closeSync(pathOnly);
    }
    fd = fs.openSync(entry, DIR_FLAGS);
  }
  try {
    const { mode } = fs.fstatSync(fd);
    if ((mode & 0o700) !== 0o700) {
      try {
        fs.fchmodSync(fd, (mode & 0o7777) | 0o700);
      } catch {
        // the removal below says what it could not do
      }
    }
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  return fd;
}
