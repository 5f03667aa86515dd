// Facts about the host gathered once at start (where things are, how / is laid out) and the daemon's own
// directories: the work directory and the runtime files every sandbox binds read-only.
import { closeSync, constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostLayout } from './args.js';
import { EMPTY_FILE, SANDBOX_INNER_ID } from './args.js';

const ROOT_ENTRIES = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];
const ETC_ENTRIES = ['ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'localtime', 'alternatives', 'fonts', 'mime.types'];
/**
 * /proc files a sandbox's own /proc would still show of the host, none of which code needs: the kernel's boot
 * line and build configuration, its symbols and modules, the scheduler's and timers' views (which name host
 * processes), the key-usage of every user, and the host's boot id. Which of them exist depends on the kernel.
 */
export const HOST_PROC_FILES = ['cmdline', 'config.gz', 'kallsyms', 'modules', 'sched_debug', 'timer_list', 'keys', 'key-users', 'bootconfig', 'sys/kernel/random/boot_id'];

// Reads how the host's root is laid out (merged /usr symlinks or real directories), which /etc entries exist, and
// which of HOST_PROC_FILES this kernel has (bubblewrap can only cover a file that exists).
export async function detectHostLayout(): Promise<HostLayout> {
  const rootSymlinks: Record<string, string> = {};
  const rootDirs: string[] = [];
  for (const name of ROOT_ENTRIES) {
    const stat = await fs.lstat(`/${name}`).catch(() => null);
    if (stat?.isSymbolicLink()) rootSymlinks[name] = await fs.readlink(`/${name}`);
    else if (stat?.isDirectory()) rootDirs.push(name);
  }
  const etcEntries: string[] = [];
  for (const name of ETC_ENTRIES) {
    if (await fs.stat(`/etc/${name}`).catch(() => null)) etcEntries.push(name);
  }
  const maskedProcFiles: string[] = [];
  for (const name of HOST_PROC_FILES) {
    if (await fs.stat(`/proc/${name}`).catch(() => null)) maskedProcFiles.push(name);
  }
  return Object.freeze({ rootSymlinks, rootDirs, etcEntries, maskedProcFiles });
}

// Finds an executable: an absolute path as it is, a bare name on PATH. Null when there is none.
export async function resolveExecutable(name: string, searchPath: string | undefined): Promise<string | null> {
  const candidates = path.isAbsolute(name) ? [name] : (searchPath ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, name));
  for (const candidate of candidates) {
    try {
      await fs.access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  return null;
}

// The folder holding runtimes/python and runtimes/node of this package, found from this module's place.
export async function findRuntimeSources(): Promise<string> {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'runtimes');
    if (await fs.stat(path.join(candidate, 'python', 'prelude.py')).catch(() => null)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('runtimes/python/prelude.py not found above the daemon');
    dir = parent;
  }
}

// Creates the work directory (or checks the existing one) so that only this user owns it and a sandbox user
// can traverse but not list it. Refuses a symlink or a directory owned by someone else (a planted directory).
export async function ensureWorkDir(workDir: string): Promise<void> {
  await fs.mkdir(workDir, { recursive: true, mode: 0o711 });
  const stat = await fs.lstat(workDir);
  const uid = process.getuid?.() ?? stat.uid;
  if (!stat.isDirectory()) throw new Error(`work directory ${workDir} is not a directory (a symlink?)`);
  if (stat.uid !== uid) throw new Error(`work directory ${workDir} is owned by uid ${stat.uid}, not by this daemon (uid ${uid})`);
  await fs.chmod(workDir, 0o711);
}

// Copies the preludes into the work directory (readable by the sandbox user wherever the package lives) and
// writes the synthetic /etc files a sandbox sees, and the empty file that covers host files of /proc. Returns that directory.
// `compilePython` gets the copied python folder before it is sealed, to write bytecode next to the sources.
export async function prepareRuntimeDir(workDir: string, sourcesDir: string, compilePython?: (dir: string) => Promise<void>): Promise<string> {
  const runtimeDir = path.join(workDir, 'runtimes');
  const staging = `${runtimeDir}.${process.pid}.tmp`;
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(path.join(staging, 'etc'), { recursive: true, mode: 0o755 });
  await fs.cp(path.join(sourcesDir, 'python'), path.join(staging, 'python'), { recursive: true, filter: (src) => !src.includes('__pycache__') });
  await fs.cp(path.join(sourcesDir, 'node'), path.join(staging, 'node'), { recursive: true });
  await fs.copyFile(path.join(sourcesDir, 'protocol.json'), path.join(staging, 'protocol.json'));
  if (compilePython) await compilePython(path.join(staging, 'python'));
  const id = SANDBOX_INNER_ID;
  await fs.writeFile(path.join(staging, 'etc', 'passwd'), `root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:${id}:${id}:Runbox sandbox:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`);
  await fs.writeFile(path.join(staging, 'etc', 'group'), `root:x:0:\nsandbox:x:${id}:\nnogroup:x:65534:\n`);
  await fs.writeFile(path.join(staging, 'etc', 'hosts'), '127.0.0.1 localhost runbox\n::1 localhost\n');
  await fs.writeFile(path.join(staging, EMPTY_FILE), '');
  await makeWorldReadable(staging);
  await fs.rm(runtimeDir, { recursive: true, force: true });
  await fs.rename(staging, runtimeDir);
  return runtimeDir;
}

// chmod a+rX, recursively: directories 755, files 644.
async function makeWorldReadable(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeWorldReadable(full);
    else await fs.chmod(full, 0o644);
  }
}

// Prebuilt matplotlib font-cache files in the Python environment (made by scripts/setup.sh), if any.
export async function findMatplotlibCache(pythonEnv: string): Promise<string[]> {
  const dir = path.join(pythonEnv, 'mpl-cache');
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => name.startsWith('fontlist') && name.endsWith('.json')).map((name) => path.join(dir, name));
}

const O_CLOEXEC = 0o2000000;

// Closes descriptors this process inherited without close-on-exec (Node opens all of its own with it): they
// would otherwise pass through bubblewrap into every sandbox. Returns the descriptors it closed.
export async function closeInheritedDescriptors(): Promise<number[]> {
  const closed: number[] = [];
  const entries = await fs.readdir('/proc/self/fdinfo').catch(() => [] as string[]);
  for (const entry of entries) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    const info = await fs.readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    const flags = /^flags:\s+([0-7]+)/m.exec(info);
    if (!flags || (parseInt(flags[1], 8) & O_CLOEXEC) !== 0) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // already gone
    }
  }
  return closed;
}
