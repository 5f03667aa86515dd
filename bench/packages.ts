// Prints, for this machine and run, how long install_package / installPackage take as the code sees them: the first
// install of a package (empty package cache) and the same version again from a new session (cache warm), next to
// the same uv / npm command run directly on the host into a temporary directory, with the same index and cache
// states. Each round starts a new daemon with its own empty cache; daemon start-up is never timed.
// Numbers only: nothing here passes or fails.
//   npm run bench:packages                            (loopback index of test/helpers/package-index.ts)
//   RUNBOX_BENCH_REAL_INDEX=1 npm run bench:packages  (pypi.org and registry.npmjs.org, mid-size packages)
//   RUNBOX_BENCH_ROUNDS=5                             (rounds; medians over them)
// Daemon options come from RUNBOX_* variables as for `runbox serve` (RUNBOX_UV, RUNBOX_NPM...); the host baseline
// runs the same uv (or pip) and npm.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig, type Config } from '../daemon/config.js';
import { buildInstallerEnv, buildNpmCommand, buildPipCommand, buildUvCommand, type InstallerCommand } from '../daemon/packages/commands.js';
import { createDaemon } from '../daemon/server.js';
import { startPackageIndex } from '../test/helpers/package-index.js';

const ROUNDS = Number(process.env.RUNBOX_BENCH_ROUNDS ?? 5);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`RUNBOX_BENCH_ROUNDS must be a positive integer, received ${process.env.RUNBOX_BENCH_ROUNDS}`);
const REAL_INDEX = process.env.RUNBOX_BENCH_REAL_INDEX === '1';
/** Pause before each timed install, so the daemon's warm pool has refilled (and preloaded) and is idle again. */
const PAUSE_MS = 1500;

type Runtime = 'python' | 'node';
/** One timed install through the daemon: the wall time inside the code, and the durationMs the daemon answered. */
interface Sample { wallMs: number; durationMs: number }
interface RuntimeSamples { installer: string; daemonFirst: Sample[]; daemonCached: Sample[]; hostFirst: number[]; hostCached: number[] }

const PACKAGES: Record<Runtime, { spec: string; module: string }> = REAL_INDEX
  ? { python: { spec: 'httpx==0.27.2', module: 'httpx' }, node: { spec: 'cheerio@1.0.0', module: 'cheerio' } }
  : { python: { spec: 'runbox-demo==1.0.0', module: 'runbox_demo' }, node: { spec: 'runbox-demo-js@1.0.0', module: 'runbox-demo-js' } };

// Installs, times the call inside the code, then imports what it installed (untimed) to show the install worked.
const CODE: Record<Runtime, (spec: string, module: string) => string> = {
  python: (spec, module) =>
    [
      'import time',
      't = time.perf_counter()',
      `info = install_package(${JSON.stringify(spec)})`,
      'wall = (time.perf_counter() - t) * 1000',
      `import ${module}`,
      'set_result({"wallMs": wall, "durationMs": info["durationMs"], "installer": info["installer"]})',
    ].join('\n'),
  node: (spec, module) =>
    [
      'const t = performance.now();',
      `const info = await installPackage(${JSON.stringify(spec)});`,
      'const wallMs = performance.now() - t;',
      `require(${JSON.stringify(module)});`,
      'return { wallMs, durationMs: info.durationMs, installer: info.installer };',
    ].join('\n'),
};

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const fmt = (ms: number) => `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs code in a new session of the daemon at url, deletes the session, and returns what the code measured.
async function installInNewSession(url: string, runtime: Runtime): Promise<Sample & { installer: string }> {
  const { id } = (await (await fetch(`${url}/v1/sessions`, { method: 'POST' })).json()) as { id: string };
  try {
    await sleep(PAUSE_MS);
    const { spec, module } = PACKAGES[runtime];
    const response = await fetch(`${url}/v1/executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ runtime, sessionId: id, code: CODE[runtime](spec, module), timeoutMs: 300_000 }),
    });
    const body = await response.json();
    if (body.status !== 'ok') throw new Error(`${runtime} install of ${spec} failed: ${JSON.stringify(body.error)} ${body.stderr ?? ''}`);
    return body.result;
  } finally {
    await fetch(`${url}/v1/sessions/${id}`, { method: 'DELETE' });
  }
}

// The installer command the daemon would run (same builder, same flags), aimed at a plain directory on the host.
function hostCommand(runtime: Runtime, config: Config, useUv: boolean, targetDir: string, cacheDir: string, homeDir: string): InstallerCommand {
  const specifiers = [PACKAGES[runtime].spec];
  if (runtime === 'node') {
    return buildNpmCommand({ npmPath: config.npmPath, prefixDir: targetDir, cacheDir: path.join(cacheDir, 'npm'), registryUrl: config.npmRegistryUrl, configDir: homeDir, specifiers });
  }
  const python = { pythonBin: path.join(config.pythonEnv, 'bin', 'python3'), targetDir, indexUrl: config.pythonIndexUrl, specifiers };
  return useUv ? buildUvCommand(config.uvPath, { ...python, cacheDir: path.join(cacheDir, 'uv') }) : buildPipCommand({ ...python, cacheDir: path.join(cacheDir, 'pip') });
}

