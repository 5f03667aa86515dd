// The daemon under test, run as its own process (`node bin/runbox.js serve --port 0`), so that its RSS is its
// own and not the bench's, and so that only its public HTTP/WebSocket API and its flags are used.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { memoryOf } from './proc.js';
import { sleep } from './stats.js';

/** How long the daemon may take to start and pass its health check (it probes each runtime in a real sandbox). */
const START_TIMEOUT_MS = 60_000;
/** How long it gets to drain and clean up after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 20_000;
/** Lines of its output kept, to say why it failed. */
const KEPT_LINES = 40;

export interface DaemonStartOptions {
  readonly repoDir: string;
  readonly nodePath: string;
  readonly pythonEnv: string;
  /** More `serve` flags (after the bench's own; a flag given twice is the last one's). */
  readonly extraArgs?: readonly string[];
}

// A running daemon in a child process, with a work directory of its own (never another daemon's /tmp/runbox).
export class DaemonProcess {
  /** The daemon's RSS the moment it first answered healthy (start-up garbage included). */
  rssAtReadyBytes = 0;
  /** When it first answered healthy (Date.now()). */
  readyAt = 0;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly workDir: string,
    private readonly exited: Promise<void>,
  ) {}

  /** The daemon's process id: the root of the process tree whose memory and CPU the bench reads. */
  get pid(): number {
    return this.child.pid as number;
  }

  get wsUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/v1/ws`;
  }

  // Starts the daemon, waits for the address it prints and for /healthz to say it can run code.
  static async start(options: DaemonStartOptions): Promise<DaemonProcess> {
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-daemon-'));
    const args = [
      path.join(options.repoDir, 'bin', 'runbox.js'), 'serve',
      '--host', '127.0.0.1', '--port', '0', '--work-dir', workDir,
      '--python-env', options.pythonEnv, '--node', options.nodePath, '--log-level', 'warn',
      ...(options.extraArgs ?? []),
    ];
    // The daemon gets the caller's RUNBOX_* settings (they are what is being measured), but no token: it listens
    // on loopback for this bench only.
    const env = { ...process.env };
    delete env.RUNBOX_TOKEN;
    const child = spawn(process.execPath, args, { cwd: options.repoDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const keep = (chunk: Buffer) => {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      lines.splice(0, Math.max(0, lines.length - KEPT_LINES));
    };
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const listening = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the daemon did not start within ${START_TIMEOUT_MS} ms:\n${lines.join('\n')}`)), START_TIMEOUT_MS);
      child.stdout?.on('data', (chunk: Buffer) => {
        keep(chunk);
        const match = /Runbox is listening on (http:\/\/\S+)/.exec(chunk.toString());
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the daemon exited (${code ?? signal}) before listening:\n${lines.join('\n')}`));
      });
    });
    try {
      const daemon = new DaemonProcess(child, await listening, workDir, exited);
      await daemon.waitHealthy(lines);
      return daemon;
    } catch (error) {
      child.kill('SIGKILL');
      await fs.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }

  private async waitHealthy(lines: readonly string[]): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      const response = await fetch(`${this.url}/healthz`);
      last = await response.text();
      if (response.ok) {
        this.readyAt = Date.now();
        this.rssAtReadyBytes = memoryOf([this.pid]).rssBytes;
        return;
      }
      await sleep(200);
    }
    throw new Error(`the daemon is not healthy: ${last}\n${lines.join('\n')}`);
  }

  // SIGTERM (the daemon drains and removes its sandboxes), SIGKILL if it takes too long; then its work directory goes.
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    await fs.rm(this.workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
