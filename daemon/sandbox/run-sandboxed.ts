// Runs one command to its end inside a sandbox like the code's (namespaces, no network, read-only system,
// seccomp, rlimits, the sandbox user), with a deadline; for start-up probes and for package install scripts
// an operator opted in to. The command's workspace is the only writable host directory it sees.
import fs from 'node:fs/promises';
import path from 'node:path';
import { dir as makeTempDir } from 'tmp-promise';
import { buildLaunchSpec, type SandboxFacts } from './launch.js';
import type { RuntimeName } from './runtimes.js';
import { spawnProcess, type ExitInfo } from './spawn.js';

export interface SandboxedCommand {
  /** The command, in sandbox paths (the runtimes' binaries are where they are on the host). */
  readonly command: readonly string[];
  /** Host directory bound writable at /workspace (the working directory); a fresh empty one when left out. */
  readonly workspaceDir?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Most bytes of stdout and stderr kept (together). @default 65536 */
  readonly maxOutputBytes?: number;
}

export interface SandboxedRun {
  readonly exit: ExitInfo;
  /** stdout and stderr together, as they came, cut at maxOutputBytes. */
  readonly output: string;
  readonly timedOut: boolean;
}

// Runs the command in a sandbox under workDir and waits for it (killed at its deadline or when aborted).
export async function runSandboxed(facts: SandboxFacts, workDir: string, runtime: RuntimeName, run: SandboxedCommand): Promise<SandboxedRun> {
  const root = await makeTempDir({ tmpdir: workDir, prefix: 'probe-', mode: 0o711, unsafeCleanup: true });
  try {
    const socket = path.join(root.path, 'bridge.sock');
    await fs.writeFile(socket, '', { mode: 0o644 });
    let workspace = run.workspaceDir;
    if (!workspace) {
      workspace = path.join(root.path, 'workspace');
      await fs.mkdir(workspace, { mode: 0o700 });
      if (facts.owner) await fs.chown(workspace, facts.owner.uid, facts.owner.gid);
    }
    const child = spawnProcess(buildLaunchSpec(facts, { runtime, workspaceDir: workspace, privateTmpDir: root.path, socketPath: socket, token: '', command: run.command }));
    const maxBytes = run.maxOutputBytes ?? 64 * 1024;
    const out: Buffer[] = [];
    let kept = 0;
    const keep = (chunk: Buffer) => {
      if (kept >= maxBytes) return;
      out.push(chunk.subarray(0, maxBytes - kept));
      kept += chunk.length;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill();
    }, run.timeoutMs);
    const onAbort = () => child.kill();
    run.signal?.addEventListener('abort', onAbort, { once: true });
    const exit = await child.exited;
    clearTimeout(timer);
    run.signal?.removeEventListener('abort', onAbort);
    return { exit, output: Buffer.concat(out).toString('utf8'), timedOut };
  } finally {
    await root.cleanup().catch(() => undefined);
  }
}
