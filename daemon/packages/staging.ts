// Where an install happens: a staging copy next to the target directory, published by replacing a symbolic
// link in one rename, so the target always names a complete tree, even to code that reads it mid-install.
//
//   <parent>/python            -> .python.3f9a0c1d2b4e   (the target: a relative link, resolved inside a sandbox too)
//   <parent>/.python.3f9a0c1d2b4e/                       (the tree it names; replaced by a new one on each install)
import crypto from 'node:crypto';
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../files/tree-removal.js';

export interface Staging {
  /** The new tree, filled by the installer; a copy of the current one to begin with. */
  readonly stagingDir: string;
  /** The tree the target names now (null when there is none), removed once the new one is published. */
  readonly currentDir: string | null;
}

// Creates a staging tree next to targetDir holding a copy of the current tree (timestamps kept, so compiled
// bytecode stays valid; links kept as written).
export async function prepareStaging(targetDir: string): Promise<Staging> {
  const currentDir = await currentTree(targetDir);
  const stagingDir = treeName(targetDir);
  await fs.mkdir(stagingDir, { mode: 0o755 });
  try {
    if (currentDir) {
      await fs.cp(currentDir, stagingDir, {
        recursive: true,
        verbatimSymlinks: true,
        preserveTimestamps: true,
        errorOnExist: true,
        force: false,
        mode: fs.constants.COPYFILE_FICLONE,
      });
    }
  } catch (error) {
    await removeTree(stagingDir);
    throw error;
  }
  return { stagingDir, currentDir };
}

// Points targetDir at the staging tree with one rename over the old link, then removes the old tree. A target
// that is still a plain directory (made by someone else) is moved aside first: the one moment it names nothing.
export async function publishStaging(targetDir: string, staging: Staging): Promise<void> {
  const link = `${treeName(targetDir)}.link`;
  await fs.symlink(path.basename(staging.stagingDir), link);
  let movedAside: string | null = null;
  try {
    if (staging.currentDir === targetDir) {
      movedAside = treeName(targetDir);
      await fs.rename(targetDir, movedAside);
    }
    await fs.rename(link, targetDir);
  } catch (error) {
    if (movedAside) await fs.rename(movedAside, targetDir).catch(() => undefined);
    await fs.rm(link, { force: true });
    throw error;
  }
  const oldDir = movedAside ?? staging.currentDir;
  if (oldDir) await removeTree(oldDir);
}

// Total bytes of the files and links in a tree (their sizes, not the blocks they take). Entries that vanish while
// it is walked (an installer renaming its temporary files) count as nothing, and a missing tree is 0.
export async function treeBytes(dir: string): Promise<number> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return 0;
    throw error;
  }
  let total = 0;
  for (const entry of entries) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(entryPath);
    else total += (await fs.lstat(entryPath).catch(() => null))?.size ?? 0;
  }
  return total;
}

// Gives a tree to a user (links themselves, not what they point to), so an installer running as them can write it.
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fs.lchown(dir, uid, gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(entryPath, uid, gid);
    else await fs.lchown(entryPath, uid, gid);
  }
}

// The real directory targetDir names: the link's tree, the directory itself, or null when there is none.
async function currentTree(targetDir: string): Promise<string | null> {
  const stat = await fs.lstat(targetDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!stat) return null;
  if (stat.isDirectory()) return targetDir;
  if (!stat.isSymbolicLink()) throw new Error(`package directory ${targetDir} exists but is neither a directory nor a link`);
  const resolved = path.resolve(path.dirname(targetDir), await fs.readlink(targetDir));
  const owned = path.dirname(resolved) === path.dirname(targetDir) && isTreeName(targetDir, path.basename(resolved));
  if (!owned) throw new Error(`package directory ${targetDir} links to ${resolved}, which is not one of its own trees`);
  return (await fs.stat(resolved).catch(() => null))?.isDirectory() ? resolved : null;
}

function treeName(targetDir: string): string {
  return path.join(path.dirname(targetDir), `.${path.basename(targetDir)}.${crypto.randomBytes(6).toString('hex')}`);
}

function isTreeName(targetDir: string, name: string): boolean {
  return name.startsWith(`.${path.basename(targetDir)}.`) && /^[0-9a-f]{12}$/.test(name.slice(path.basename(targetDir).length + 2));
}
