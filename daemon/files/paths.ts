// Pure checks of workspace-relative file paths, shared by input files and declared output files.
import path from 'node:path';

export const MAX_PATH_BYTES = 1024;
export const MAX_PATH_SEGMENT_BYTES = 255;

export type PathCheck = { ok: true; path: string } | { ok: false; message: string };

// Checks that a path names something inside the workspace: relative, no `..`, no NUL, sane length.
// Returns the normalized path (`./a//b` → `a/b`) or a message naming the rule that was broken.
export function checkWorkspacePath(value: unknown): PathCheck {
  if (typeof value !== 'string') return { ok: false, message: `expected a string, received ${typeof value}` };
  if (value === '') return { ok: false, message: 'is empty' };
  if (value.includes('\0')) return { ok: false, message: 'contains a NUL byte' };
  if (Buffer.byteLength(value) > MAX_PATH_BYTES) return { ok: false, message: `is longer than ${MAX_PATH_BYTES} bytes` };
  if (value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value)) return { ok: false, message: 'is absolute; paths are relative to the workspace' };
  if (value.includes('\\')) return { ok: false, message: 'contains a backslash; use / between directories' };
  const segments = value.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0) return { ok: false, message: 'names the workspace itself, not a file' };
  if (segments.includes('..')) return { ok: false, message: 'contains "..", which would leave the workspace' };
  if (segments.some((s) => Buffer.byteLength(s) > MAX_PATH_SEGMENT_BYTES)) {
    return { ok: false, message: `has a name longer than ${MAX_PATH_SEGMENT_BYTES} bytes` };
  }
  return { ok: true, path: path.posix.join(...segments) };
}
