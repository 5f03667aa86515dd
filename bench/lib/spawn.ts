// The baselines' processes: a bare interpreter spawn, and the same spawn inside a minimal bubblewrap sandbox.
// Arguments stay arrays; the environment is built from scratch (as the daemon builds the sandbox's), so nothing
// of the caller's (NODE_OPTIONS, PYTHONPATH, NODE_EXTRA_CA_CERTS) changes what is measured.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The environment of every baseline process. */
export const BASELINE_ENV: Readonly<Record<string, string>> = Object.freeze({ PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' });

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Host ids to run as (only when the bench is root). */
  readonly ids?: { readonly uid: number; readonly gid: number };
}

// Runs a command to its end with its output discarded; rejects when it cannot start or exits non-zero (a
// baseline that fails measures nothing).
export function spawnToEnd(file: string, args: readonly string[], options: SpawnOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      cwd: options.cwd ?? '/',
      env: { ...BASELINE_ENV, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(options.ids ?? {}),
    });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')} ended with ${code ?? signal}: ${Buffer.concat(stderr).toString().slice(0, 2000)}`)),
    );
  });
}

/** How one root directory such as /lib appears: a link into /usr (merged /usr) or a directory to bind. */
export type RootEntry = { readonly name: string; readonly linkTarget: string } | { readonly name: string; readonly dir: true };

// How /bin, /lib, /lib64 and /sbin exist on this host (entries that do not exist are left out).
export function readRootEntries(names: readonly string[] = ['bin', 'lib', 'lib64', 'sbin']): RootEntry[] {
  const entries: RootEntry[] = [];
  for (const name of names) {
    const hostPath = `/${name}`;
    try {
      const stat = fs.lstatSync(hostPath);
      if (stat.isSymbolicLink()) entries.push({ name, linkTarget: fs.readlinkSync(hostPath) });
      else if (stat.isDirectory()) entries.push({ name, dir: true });
    } catch {
      // not on this host
    }
  }
  return entries;
}

export interface MinimalSandboxInput {
  readonly rootEntries: readonly RootEntry[];
  /** Host paths outside /usr the command needs, bound read-only at the same place (a venv, a Node install). */
  readonly readOnlyPaths: readonly string[];
  readonly command: readonly string[];
}

// The bubblewrap arguments of the floor of per-execution isolation: every namespace unshared, a read-only /usr,
// fresh /proc, /dev and /tmp, and nothing else (no seccomp, no rlimits, no cgroup, no bridge, no workspace).
export function buildMinimalSandboxArgs(input: MinimalSandboxInput): string[] {
  const args = ['--unshare-all', '--die-with-parent', '--ro-bind', '/usr', '/usr'];
  for (const entry of input.rootEntries) {
    if ('linkTarget' in entry) args.push('--symlink', entry.linkTarget, `/${entry.name}`);
    else args.push('--ro-bind', `/${entry.name}`, `/${entry.name}`);
  }
  for (const hostPath of new Set(input.readOnlyPaths)) {
    if (hostPath !== '/usr' && !hostPath.startsWith('/usr/')) args.push('--ro-bind', hostPath, hostPath);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--', ...input.command);
  return args;
}

// The directory that holds a Node install (…/bin/node → …), which a sandbox binds to find its libraries.
export function nodeInstallDir(nodePath: string): string {
  return path.dirname(path.dirname(nodePath));
}