// Runs the installer directly (no daemon, no sandbox user, no staging copy) and returns its wall time.
async function timeHostInstall(command: InstallerCommand, env: Record<string, string>, cwd: string): Promise<number> {
  await sleep(PAUSE_MS);
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command.file, command.args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command.file} exited ${code}: ${stderr}`))));
  });
  return performance.now() - start;
}

// One host pair: the first install with an empty cache, then into a new directory with that cache warm.
async function hostPair(runtime: Runtime, config: Config, useUv: boolean): Promise<[number, number]> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-host-'));
  try {
    const homeDir = path.join(root, 'home');
    await fs.mkdir(homeDir);
    const env = buildInstallerEnv(homeDir, runtime === 'node' ? [path.dirname(config.nodePath)] : [], { caFile: config.installCaFile, proxyUrl: config.installProxy });
    const cacheDir = path.join(root, 'cache');
    const first = await timeHostInstall(hostCommand(runtime, config, useUv, path.join(root, 'first'), cacheDir, homeDir), env, homeDir);
    const cached = await timeHostInstall(hostCommand(runtime, config, useUv, path.join(root, 'cached'), cacheDir, homeDir), env, homeDir);
    return [first, cached];
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

// One round: a new daemon whose package cache is empty; per runtime, the daemon pair and the host pair, in an
// order that alternates between rounds so neither side always goes first (a CDN or the page cache could favour it).
async function runRound(round: number, indexUrls: Partial<Config>, samples: Record<Runtime, RuntimeSamples>): Promise<void> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-packages-'));
  const config: Config = {
    ...loadConfig(process.env, []),
    port: 0,
    workDir,
    logLevel: 'silent',
    packageCacheDir: path.join(workDir, 'package-cache'),
    installTimeoutMs: 300_000,
    ...indexUrls,
  };
  const useUv = config.uvPath !== '' && (await fs.access(config.uvPath, fs.constants.X_OK).then(() => true, () => false));
  const daemon = await createDaemon(config, { logger: pino({ level: 'silent' }) });
  const { port } = await daemon.listen();
  const url = `http://127.0.0.1:${port}`;
  try {
    for (const runtime of ['python', 'node'] as const) {
      const onDaemon = async () => {
        const first = await installInNewSession(url, runtime);
        const cached = await installInNewSession(url, runtime);
        samples[runtime].installer = first.installer;
        samples[runtime].daemonFirst.push(first);
        samples[runtime].daemonCached.push(cached);
      };
      const onHost = async () => {
        const [first, cached] = await hostPair(runtime, config, useUv);
        samples[runtime].hostFirst.push(first);
        samples[runtime].hostCached.push(cached);
      };
      for (const step of round % 2 === 0 ? [onDaemon, onHost] : [onHost, onDaemon]) await step();
    }
  } finally {
    await daemon.close();
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

function report(runtime: Runtime, s: RuntimeSamples): void {
  const call = runtime === 'python' ? `install_package("${PACKAGES.python.spec}")` : `installPackage('${PACKAGES.node.spec}')`;
  const wall = (list: Sample[]) => list.map((x) => x.wallMs);
  const duration = (list: Sample[]) => list.map((x) => x.durationMs);
  const cell = (values: number[]) => `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`.padEnd(30);
  const row = (label: string, first: number[], cached: number[]) =>
    `  ${label.padEnd(30)} ${cell(first)} ${cell(cached)} ${(median(first) / median(cached)).toFixed(2)}x`;
  const ratio = (label: string, a: number[], b: number[], c: number[], d: number[]) =>
    `  ${label.padEnd(30)} ${`${(median(a) / median(b)).toFixed(2)}x`.padEnd(30)} ${(median(c) / median(d)).toFixed(2)}x`;
  console.log(`\n${runtime}: ${call}, installer ${s.installer}`);
  console.log(`  ${''.padEnd(30)} ${'first: median (min–max)'.padEnd(30)} ${'cached: median (min–max)'.padEnd(30)} first/cached`);
  console.log(row('wall time inside the code', wall(s.daemonFirst), wall(s.daemonCached)));
  console.log(row('durationMs the daemon answered', duration(s.daemonFirst), duration(s.daemonCached)));
  console.log(row(`${s.installer} on the host, bare`, s.hostFirst, s.hostCached));
  console.log(ratio('code wall / host bare', wall(s.daemonFirst), s.hostFirst, wall(s.daemonCached), s.hostCached));
  console.log(ratio('daemon durationMs / host bare', duration(s.daemonFirst), s.hostFirst, duration(s.daemonCached), s.hostCached));
}

async function main(): Promise<void> {
  const index = REAL_INDEX ? null : await startPackageIndex();
  const defaults = loadConfig(process.env, []);
  const indexUrls: Partial<Config> = index ? { pythonIndexUrl: index.pypiUrl, npmRegistryUrl: index.npmUrl } : {};
  const where = index ? 'loopback index and registry (test/helpers/package-index.ts)' : `${defaults.pythonIndexUrl} and ${defaults.npmRegistryUrl}`;
  console.log(`runbox package bench: ${os.cpus().length} cores, node ${process.version}, ${ROUNDS} rounds, ${where}`);
  console.log(`installers: ${defaults.uvPath || 'pip'} and ${defaults.npmPath}`);
  console.log('each round: a new daemon with an empty package cache; "first" installs in a new session, "cached" installs the');
  console.log('same version in another new session (cache warm); the host baseline runs the same installer command directly');
  console.log('into a temporary directory, with an empty then a warm cache. One untimed warm-up round first.');
  console.log('Medians; machines are shared and noisy.');
  const empty = (): RuntimeSamples => ({ installer: '', daemonFirst: [], daemonCached: [], hostFirst: [], hostCached: [] });
  const samples: Record<Runtime, RuntimeSamples> = { python: empty(), node: empty() };
  try {
    // An untimed round first, so the first timed one does not also pay for a cold disk cache (uv, npm, python).
    await runRound(1, indexUrls, { python: empty(), node: empty() });
    for (let round = 0; round < ROUNDS; round++) await runRound(round, indexUrls, samples);
  } finally {
    await index?.close();
  }
  report('python', samples.python);
  report('node', samples.node);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
