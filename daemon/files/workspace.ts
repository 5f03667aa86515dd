// Files of a workspace the daemon touches itself: input files before the code runs, and the session file API
// (upload, download, delete; listings are in listing.ts). Every path is walked through held directory
// descriptors (held-dir.ts): a symlink anywhere, or a file where a directory should be, is refused, never
// followed, even if code of the session were running and swapping names meanwhile.
import type { FileHandle } from 'node:fs/promises';
import { WireError } from '../errors.js';
import { HeldDir, inParentDir, openRegularFile, WalkError } from './held-dir.js';
import { detectMimeType } from './mime.js';
import { wirePath, type WorkspacePath } from './paths.js';

export type Owner = { readonly uid: number; readonly gid: number };

// Writes a file at a checked path, making missing directories (given to the owner) and replacing an existing
// file, link or special file (the entry itself, never what it points to); a directory in the way or a link on
// the way is refused with invalid_path. ENOSPC/EDQUOT become quota_exceeded (what was written is removed).
export async function writeWorkspaceFile(workspaceDir: string, target: WorkspacePath, content: Buffer, owner?: Owner): Promise<void> {
  await asWireError(target, () =>
    inParentDir(workspaceDir, target.segments, { mode: 0o755, owner }, async (parent, name) => {
      const existing = await parent.lstat(name);
      if (existing?.isDirectory()) throw new WalkError('is_directory');
      if (existing) await parent.remove(name);
      const handle = await parent.createFile(name, 0o644);
      try {
        await handle.writeFile(content);
        if (owner) await handle.chown(owner.uid, owner.gid);
      } catch (error) {
        await removeIfSame(parent, name, handle);
        throw error;
      } finally {
        await handle.close();
      }
    }),
  );
}

// Removes a file, a link (not what it points to) or a directory tree at a checked path.
export async function deleteWorkspacePath(workspaceDir: string, target: WorkspacePath): Promise<void> {
  await asWireError(target, () =>
    inParentDir(workspaceDir, target.segments, null, async (parent, name) => {
      if (!(await parent.remove(name))) throw new WalkError('missing');
    }),
  );
}

/** A regular file of a workspace, opened for reading after every check. The caller closes the handle. */
export interface OpenedWorkspaceFile {
  readonly handle: FileHandle;
  readonly size: number;
  readonly mimeType: string;
}

/** Bytes read from the start of a file to tell its type when its name does not. */
export const MIME_SNIFF_BYTES = 8192;

// Opens a file for download: a regular file with one link, reached through real directories only (see
// HeldDir.openFile). No size cap: the workspace quota bounds it, and the caller streams it.
export async function openWorkspaceFile(workspaceDir: string, target: WorkspacePath): Promise<OpenedWorkspaceFile> {
  const { handle, stat } = await asWireError(target, () => openRegularFile(workspaceDir, target.segments));
  try {
    const head = Buffer.alloc(Math.min(stat.size, MIME_SNIFF_BYTES));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return { handle, size: stat.size, mimeType: detectMimeType(mimeName(target), head.subarray(0, bytesRead)) };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

// The name MIME types are looked up by (an escaped path's `%XX` never looks like an extension).
export function mimeName(target: Pick<WorkspacePath, 'segments'>): string {
  return target.segments.map((segment) => segment.toString('utf8')).join('/');
}

// What a walk problem means for a client: which name of the path was what, as a wire error.
export function describeWalkProblem(error: WalkError, target: WorkspacePath): WireError {
  const whole = target.path;
  const last = error.depth >= target.segments.length;
  const at = wirePath(target.segments.slice(0, error.depth)).path;
  switch (error.problem) {
    case 'missing':
      return new WireError('file_not_found', `${whole}: no such file or directory in the workspace`);
    case 'symlink':
      return new WireError('invalid_path', last ? `${whole} is a symlink; links in the workspace are never followed` : `${whole}: ${at} is a symlink; links in the workspace are never followed`);
    case 'not_directory':
      return new WireError('invalid_path', `${whole}: ${at} is a file, not a directory`);
    case 'is_directory':
      return new WireError('invalid_path', `${whole} is a directory; list it with GET /v1/sessions/:id/files`);
    case 'not_regular':
      return new WireError('invalid_path', `${whole} is not a regular file (a FIFO, socket or device)`);
    case 'hard_link':
      return new WireError('invalid_path', `${whole} is a hard link to another file`);
    case 'changed':
      return new WireError('file_changed', `${whole} changed while the daemon used it (${at} was replaced); nothing outside the workspace was touched; try again`);
  }
}

// Runs a file operation, turning walk problems and a full filesystem into the wire errors that name them.
async function asWireError<T>(target: WorkspacePath, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof WalkError) throw describeWalkProblem(error, target);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new WireError('quota_exceeded', `${target.path}: the workspace is full (its quota is workspaceBytes bytes and workspaceFiles files and directories; see GET /v1/sessions/:id)`);
    }
    throw error;
  }
}

// Removes a file this write made, if `name` still is that file.
async function removeIfSame(parent: HeldDir, name: Buffer, handle: FileHandle): Promise<void> {
  const [mine, there] = await Promise.all([handle.stat().catch(() => null), parent.lstat(name).catch(() => null)]);
  if (mine && there && mine.ino === there.ino && mine.dev === there.dev) await parent.remove(name).catch(() => undefined);
}
