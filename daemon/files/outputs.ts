// Output files: only the paths the code declared, each read through held directory descriptors (held-dir.ts),
// never followed through links. Called once the sandbox's interpreter has exited; the walk would hold even if a
// process of it still ran and swapped names.
import { openRegularFile, WalkError } from './held-dir.js';
import { detectMimeType } from './mime.js';
import { checkWorkspacePath, workspacePathOf } from './paths.js';
import type { FileError } from '../wire-types.js';

export interface OutputFile {
  readonly path: string;
  readonly mimeType: string;
  readonly size: number;
  readonly content: Buffer;
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

// Reads one declared file through held directories (no symlink anywhere, a regular file with one link at the
// end, see HeldDir.openFile), within its size and what is left of the total.
async function readOutputFile(workspaceDir: string, relative: string, maxFileBytes: number, budget: number): Promise<OutputFile | FileError> {
  const refuse = (message: string): FileError => ({ path: relative, message: `refused: ${message}` });
  const target = workspacePathOf(relative);
  let opened;
  try {
    opened = await openRegularFile(workspaceDir, target.segments);
  } catch (error) {
    if (error instanceof WalkError) return refuse(walkRefusal(error, target.segments));
    return refuse(`it cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const { handle, stat } = opened;
  try {
    if (stat.size > maxFileBytes) return refuse(`it is ${stat.size} bytes, over maxFileBytes ${maxFileBytes}`);
    if (stat.size > budget) return refuse('the output files together exceed maxTotalFileBytes');
    const content = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(content, 0, stat.size, 0);
    if (bytesRead !== stat.size) return refuse('it changed while being collected');
    return { path: relative, size: content.length, mimeType: detectMimeType(relative, content), content };
  } finally {
    await handle.close();
  }
}

// Why a declared path was refused, naming the component at fault.
function walkRefusal(error: WalkError, segments: readonly Buffer[]): string {
  const last = error.depth >= segments.length;
  const shown = segments.slice(0, error.depth).map((s) => s.toString('utf8')).join('/');
  switch (error.problem) {
    case 'missing':
      return 'it does not exist';
    case 'symlink':
      return last ? 'it is a symlink' : `${shown} is a symlink`;
    case 'not_directory':
      return `${shown} is not a directory`;
    case 'is_directory':
      return 'it is a directory, not a file';
    case 'not_regular':
      return 'it is not a regular file (a FIFO, socket or device)';
    case 'hard_link':
      return 'it is a hard link to another file';
    case 'changed':
      return 'it changed while being collected';
  }
}
