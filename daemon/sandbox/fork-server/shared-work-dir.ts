// The work directory as a shared mount, so that what the daemon mounts in it later (each execution's workspace
// tmpfs) also appears in the fork server's copy of it, from which a child binds its own. On a host whose root is
// a private mount (most containers, this VM) nothing would propagate: the directory is bound onto itself and
// marked shared. A daemon killed before undoing it leaves the bind, which the next daemon on it reuses.
import { parseMountinfo, readMountinfo } from '../mountinfo.js';
import { MOUNT_PATH, UMOUNT_PATH } from '../mounts.js';
import { runCommand } from '../spawn.js';

/** How shareWorkDir went: `bound` when it made the bind (which unshareWorkDir then removes). */
export type SharedWorkDir = { readonly ok: true; readonly bound: boolean } | { readonly ok: false; readonly problem: string };

// Makes workDir a shared mount point (a mount point already there, an operator's or a killed daemon's, is kept).
export async function shareWorkDir(workDir: string): Promise<SharedWorkDir> {
  const mounted = parseMountinfo(await readMountinfo()).some((entry) => entry.mountPoint === workDir);
  if (!mounted) {
    const bind = await runCommand(MOUNT_PATH, ['--bind', workDir, workDir]);
    if (bind.exitCode !== 0) return { ok: false, problem: `mount --bind ${workDir} failed: ${bind.spawnError ?? bind.stderr.trim()}` };
  }
  const shared = await runCommand(MOUNT_PATH, ['--make-shared', workDir]);
  if (shared.exitCode !== 0) return { ok: false, problem: `mount --make-shared ${workDir} failed: ${shared.spawnError ?? shared.stderr.trim()}` };
  return { ok: true, bound: !mounted };
}

// Removes the bind shareWorkDir made (lazily: the fork server's copy may still be going away); a failure is
// only reported.
export async function unshareWorkDir(workDir: string): Promise<string | null> {
  const result = await runCommand(UMOUNT_PATH, ['--lazy', workDir]);
  return result.exitCode === 0 ? null : `umount ${workDir} failed: ${result.spawnError ?? result.stderr.trim()}`;
}
