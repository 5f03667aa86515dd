// What the agent examples share: the shape of a finished run, saving the charts the code returned, and telling
// whether a module was started as the script.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunboxClient, type CodeToolOutput } from 'runbox/sdk';

/** A finished agent run. */
export interface AgentRun<Message> {
  /** The model's final answer ('' when the loop stopped at maxTurns). */
  text: string;
  /** `answered`: the model replied without tool calls; `max_turns`: the loop gave up first. */
  stopReason: 'answered' | 'max_turns';
  /** Requests made to the model. */
  turns: number;
  /** Every message sent to or received from the model, in order, in the API's own format. */
  transcript: Message[];
  /** Every code tool call's output, in the order the model made the calls. */
  executions: CodeToolOutput[];
}

// Writes every attachment of the executions to dir under its base name (later ones win) and returns the paths.
export async function saveAttachments(executions: readonly CodeToolOutput[], dir = '.'): Promise<string[]> {
  const saved: string[] = [];
  for (const file of executions.flatMap((execution) => execution.attachments)) {
    const target = path.join(dir, path.basename(file.path));
    await writeFile(target, file.content);
    saved.push(`${target} (${file.mimeType}, ${file.size} bytes)`);
  }
  return saved;
}

// Whether the module at moduleUrl is the script node was started with (not imported by a test or the bench).
export function isMainModule(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === moduleUrl;
}

// Runs an example as a script (not when a test or the bench imports it): the agent with a client of RUNBOX_URL and
// RUNBOX_TOKEN, then its answer printed and the charts saved here; a failure is printed and exits 1.
export function runAsScript(moduleUrl: string, runAgent: (client: RunboxClient) => Promise<AgentRun<unknown>>): void {
  if (!isMainModule(moduleUrl)) return;
  const main = async () => {
    const client = new RunboxClient();
    try {
      const run = await runAgent(client);
      console.log(`${run.turns} turns, ${run.executions.length} executions (${run.stopReason})\n\n${run.text}`);
      for (const saved of await saveAttachments(run.executions)) console.log(`saved ${saved}`);
    } finally {
      await client.close();
    }
  };
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
