// What every walk through a tree that sandboxed code can change shares (held-dir.ts, tree-removal.ts): the
// flags a directory or a file is opened with, and the path that names ONE entry of a directory held by
// descriptor (`/proc/self/fd/<fd>/<name>`: the kernel resolves it inside the directory that descriptor holds).
import { constants } from 'node:fs';

/** O_NONBLOCK too: what turns out not to be a directory is never waited on (O_DIRECTORY refuses it first anyway). */
export const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
export const FILE_FLAGS = constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** O_PATH (Linux; Node does not export it): names a directory without the right to read it (to chmod it back). */
export const O_PATH = 0o10000000;

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

// The entry `name` of the directory held by fd, as a path the kernel resolves from the descriptor; throws for
// anything but one file name (a slash, a NUL, `.` or `..` would leave the directory).
export function entryPath(fd: number, name: Buffer): Buffer {
  if (name.length === 0 || name.includes(0x2f) || name.includes(0) || name.equals(DOT) || name.equals(DOTDOT)) {
    throw new Error(`not a single file name: ${JSON.stringify(name.toString('latin1'))}`);
  }
  return Buffer.concat([Buffer.from(`/proc/self/fd/${fd}/`), name]);
}

// The error code of a failed call (ENOENT, EACCES…), if it has one.
export function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}
