// Pure checks of workspace-relative file paths, shared by input files, declared output files and the file API,
// and the one wire form of a path whose names are not all UTF-8.
import { isUtf8 } from 'node:buffer';
import path from 'node:path';

export const MAX_PATH_BYTES = 1024;
export const MAX_PATH_SEGMENT_BYTES = 255;

export type PathCheck = { ok: true; path: string } | { ok: false; message: string };

/** A checked workspace path: its names as the bytes the filesystem holds, and its wire form (`escaped` when
 * some name is not UTF-8, see wirePath). */
export interface WorkspacePath {
  readonly segments: readonly Buffer[];
  readonly path: string;
  readonly escaped: boolean;
}

export type BytePathCheck = ({ ok: true } & WorkspacePath) | { ok: false; message: string };

// Checks that a path names something inside the workspace: relative, no `..`, no NUL, sane length.
// Returns the normalized path (`./a//b` → `a/b`) or a message naming the rule that was broken.
export function checkWorkspacePath(value: unknown): PathCheck {
  if (typeof value !== 'string') return { ok: false, message: `expected a string, received ${typeof value}` };
  const checked = checkSegments(value, (text) => Buffer.byteLength(text));
  return checked.ok ? { ok: true, path: path.posix.join(...checked.segments) } : checked;
}

// The same rules for a path given as bytes (a file API URL, percent-decoded): names that are not UTF-8 are
// allowed, so every file a listing shows can be downloaded and deleted.
export function checkWorkspacePathBytes(bytes: Buffer): BytePathCheck {
  if (isUtf8(bytes)) {
    const checked = checkWorkspacePath(bytes.toString('utf8'));
    if (!checked.ok) return checked;
    return { ok: true, ...workspacePathOf(checked.path) };
  }
  // latin1 maps each byte to one character and back: the rules run on the text, the names stay the bytes.
  const checked = checkSegments(bytes.toString('latin1'), (text) => text.length);
  if (!checked.ok) return checked;
  const segments = checked.segments.map((segment) => Buffer.from(segment, 'latin1'));
  return { ok: true, segments, path: wirePath(segments).path, escaped: true };
}

// The WorkspacePath of a path checkWorkspacePath accepted (normalized, UTF-8).
export function workspacePathOf(checkedPath: string): WorkspacePath {
  return { segments: checkedPath.split('/').map((segment) => Buffer.from(segment, 'utf8')), path: checkedPath, escaped: false };
}

// The wire form of a workspace path: the path itself when every name is UTF-8; otherwise each name
// percent-encoded byte by byte (what encodeURIComponent gives for UTF-8 text), which is reversible and goes
// into a file API URL as it is. `escaped` tells the two apart (a name may contain a literal `%`).
export function wirePath(segments: readonly Buffer[]): { path: string; escaped: boolean } {
  if (segments.every((segment) => isUtf8(segment))) return { path: segments.map((s) => s.toString('utf8')).join('/'), escaped: false };
  return { path: segments.map(percentEncode).join('/'), escaped: true };
}

// Decodes a percent-encoded URL path into bytes (`%FF` is the byte 0xFF; other characters are their UTF-8
// bytes); null when a `%` is not followed by two hex digits.
export function decodePercentPath(raw: string): Buffer | null {
  const parts: Buffer[] = [];
  let plain = '';
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== '%') {
      plain += raw[i];
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    parts.push(Buffer.from(plain, 'utf8'), Buffer.from([parseInt(hex, 16)]));
    plain = '';
    i += 2;
  }
  parts.push(Buffer.from(plain, 'utf8'));
  return Buffer.concat(parts);
}

/** Bytes encodeURIComponent leaves as they are. */
const UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]$/;

function percentEncode(segment: Buffer): string {
  let text = '';
  for (const byte of segment) {
    const char = String.fromCharCode(byte);
    text += byte < 0x80 && UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return text;
}

// The rules themselves, on a text whose byte length `bytesOf` measures.
function checkSegments(value: string, bytesOf: (text: string) => number): { ok: true; segments: string[] } | { ok: false; message: string } {
  if (value === '') return { ok: false, message: 'is empty' };
  if (value.includes('\0')) return { ok: false, message: 'contains a NUL byte' };
  if (bytesOf(value) > MAX_PATH_BYTES) return { ok: false, message: `is longer than ${MAX_PATH_BYTES} bytes` };
  if (value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value)) return { ok: false, message: 'is absolute; paths are relative to the workspace' };
  if (value.includes('\\')) return { ok: false, message: 'contains a backslash; use / between directories' };
  const segments = value.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0) return { ok: false, message: 'names the workspace itself, not a file' };
  if (segments.includes('..')) return { ok: false, message: 'contains "..", which would leave the workspace' };
  if (segments.some((s) => bytesOf(s) > MAX_PATH_SEGMENT_BYTES)) {
    return { ok: false, message: `has a name longer than ${MAX_PATH_SEGMENT_BYTES} bytes` };
  }
  return { ok: true, segments };
}
