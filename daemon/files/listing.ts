// The file listing of a workspace (GET /v1/sessions/:id/files): every entry but directories, walked through
// held directory descriptors, so nothing code does to its files makes a listing fail or reach outside.
import type { Stats } from 'node:fs';
import { HeldDir, WalkError } from './held-dir.js';
import { detectMimeType, lookupMimeType } from './mime.js';
import { MAX_PATH_BYTES, wirePath } from './paths.js';
import { MIME_SNIFF_BYTES, mimeName } from './workspace.js';
import type { WorkspaceEntry, WorkspaceEntryType, WorkspaceListing } from '../wire-types.js';


/** Entries (directories too) a listing looks at before it stops and says `truncated`. */
const MAX_VISITED = 100_000;
/** The times a JavaScript Date can hold (±8.64e15 ms around 1970): mtimes beyond are clamped to them. */
const MAX_DATE_MS = 8.64e15;

// Lists a workspace's files (regular files, links, FIFOs, sockets; directories are implied by the paths),
// sorted by path, at most maxEntries of them. `truncated` says there were more, or deeper than a file API path
// can name (MAX_PATH_BYTES).
export async function listWorkspaceFiles(workspaceDir: string, maxEntries: number): Promise<WorkspaceListing> {
  const files: WorkspaceEntry[] = [];
  let truncated = false;
  let visited = 0;
  const walk = async (dir: HeldDir, prefix: Buffer[]): Promise<void> => {
    const names = (await dir.names().catch(skipGone)) ?? [];
    names.sort(Buffer.compare);
    for (const name of names) {
      if (files.length >= maxEntries || ++visited > MAX_VISITED) {
        truncated = true;
        return;
      }
      const segments = [...prefix, name];
      const stat = await dir.lstat(name).catch(skipGone);
      if (!stat) continue;
      if (!stat.isDirectory()) {
        files.push(await describeEntry(dir, name, segments, stat));
        continue;
      }
      if (segments.reduce((bytes, s) => bytes + s.length + 1, 0) > MAX_PATH_BYTES) {
        truncated = true;
        continue;
      }
      // Swapped for a link or a file since the lstat: it is skipped (it is no directory to list any more).
      const child = await dir.openDir(name).catch(skipGone);
      if (!child) continue;
      try {
        await walk(child, segments);
      } finally {
        await child.close();
      }
    }
  };
  const root = await HeldDir.open(workspaceDir);
  try {
    await walk(root, []);
  } finally {
    await root.close();
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, truncated };
}

// Pure: an ISO 8601 time for any mtime, clamped into what a Date can hold (a file may say 10^13 s).
export function isoTime(ms: number): string {
  const clamped = Number.isFinite(ms) ? Math.max(-MAX_DATE_MS, Math.min(MAX_DATE_MS, ms)) : 0;
  return new Date(clamped).toISOString();
}

async function describeEntry(dir: HeldDir, name: Buffer, segments: Buffer[], stat: Stats): Promise<WorkspaceEntry> {
  const wire = wirePath(segments);
  const type = typeOf(stat);
  const mimeType = type === 'file' ? await sniffMimeType(dir, name, mimeName({ segments })) : type === 'device' && stat.isBlockDevice() ? 'inode/blockdevice' : INODE_TYPES[type];
  return { path: wire.path, ...(wire.escaped ? { pathEncoding: 'percent' as const } : {}), type, size: stat.size, mimeType, modified: isoTime(stat.mtimeMs) };
}

const INODE_TYPES: Record<Exclude<WorkspaceEntryType, 'file'>, string> = {
  symlink: 'inode/symlink',
  fifo: 'inode/fifo',
  socket: 'inode/socket',
  device: 'inode/chardevice',
};

function typeOf(stat: Stats): WorkspaceEntryType {
  if (stat.isFile()) return 'file';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isSocket()) return 'socket';
  return 'device';
}

// The MIME type by name, else by the first bytes, as a download would report it (a file that cannot be opened
// as a regular one of one link now is application/octet-stream).
async function sniffMimeType(dir: HeldDir, name: Buffer, forName: string): Promise<string> {
  const byName = lookupMimeType(forName);
  if (byName !== 'application/octet-stream') return byName;
  const opened = await dir.openFile(name).catch(() => null);
  if (!opened) return byName;
  try {
    const head = Buffer.alloc(Math.min(opened.stat.size, MIME_SNIFF_BYTES));
    const { bytesRead } = await opened.handle.read(head, 0, head.length, 0);
    return detectMimeType(forName, head.subarray(0, bytesRead));
  } finally {
    await opened.handle.close();
  }
}

// What vanished or changed kind while it was listed is left out; anything else is a real failure.
function skipGone(error: unknown): null {
  if (error instanceof WalkError) return null;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EACCES') return null;
  throw error;
}
