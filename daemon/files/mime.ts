// MIME type of an output file: from its extension (mime-types), else sniffed from its first bytes.
import { lookup } from 'mime-types';

const MAGIC: Array<[bytes: number[], mimeType: string]> = [
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38], 'image/gif'],
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 'application/pdf'],
  [[0x50, 0x4b, 0x03, 0x04], 'application/zip'],
  [[0x1f, 0x8b], 'application/gzip'],
];

// The MIME type for a file name and its content; never fails (unknown binary → application/octet-stream).
export function detectMimeType(filePath: string, content: Uint8Array): string {
  const byName = lookup(filePath);
  if (byName) return byName;
  for (const [bytes, mimeType] of MAGIC) {
    if (bytes.every((b, i) => content[i] === b)) return mimeType;
  }
  return looksLikeText(content) ? 'text/plain' : 'application/octet-stream';
}

// Valid UTF-8 without NUL bytes in its first 8 KiB counts as text.
function looksLikeText(content: Uint8Array): boolean {
  const head = content.subarray(0, 8192);
  if (head.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: content.length > head.length });
    return true;
  } catch {
    return false;
  }
}

// The MIME type from a file name alone (listings, where reading every file would be too slow).
export function lookupMimeType(filePath: string): string {
  return lookup(filePath) || 'application/octet-stream';
}
