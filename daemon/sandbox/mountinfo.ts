// /proc/self/mountinfo, the one parser of it: the cgroup detection and the sweep of workspace mounts both read
// it. Paths in it are written by the kernel with space, tab, newline and backslash as octal escapes (`\040`);
// sandboxed code can make directories with such names in its workspace, so every field is decoded here.
import fs from 'node:fs/promises';

/** One line of mountinfo (proc(5)), its fields decoded. */
export interface MountEntry {
  /** The device of the file system (`major:minor`). */
  readonly device: string;
  /** Where the file system is mounted. */
  readonly mountPoint: string;
  /** The directory of the file system that is mounted there (`/` for the whole of it). */
  readonly root: string;
  readonly fsType: string;
  /** What was mounted (a device, or a name such as `tmpfs` or `runbox-workspace`). */
  readonly source: string;
  /** Per-mount options (rw, nosuid, ...). */
  readonly mountOptions: readonly string[];
  /** Per-superblock options (for cgroup v1: the controllers of the hierarchy). */
  readonly superOptions: readonly string[];
}

// The text of this process's mountinfo; '' where /proc is not mounted.
export async function readMountinfo(): Promise<string> {
  return fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
}

// Pure: the mounts listed in mountinfo text, in its order; a line that is not a mount line is skipped.
// Fields: id, parent id, major:minor, root, mount point, mount options, optional fields ending with `-`, then
// file system type, source and super options.
export function parseMountinfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    if (separator === -1 || fields.length < separator + 3) continue;
    const [, , device, root, mountPoint, mountOptions] = fields;
    const [fsType, source, superOptions = ''] = fields.slice(separator + 1);
    mounts.push({
      device,
      mountPoint: unescapeMountField(mountPoint),
      root: unescapeMountField(root),
      fsType: unescapeMountField(fsType),
      source: unescapeMountField(source),
      mountOptions: mountOptions.split(',').map(unescapeMountField),
      superOptions: superOptions.split(',').map(unescapeMountField),
    });
  }
  return mounts;
}

// Pure: a mountinfo field with its octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) decoded.
export function unescapeMountField(raw: string): string {
  return raw.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
