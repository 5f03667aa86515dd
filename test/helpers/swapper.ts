// Starts test/fixtures/swap-dirs.py: a real process that swaps two paths with renameat2(RENAME_EXCHANGE) in a
// loop, as hostile code in a sandbox would while the daemon works on its files.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The project's Python (scripts/setup.sh installs it); the swapper needs nothing but its standard library. */
export const SWAPPER_PYTHON = '/opt/runbox/python/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../../test/fixtures/swap-dirs.py', import.meta.url));

export interface Swapper {
  /** Stops the swapper (SIGTERM to its pid) and resolves with how many swaps it made. */
  stop(): Promise<number>;
}

// Starts swapping a and b; resolves once the first swap is about to happen.
export async function startSwapper(a: string, b: string): Promise<Swapper> {
  const child = spawn(SWAPPER_PYTHON, [SCRIPT, a, b], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = once(child, 'exit');
  while (!output.includes('ready\n')) {
    if (child.exitCode !== null) throw new Error(`the swapper exited at once (${child.exitCode})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    stop: async () => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await exited;
      return Number(output.trim().split('\n').pop());
    },
  };
}
