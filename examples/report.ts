// Shared by the examples: prints what an execution returned and saves its files in the current directory.
import { writeFile } from 'node:fs/promises';
import type { ExecutionResult } from 'runbox/sdk';

// Prints status, error and result, saves each returned file under its base name, and sets the exit code.
export async function report(out: ExecutionResult, label = 'result'): Promise<void> {
  console.log(`status: ${out.status} in ${Math.round(out.durationMs)} ms, ${out.toolCalls} tool calls`);
  if (out.error) console.log(`error: ${out.error.type}: ${out.error.message}\n${out.error.traceback}`);
  console.log(`${label}:`, JSON.stringify(out.result, null, 2));
  for (const file of out.files) {
    await writeFile(file.path.split('/').pop() as string, file.content);
    console.log(`saved ${file.path} (${file.mimeType}, ${file.size} bytes)`);
  }
  for (const refused of out.fileErrors) console.log(`file refused: ${refused.path}: ${refused.message}`);
  process.exitCode = out.status === 'ok' ? 0 : 1;
}
