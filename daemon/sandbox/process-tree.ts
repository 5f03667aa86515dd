// What /proc/<pid>/stat tells of a process, read in one place: its parent pid, its state and its start time;
// and the processes a sandbox is made of, bubblewrap's pid and everything below it, found through the parent
// pids (host pid numbers; /proc/<pid>/task/<tid>/children is not built into every kernel).
import fs from 'node:fs';

/** /proc/<pid>/stat is a 16-character name and about 50 numbers. */
const STAT_MAX_BYTES = 1024;
/** Files read between two yields to the event loop (about 20 µs each). */
const READS_PER_TURN = 32;

// Pure: the fields of the text of /proc/<pid>/stat from field 3 (the state) on, or null when the text is not
// one. The command name (field 2) may hold spaces and parentheses, so fields are counted from its last ')'.
function fieldsAfterName(stat: string): string[] | null {
  const end = stat.lastIndexOf(')');
  return end === -1 ? null : stat.slice(end + 2).split(' ');
}

// Pure: the parent pid (field 4) in the text of /proc/<pid>/stat, or null when the text is not one.
export function parseParentPid(stat: string): number | null {
  const parent = Number(fieldsAfterName(stat)?.[1]);
  return Number.isInteger(parent) && parent >= 0 ? parent : null;
}

// Pure: the start time in clock ticks after boot (field 22) in the text of /proc/<pid>/stat, or null when the
// text is not one. With the pid, it tells a process from a later one that got the same pid.
export function parseStartTime(stat: string): string | null {
  const startTime = fieldsAfterName(stat)?.[19];
  return startTime && /^\d+$/.test(startTime) ? startTime : null;
}

// The start time of a process (parseStartTime), or null when it is gone.
export function readStartTime(pid: number, procDir = '/proc'): string | null {
  return parseStartTime(readSync(`${procDir}/${pid}/stat`, Buffer.allocUnsafe(STAT_MAX_BYTES)));
}

// The state letter (field 3: R, S, D, T, Z, X...) and start time of a process, or null when it is gone.
export function readProcessState(pid: number, procDir = '/proc'): { state: string; startTime: string } | null {
  const stat = readSync(`${procDir}/${pid}/stat`, Buffer.allocUnsafe(STAT_MAX_BYTES));
  const startTime = parseStartTime(stat);
  const state = fieldsAfterName(stat)?.[0];
  return startTime && state ? { state, startTime } : null;
}

// Pids of rootPid and all its live descendants, rootPid first; empty when rootPid is gone. A process that exits
// during the walk is left out. The files are read synchronously in small batches, yielding in between: a walk
// reads one file per process on the host, and hundreds of asynchronous reads would queue ahead of every other
// file operation of the daemon on libuv's thread pool.
export async function listProcessTree(rootPid: number, procDir = '/proc'): Promise<number[]> {
  if (!fs.existsSync(`${procDir}/${rootPid}`)) return [];
  const entries = (await fs.promises.readdir(procDir)).filter((entry) => /^\d+$/.test(entry));
  const children = new Map<number, number[]>();
  const buffer = Buffer.allocUnsafe(STAT_MAX_BYTES);
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % READS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    const parent = parseParentPid(readSync(`${procDir}/${entries[i]}/stat`, buffer));
    if (parent === null) continue;
    const list = children.get(parent) ?? [];
    list.push(Number(entries[i]));
    children.set(parent, list);
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

// One read of a small virtual file into the shared buffer; '' when the process is gone.
export function readSync(file: string, buffer: Buffer): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
  } catch {
    return '';
  }
  try {
    return buffer.toString('utf8', 0, fs.readSync(fd, buffer, 0, buffer.length, null));
  } catch {
    return '';
  } finally {
    fs.closeSync(fd);
  }
}
