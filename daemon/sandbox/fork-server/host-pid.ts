// Host pids of a fork server's processes. The server names its children by their pids in its own pid namespace;
// the daemon moves them into their cgroups by host pid. /proc/<pid>/status says both (NSpid), and a child just
// forked has one of the highest pids, so the walk starts there and usually reads a handful of files.
import fs from 'node:fs';
import { listProcessTree, parseParentPid, readSync as readSmall } from '../process-tree.js';

const STATUS_MAX_BYTES = 4096;
/** Files read between two yields to the event loop. */
const READS_PER_TURN = 32;

// Pure: the pids of a process in each pid namespace it is in, outermost first, from the text of /proc/<pid>/status.
export function parseNamespacePids(status: string): number[] {
  const line = /^NSpid:\s*(.*)$/m.exec(status)?.[1];
  return line ? line.trim().split(/\s+/).map(Number).filter((pid) => Number.isInteger(pid) && pid > 0) : [];
}

// How many pid namespaces a process is in (its own and those above it), from /proc/<pid>/status; 0 when unknown.
export function namespaceDepth(pid: number, procDir = '/proc'): number {
  return parseNamespacePids(readSmall(`${procDir}/${pid}/status`, Buffer.allocUnsafe(STATUS_MAX_BYTES))).length;
}

// The host pid of parentPid's child whose pid in the parent's own pid namespace (the parent is in parentDepth of
// them) is nsPid, or null when there is none. The child may be pid 1 of a namespace of its own below that one.
export async function findChildByNamespacePid(parentPid: number, parentDepth: number, nsPid: number, procDir = '/proc'): Promise<number | null> {
  if (parentDepth === 0) return null;
  const entries = (await fs.promises.readdir(procDir)).filter((entry) => /^\d+$/.test(entry)).map(Number).sort((a, b) => b - a);
  const buffer = Buffer.allocUnsafe(STATUS_MAX_BYTES);
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % READS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    const pid = entries[i];
    if (parseParentPid(readSmall(`${procDir}/${pid}/stat`, buffer)) !== parentPid) continue;
    if (parseNamespacePids(readSmall(`${procDir}/${pid}/status`, buffer))[parentDepth - 1] === nsPid) return pid;
  }
  return null;
}

// The host pid of the fork server's interpreter: the deepest process below the one the daemon spawned (setpriv,
// then unshare, bubblewrap and its pid 1), once it runs the server's command; null when there is no such one.
export async function findServerProcess(spawnedPid: number, marker: string, procDir = '/proc'): Promise<number | null> {
  const tree = await listProcessTree(spawnedPid, procDir);
  const buffer = Buffer.allocUnsafe(STATUS_MAX_BYTES);
  for (const pid of tree.reverse()) {
    if (readSmall(`${procDir}/${pid}/cmdline`, buffer).includes(marker)) return pid;
  }
  return null;
}
