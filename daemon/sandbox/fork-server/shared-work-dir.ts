// The work directory as a shared mount, so that what the daemon mounts in it later (each execution's workspace
// tmpfs) also appears in the fork server's copy of it, from which a child binds its own. On a host whose root is
// a private mount (most containers, this VM) nothing would propagate: the directory is bound onto itself and
// marked shared. The sweep of the work directory (work-dir.ts, at start and at close) unmounts such a bind with
// the workspaces (mounts.ts, parseTmpfsMounts), so a killed daemon's is gone when the next one starts.
import { parseMountinfo, readMountinfo } from '../mountinfo.js';
import type { Mounter } from '../mounter.js';
import { bindMount, makeSharedMount, MountError, selfBinds } from '../mounts.js';

// Makes workDir a shared mount point, bound onto itself (through the mount helper when there is one); null when
// done, else why it could not be.
export async function shareWorkDir(workDir: string, mounter?: Mounter | null): Promise<string | null> {
  try {
    if (selfBinds(parseMountinfo(await readMountinfo()), workDir).length === 0) await bindMount(workDir, workDir, mounter);
    await makeSharedMount(workDir, mounter);
    return null;
  } catch (error) {
    if (error instanceof MountError) return error.message;
    throw error;
  }
}
