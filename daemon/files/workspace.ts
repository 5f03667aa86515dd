// Files of a workspace the daemon touches itself: input files before the code runs, and the session file API
// (upload, list, delete; downloads go through outputs.ts). Every path is walked component by component with
// lstat: a symlink anywhere, or a file where a directory should be, is refused, never followed. Callers make sure
// no sandbox process of that workspace runs meanwhile (a fresh workspace, or a session's turn), so nothing can
// swap a component between the check and the use.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { WireError } from '../errors.js';
import { detectMimeType, lookupMimeType } from './mime.js';

export type Owner = { readonly uid: number; readonly gid: number };

export interface WorkspaceEntry {
  path: string;
  size: number;
  mimeType: string;
  modified: string;
}

// Writes a file at a checked relative path, making missing directories (given to the owner) and replacing an
// existing regular file; a symlink or a directory in the way is refused with invalid_path. ENOSPC/EDQUOT
// become quota_exceeded (what was written of the file is removed).
export async function writeWorkspaceFile(workspaceDir: string, relative: string, content: Buffer, owner?: Owner): Promise<void> {
  const segments = relative.split('/');
  let current = workspaceDir;
  for (const [index, segment] of segments.slice(0, -1).entries()) {
    current = path.join(current, segment);
    const stat = await lstatOrNull(current);
    const shown = segments.slice(0, index + 1).join('/');
    if (stat === null) {
      await noSpace(fs.mkdir(current, { mode: 0o755 }), relative);
      if (owner) await fs.chown(current, owner.uid, owner.gid);
    } else if (stat.isSymbolicLink()) {
      throw new WireError('invalid_path', `${relative}: ${shown} is a symlink; links in the workspace are never followed`);
    } else if (!stat.isDirectory()) {
      throw new WireError('invalid_path', `${relative}: ${shown} is a file, not a directory`);
    }
  }
  const target = path.join(workspaceDir, relative);
  const existing = await lstatOrNull(target);
  if (existing?.isDirectory()) throw new WireError('invalid_path', `${relative} is a directory`);
  // A symlink or special file at the target is replaced, never written through (unlink does not follow links).
  if (existing) await fs.unlink(target);
  const handle = await noSpace(fs.open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644), relative);
  try {
    await noSpace(handle.writeFile(content), relative);
    if (owner) await handle.chown(owner.uid, owner.gid);
  } catch (error) {
    await fs.unlink(target).catch(() => undefined);
    throw error;
  } finally {
    await handle.close();
  }
}

// Removes a file, a symlink (not what it points to) or a directory tree at a checked relative path.
export async function deleteWorkspacePath(workspaceDir: string, relative: string): Promise<void> {
  const segments = relative.split('/');
  let current = workspaceDir;
  for (const [index, segment] of segments.entries()) {
    current = path.join(current, segment);
    const stat = await lstatOrNull(current);
    const shown = segments.slice(0, index + 1).join('/');
    if (stat === null) throw new WireError('file_not_found', `${relative}: no such file or directory in the workspace`);
    if (index === segments.length - 1) break;
    if (stat.isSymbolicLink()) throw new WireError('invalid_path', `${relative}: ${shown} is a symlink; links in the workspace are never followed`);
    if (!stat.isDirectory()) throw new WireError('invalid_path', `${relative}: ${shown} is a file, not a directory`);
  }
  await fs.rm(current, { recursive: true, force: true });
}

// Lists the regular files of a workspace (symlinks and special files are skipped, never followed), sorted by
// path, at most maxEntries of them; `truncated` says there were more.
export async function listWorkspaceFiles(workspaceDir: string, maxEntries: number): Promise<{ files: WorkspaceEntry[]; truncated: boolean }> {
  const files: WorkspaceEntry[] = [];
  let truncated = false;
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (files.length >= maxEntries) {
        truncated = true;
        return;
      }
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, relative);
      else if (entry.isFile()) {
        const stat = await lstatOrNull(full);
        if (stat?.isFile()) files.push({ path: relative, size: stat.size, mimeType: await mimeTypeOf(full, relative), modified: stat.mtime.toISOString() });
      }
    }
  };
  await walk(workspaceDir, '');
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, truncated };
}

/** A regular file of a workspace, opened for reading after every check. The caller closes the handle. */
export interface OpenedWorkspaceFile {
  readonly handle: fs.FileHandle;
  readonly size: number;
  readonly mimeType: string;
}

// Opens a file for download: every component checked with lstat (no links, directories on the way), a regular
// file with one link at the end, opened with O_NOFOLLOW and matched by inode with what was checked. No size
// cap: the workspace quota bounds it, and the caller streams it.
export async function openWorkspaceFile(workspaceDir: string, relative: string): Promise<OpenedWorkspaceFile> {
  const segments = relative.split('/');
  let current = workspaceDir;
  let stat: Awaited<ReturnType<typeof fs.lstat>> | null = null;
  for (const [index, segment] of segments.entries()) {
    current = path.join(current, segment);
    stat = await lstatOrNull(current);
    const shown = segments.slice(0, index + 1).join('/');
    if (stat === null) throw new WireError('file_not_found', `${relative}: no such file in the workspace`);
    if (stat.isSymbolicLink()) throw new WireError('invalid_path', `${relative}: ${shown} is a symlink; links in the workspace are never followed`);
    if (index < segments.length - 1 && !stat.isDirectory()) throw new WireError('invalid_path', `${relative}: ${shown} is a file, not a directory`);
  }
  if (!stat || stat.isDirectory()) throw new WireError('invalid_path', `${relative} is a directory; list it with GET /v1/sessions/:id/files`);
  if (!stat.isFile()) throw new WireError('invalid_path', `${relative} is not a regular file (a FIFO, socket or device)`);
  if (stat.nlink > 1) throw new WireError('invalid_path', `${relative} is a hard link to another file`);
  const handle = await fs.open(current, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.ino !== stat.ino || opened.dev !== stat.dev) throw new WireError('invalid_path', `${relative} changed while it was opened`);
    const head = Buffer.alloc(Math.min(opened.size, MIME_SNIFF_BYTES));
    await handle.read(head, 0, head.length, 0);
    return { handle, size: opened.size, mimeType: detectMimeType(relative, head) };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Bytes read from the start of a file to tell its type when its name does not. */
const MIME_SNIFF_BYTES = 8192;

// The MIME type by name, else by the first bytes, as a download would report it.
async function mimeTypeOf(full: string, relative: string): Promise<string> {
  const byName = lookupMimeType(relative);
  if (byName !== 'application/octet-stream') return byName;
  const handle = await fs.open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
  if (!handle) return byName;
  try {
    const head = Buffer.alloc(MIME_SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return detectMimeType(relative, head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

async function lstatOrNull(target: string) {
  try {
    return await fs.lstat(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

// Turns a full filesystem into the wire error that names the quota.
async function noSpace<T>(work: Promise<T>, relative: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new WireError('quota_exceeded', `${relative}: the workspace is full (its quota is workspaceBytes bytes and workspaceFiles files and directories; see GET /v1/sessions/:id)`);
    }
    throw error;
  }
}
