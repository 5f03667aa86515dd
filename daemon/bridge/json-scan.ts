// Pure, iterative scans of JSON text as bytes, for checking a bridge message before it is parsed: how deep it
// nests (stopping as soon as it is too deep, so a 100,000-deep message costs as much as a 200-deep one), and,
// for a message refused for its depth, its top-level string fields (to answer a tool call by its id) without
// building anything of its other values. Strings are skipped with Buffer.indexOf, in native code.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** Top-level strings longer than this are not read (ids, names and types are short). */
const MAX_FIELD_BYTES = 1024;

// True when the text nests objects and arrays more than maxDepth levels deep (the outermost is level 1). Text that
// is not JSON may get either answer; JSON.parse refuses it afterwards.
export function jsonNestsDeeper(text: Buffer, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === QUOTE) {
      const end = skipString(text, i);
      if (end < 0) return false;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth -= 1;
    }
  }
  return false;
}

// The string-valued fields at the top level of a JSON object text (short ones only); other values are skipped
// without being parsed. Stops quietly at the first thing that is not JSON.
export function topLevelStrings(text: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let i = skipSpace(text, 0);
  if (text[i] !== OPEN_OBJECT) return fields;
  i += 1;
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] !== QUOTE) return fields;
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return fields;
    const key = readString(text, i, keyEnd);
    i = skipSpace(text, keyEnd);
    if (text[i] !== COLON || key === null) return fields;
    i = skipSpace(text, i + 1);
    if (text[i] === QUOTE) {
      const end = skipString(text, i);
      if (end < 0) return fields;
      const value = end - i <= MAX_FIELD_BYTES ? readString(text, i, end) : null;
      if (value !== null) fields.set(key, value);
      i = end;
    } else {
      i = skipValue(text, i);
    }
    i = skipSpace(text, i);
    if (text[i] !== COMMA) return fields;
    i += 1;
  }
}

// Where the value of a top-level field of a JSON object text starts and ends (end exclusive), or null when the
// object has no such field; other values are skipped without being parsed.
export function topLevelValueRange(text: Buffer, wanted: string): { start: number; end: number } | null {
  let i = skipSpace(text, 0);
  if (text[i] !== OPEN_OBJECT) return null;
  i += 1;
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] !== QUOTE) return null;
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return null;
    const key = keyEnd - i <= MAX_FIELD_BYTES ? readString(text, i, keyEnd) : null;
    i = skipSpace(text, keyEnd);
    if (text[i] !== COLON) return null;
    const start = skipSpace(text, i + 1);
    const end = text[start] === QUOTE ? skipString(text, start) : skipValue(text, start);
    if (end < 0) return null;
    if (key === wanted) return { start, end };
    i = skipSpace(text, end);
    if (text[i] !== COMMA) return null;
    i += 1;
  }
}

// The index just past the string that starts at text[start] (a quote), or -1 when it never ends.
function skipString(text: Buffer, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf(QUOTE, from);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

// The index of the comma or closing bracket that ends the value starting at text[start].
function skipValue(text: Buffer, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === QUOTE) {
      const end = skipString(text, i);
      if (end < 0) return text.length;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth += 1;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 0) return i;
      depth -= 1;
      if (depth === 0) return i + 1;
    } else if (c === COMMA && depth === 0) {
      return i;
    }
  }
  return text.length;
}

function skipSpace(text: Buffer, start: number): number {
  let i = start;
  while (text[i] === 0x20 || text[i] === 0x09 || text[i] === 0x0a || text[i] === 0x0d) i += 1;
  return i;
}

function readString(text: Buffer, start: number, end: number): string | null {
  try {
    return JSON.parse(text.toString('utf8', start, end)) as string;
  } catch {
    return null;
  }
}
