// Input files: checked and decoded before anything is written, then written into the workspace.
import path from 'node:path';
import { WireError } from '../errors.js';
import { checkWorkspacePath, workspacePathOf } from './paths.js';
import { writeWorkspaceFile } from './workspace.js';

export interface InputFile {
  readonly path: string;
  readonly content: Buffer;
}

export interface InputFileLimits {
  maxFileBytes: number;
  maxTotalFileBytes: number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// Checks every input file (path rules, base64, sizes, clashes) and decodes them; throws a WireError naming the file.
export function decodeInputFiles(raw: unknown, limits: InputFileLimits): InputFile[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new WireError('invalid_request', `files: expected an array, received ${typeof raw}`);
  const files: InputFile[] = [];
  const seen = new Set<string>();
  let total = 0;
  raw.forEach((entry: unknown, index) => {
    const where = `files[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new WireError('invalid_request', `${where}: expected an object {path, content}`);
    }
    const { path: rawPath, content } = entry as Record<string, unknown>;
    const checked = checkWorkspacePath(rawPath);
    if (!checked.ok) throw new WireError('invalid_path', `${where}.path ${JSON.stringify(rawPath)} ${checked.message}`);
    if (typeof content !== 'string') throw new WireError('invalid_request', `${where}.content: expected a base64 string`);
    if (!BASE64.test(content)) throw new WireError('invalid_request', `${where}.content (${checked.path}): not valid base64`);
    const bytes = Buffer.from(content, 'base64');
    if (bytes.length > limits.maxFileBytes) {
      throw new WireError('payload_too_large', `${where} (${checked.path}): ${bytes.length} bytes exceeds maxFileBytes ${limits.maxFileBytes}`);
    }
    total += bytes.length;
    if (total > limits.maxTotalFileBytes) {
      throw new WireError('payload_too_large', `files: total size exceeds maxTotalFileBytes ${limits.maxTotalFileBytes}`);
    }
    if (seen.has(checked.path)) throw new WireError('invalid_path', `${where}.path ${checked.path} is given twice`);
    seen.add(checked.path);
    files.push({ path: checked.path, content: bytes });
  });
  for (const file of files) {
    for (let dir = path.posix.dirname(file.path); dir !== '.'; dir = path.posix.dirname(dir)) {
      if (seen.has(dir)) throw new WireError('invalid_path', `files: ${dir} is both a file and the directory of ${file.path}`);
    }
  }
  return files;
}

// Writes checked input files into the workspace before the code runs (a fresh one, or a session's between its
// executions), replacing files of the same name, never following a link, and gives them to the sandbox user.
export async function writeInputFiles(workspaceDir: string, files: readonly InputFile[], owner?: { uid: number; gid: number }): Promise<void> {
  for (const file of files) await writeWorkspaceFile(workspaceDir, workspacePathOf(file.path), file.content, owner);
}
