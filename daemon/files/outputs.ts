// Output files: only the paths the code declared, each checked before it is read, never followed through links.
// Called after every process of the sandbox is gone, so nothing can swap a file while it is read.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { detectMimeType } from './mime.js';
import { checkWorkspacePath } from './paths.js';

export interface OutputFile {
  readonly path: string;
  readonly mimeType: string;
  readonly size: number;
  readonly content: Buffer;
}

export interface FileError {
  readonly path: string;
  readonly message: string;
}

export interface OutputFileLimits {
  maxFileBytes: number;
  maxTotalFileBytes: number;
  /** Most paths one execution may declare. @default 1000 */
  maxFiles?: number;
}

// Reads the declared output files that pass every check; each refused one gets a message saying why.
export async function collectOutputFiles(
  workspaceDir: string,
  declared: unknown,
  limits: OutputFileLimits,
): Promise<{ files: OutputFile[]; errors: FileError[] }> {
  const files: OutputFile[] = [];
  const errors: FileError[] = [];
  if (!Array.isArray(declared)) {
    if (declared !== undefined && declared !== null) errors.push({ path: String(declared), message: 'declared files must be a list of paths' });
    return { files, errors };
  }
  const maxFiles = limits.maxFiles ?? 1000;
  if (declared.length > maxFiles) {
    errors.push({ path: '', message: `${declared.length} files declared; at most ${maxFiles} are returned` });
  }
  let total = 0;
  const seen = new Set<string>();
  for (const raw of declared.slice(0, maxFiles)) {
    const checked = checkWorkspacePath(raw);
    const shown = typeof raw === 'string' ? raw : String(raw);
    if (!checked.ok) {
      errors.push({ path: shown, message: `refused: the path ${checked.message}` });
      continue;
    }
    if (seen.has(checked.path)) continue;
    seen.add(checked.path);
    const outcome = await readOutputFile(workspaceDir, checked.path, limits.maxFileBytes, limits.maxTotalFileBytes - total);
    if ('message' in outcome) {
      errors.push({ path: checked.path, message: outcome.message });
    } else {
      total += outcome.size;
      files.push(outcome);
    }
  }
  return { files, errors };
}

// Checks one path component by component (no symlinks anywhere, a regular file at the end, one link, within size)
// and reads it through a descriptor opened with O_NOFOLLOW whose identity matches what was checked.
async function readOutputFile(workspaceDir: string, relative: string, maxFileBytes: number, budget: number): Promise<OutputFile | FileError> {
  const refuse = (message: string): FileError => ({ path: relative, message: `refused: ${message}` });
  const segments = relative.split('/');
  let current = workspaceDir;
  for (const [index, segment] of segments.entries()) {
    current = path.join(current, segment);
    const shown = segments.slice(0, index + 1).join('/');
    let stat;
    try {
      stat = await fs.lstat(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' ? refuse('it does not exist') : refuse(`it cannot be read (${code})`);
    }
    if (stat.isSymbolicLink()) return refuse(index === segments.length - 1 ? 'it is a symlink' : `${shown} is a symlink`);
    if (index < segments.length - 1) {
      if (!stat.isDirectory()) return refuse(`${shown} is not a directory`);
      continue;
    }
    if (stat.isDirectory()) return refuse('it is a directory, not a file');
    if (!stat.isFile()) return refuse('it is not a regular file (a FIFO, socket or device)');
    if (stat.nlink > 1) return refuse('it is a hard link to another file');
    if (stat.size > maxFileBytes) return refuse(`it is ${stat.size} bytes, over maxFileBytes ${maxFileBytes}`);
    if (stat.size > budget) return refuse('the output files together exceed maxTotalFileBytes');
    const content = await readExactly(current, stat, maxFileBytes);
    if (!content) return refuse('it changed while being collected');
    return { path: relative, size: content.length, mimeType: detectMimeType(relative, content), content };
  }
  return refuse('it does not exist');
}

// Opens without following a final symlink or blocking on a FIFO, and reads only if it is the file lstat saw.
async function readExactly(filePath: string, expected: { ino: number; dev: number }, maxBytes: number): Promise<Buffer | null> {
  let handle;
  try {
    handle = await fs.open(filePath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.ino !== expected.ino || stat.dev !== expected.dev || stat.size > maxBytes) return null;
    const buffer = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(buffer, 0, stat.size, 0);
    return bytesRead === stat.size ? buffer : null;
  } finally {
    await handle.close();
  }
}
