// The work directory as a shared mount, so that what the daemon mounts in it later (each execution's workspace
// tmpfs) also appears in the fork server's copy of it, from which a child binds its own. On a host whose root is
// a private mount (most containers, this VM) nothing would propagate: the directory is bound onto itself and
// marked shared. The sweep of the work directory (work-dir.ts, at start and at close) unmounts such a bind with
// the workspaces (mounts.ts, parseWorkspaceMounts), so a killed daemon's is gone when the next one starts.
import { parseMountinfo, readMountinfo } from '../mountinfo.js';
import { MOUNT_PATH, selfBinds } from '../mounts.js';
import { runCommand } from '../spawn.js';

// Makes workDir a shared mount point, bound onto itself; null when done, else why it could not be.
export async function shareWorkDir(workDir: string): Promise<string | null> {
  if (selfBinds(parseMountinfo(await readMountinfo()), workDir).length === 0) {
    const bind = await runCommand(MOUNT_PATH, ['--bind', workDir, workDir]);
    if (bind.exitCode !== 0) return `mount --bind ${workDir} failed: ${bind.spawnError ?? bind.stderr.trim()}`;
  }
  const shared = await runCommand(MOUNT_PATH, ['--make-shared', workDir]);
  return shared.exitCode === 0 ? null : `mount --make-shared ${workDir} failed: ${shared.spawnError ?? shared.stderr.trim()}`;
}
