// The Jupyter peer: a warm ipykernel on this machine, without isolation, driven by jupyter_driver.py. Its venv
// (ipykernel, jupyter_client and the runtime's own pinned numpy/pandas/matplotlib) is installed from PyPI by the
// bench into a cache directory, once; a failed install is reported and the peer skipped, never fatal.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** What the peer's venv holds besides the runtime's requirements (pinned, so that runs compare). */
const JUPYTER_REQUIREMENTS = ['ipykernel==7.4.0', 'jupyter_client==8.10.0'];
/** Longest the install may take (pip downloads about 60 MB once). */
const INSTALL_TIMEOUT_MS = 10 * 60_000;
const READY_TIMEOUT_MS = 90_000;
const STAMP_FILE = '.runbox-bench-requirements';

export interface JupyterSetup {
  /** The venv: BENCH_JUPYTER_DIR, else ~/.cache/runbox-bench/jupyter. */
  readonly envDir: string;
  /** The runtime's requirements file, whose pins the peer shares. */
  readonly requirementsFile: string;
  /** The venv Runbox runs code with: its base interpreter makes the peer's, so both run the same Python. */
  readonly runtimePythonEnv: string;
}

// The cache directory of the peer's venv.
export function defaultJupyterDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.BENCH_JUPYTER_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'runbox-bench', 'jupyter');
}

// Makes the peer's venv unless it already holds exactly these requirements. Answers null when it is ready, else
// why it is not (the last lines of pip's output).
export async function ensureJupyterEnv(setup: JupyterSetup, say: (line: string) => void): Promise<string | null> {
  const runtimeRequirements = (await fs.readFile(setup.requirementsFile, 'utf8')).split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  const requirements = [...JUPYTER_REQUIREMENTS, ...runtimeRequirements];
  const stamp = requirements.join('\n') + '\n';
  const python = path.join(setup.envDir, 'bin', 'python3');
  if ((await fs.readFile(path.join(setup.envDir, STAMP_FILE), 'utf8').catch(() => null)) === stamp && (await exists(python))) return null;
  const basePython = await baseInterpreterOf(setup.runtimePythonEnv);
  say(`installing the Jupyter peer into ${setup.envDir} (${requirements.join(' ')}; once, about a minute)`);
  // From scratch, stamp last: an interrupted install leaves no stamp and is redone.
  await fs.rm(setup.envDir, { recursive: true, force: true });
  await fs.mkdir(path.dirname(setup.envDir), { recursive: true });
  const venv = await run(basePython, ['-m', 'venv', setup.envDir]);
  if (venv) return `${basePython} -m venv failed: ${venv}`;
  const pip = await run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--only-binary=:all:', ...requirements]);
  if (pip) return `pip install failed: ${pip}`;
  await fs.writeFile(path.join(setup.envDir, STAMP_FILE), stamp);
  return null;
}

// The interpreter a venv was made from (`home` in its pyvenv.cfg), else /usr/bin/python3.
async function baseInterpreterOf(venvDir: string): Promise<string> {
  const config = await fs.readFile(path.join(venvDir, 'pyvenv.cfg'), 'utf8').catch(() => '');
  const home = /^home\s*=\s*(.+)$/m.exec(config)?.[1].trim();
  const candidate = home ? path.join(home, 'python3') : '/usr/bin/python3';
  return (await exists(candidate)) ? candidate : '/usr/bin/python3';
}

const exists = (file: string) => fs.access(file).then(() => true, () => false);

// Runs a command to its end; answers null on success, else its exit and the end of its output.
function run(file: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: INSTALL_TIMEOUT_MS });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => resolve(error.message));
    child.on('close', (code, signal) => resolve(code === 0 ? null : `exit ${code ?? signal}: ${output.trim().split('\n').slice(-8).join('\n')}`));
  });
}

export interface KernelInfo {
  readonly ipykernel: string;
  readonly jupyter_client: string;
  readonly python: string;
  readonly kernelPid: number;
}

// One warm kernel and the driver that talks to it; run() executes code in it and resolves when it is idle again.
export class JupyterKernel {
  private readonly pending: Array<(line: string) => void> = [];

  private constructor(
    private readonly driver: ChildProcess,
    private readonly workDir: string,
    private readonly stderr: { text: string },
    readonly info: KernelInfo,
  ) {}

  // Starts the driver and its kernel in a fresh working directory (where the chart is saved).
  static async start(envDir: string, driverFile: string): Promise<JupyterKernel> {
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-jupyter-'));
    const env = {
      PATH: `${envDir}/bin:/usr/bin:/bin`,
      LANG: 'C.UTF-8',
      HOME: os.homedir(),
      JUPYTER_RUNTIME_DIR: path.join(workDir, 'runtime'),
      // Kept across runs, so that matplotlib's font cache is built once, as setup.sh prebuilds Runbox's.
      MPLCONFIGDIR: path.join(envDir, 'mpl-cache'),
    };
    const driver = spawn(path.join(envDir, 'bin', 'python3'), [driverFile, workDir], { cwd: workDir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const lines = createInterface({ input: driver.stdout! });
    const stderr = { text: '' };
    driver.stderr!.on('data', (chunk: Buffer) => (stderr.text = (stderr.text + chunk.toString()).slice(-4000)));
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the Jupyter kernel was not ready within ${READY_TIMEOUT_MS} ms: ${stderr.text}`)), READY_TIMEOUT_MS);
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve(line);
      });
      driver.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the Jupyter driver exited (${code}): ${stderr.text}`));
      });
    });
    const kernel = new JupyterKernel(driver, workDir, stderr, JSON.parse(first) as KernelInfo);
    lines.on('line', (line) => kernel.pending.shift()?.(line));
    // A driver that dies fails the code waiting on it rather than leaving the bench hanging.
    driver.once('exit', (code) => kernel.pending.splice(0).forEach((settle) => settle(JSON.stringify({ status: 'exited', error: `the driver exited (${code})` }))));
    return kernel;
  }

  /** The driver's pid: the kernel is its child. */
  get driverPid(): number {
    return this.driver.pid as number;
  }

  // Executes code in the kernel; throws unless it ended ok.
  async run(code: string): Promise<void> {
    const answer = await new Promise<string>((resolve) => {
      this.pending.push(resolve);
      this.driver.stdin!.write(JSON.stringify({ code }) + '\n');
    });
    const message = JSON.parse(answer) as { status: string; error?: string };
    if (message.status !== 'ok') throw new Error(`the Jupyter kernel answered ${message.status}: ${message.error} ${this.stderr.text}`);
  }

  // Ends the driver (which shuts its kernel down) and removes the working directory.
  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.driver.once('exit', resolve));
    this.driver.stdin!.end();
    const timer = setTimeout(() => this.driver.kill('SIGKILL'), 10_000);
    if (this.driver.exitCode === null) await exited;
    clearTimeout(timer);
    await fs.rm(this.workDir, { recursive: true, force: true });
  }
}
