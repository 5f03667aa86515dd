// Prints, for this machine and run: latency of a trivial execution through the daemon for each runtime, next to
// a bare spawn of the same interpreter without a sandbox; and tool-call round trips (1,000 sequential, and
// 1,000 through asyncio.gather / Promise.all). Numbers only: nothing here passes or fails.
//   npm run bench            (BENCH_RUNS=50 to change the sample size)
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { loadConfig } from '../daemon/config.js';
import { createDaemon } from '../daemon/server.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const CALLS = 1000;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Times `run` RUNS times after a warm-up, pausing pauseMs between runs (an agent's requests are seconds apart;
// the pause lets the daemon's warm pool refill, and is applied to the baseline too).
async function timeRuns(run: () => Promise<void>, pauseMs: number): Promise<number[]> {
  return timeRunsN(RUNS, pauseMs, run);
}

async function timeRunsN(runs: number, pauseMs: number, run: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < 3; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    await sleep(pauseMs);
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  return samples;
}

function bareSpawn(file: string, args: string[], extra: { cwd?: string; env?: Record<string, string> } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: extra.cwd, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', ...extra.env }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}`))));
  });
}

async function postTrivial(url: string, runtime: string, code: string, sessionId?: string): Promise<void> {
  const response = await fetch(`${url}/v1/executions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime, code, sessionId }) });
  const body = await response.json();
  if (body.status !== 'ok') throw new Error(`trivial ${runtime} execution failed: ${JSON.stringify(body)}`);
}

// Runs code with an `echo` tool answered on this WebSocket; the code itself measures and returns its timings.
function runWithEcho(wsUrl: string, runtime: string, code: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    ws.on('error', reject);
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'execute', id: 'bench', runtime, code, timeoutMs: 120000, tools: [{ name: 'echo', description: 'echo', parameters: { type: 'object', properties: { i: { type: 'integer' } } } }] })),
    );
    ws.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'tool_call') ws.send(JSON.stringify({ type: 'tool_result', callId: message.callId, result: message.args }));
      if (message.type === 'result') {
        ws.close();
        if (message.status === 'ok') resolve(message.result);
        else reject(new Error(`tool benchmark failed: ${JSON.stringify(message.error)} ${message.stderr}`));
      }
    });
  });
}

const CHART = `
import matplotlib.pyplot as plt, numpy as np, pandas as pd
df = pd.DataFrame({"x": np.arange(50), "y": np.random.default_rng(1).normal(size=50).cumsum()})
df.plot(x="x", y="y")
plt.savefig("chart.png")
set_result(len(df), files=["chart.png"])
`;
const PY_TOOLS = `
import time, asyncio
seq = []
for i in range(${CALLS}):
    t = time.perf_counter(); call_tool("echo", {"i": i}); seq.append((time.perf_counter() - t) * 1000)
t = time.perf_counter()
await asyncio.gather(*[echo(i) for i in range(${CALLS})])
set_result({"seq": seq, "gathered": (time.perf_counter() - t) * 1000})
`;
const NODE_TOOLS = `
const seq = [];
for (let i = 0; i < ${CALLS}; i++) { const t = performance.now(); await callTool("echo", { i }); seq.push(performance.now() - t); }
const t = performance.now();
await Promise.all(Array.from({ length: ${CALLS} }, (_, i) => echo(i)));
return { seq, gathered: performance.now() - t };
`;

async function main(): Promise<void> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-'));
  const config = loadConfig(process.env, [], { port: 0, workDir, logLevel: 'silent' });
  const daemon = await createDaemon(config, { logger: pino({ level: 'silent' }) });
  const { port } = await daemon.listen();
  const url = `http://127.0.0.1:${port}`;
  const python = path.join(config.pythonEnv, 'bin', 'python3');
  console.log(`runbox bench: ${os.cpus().length} cores, node ${process.version}, ${RUNS} runs each (medians; machines are shared and noisy)\n`);
  const row = (label: string, samples: number[], baseline: number[]) =>
    `  ${label.padEnd(28)} median ${fmt(quantile(samples, 0.5))}, p95 ${fmt(quantile(samples, 0.95))} | bare median ${fmt(quantile(baseline, 0.5))}, p95 ${fmt(quantile(baseline, 0.95))} | ratio ${(quantile(samples, 0.5) / quantile(baseline, 0.5)).toFixed(2)}x`;
  console.log('trivial execution, end to end through the daemon (HTTP POST to answer) vs a bare spawn of the same interpreter:');
  for (const [runtime, code, bare] of [
    ['python', 'print(1)', () => bareSpawn(python, ['-I', '-c', 'print(1)'])],
    ['node', 'console.log(1)', () => bareSpawn(config.nodePath, ['-e', 'console.log(1)'])],
  ] as const) {
    const spacedBare = await timeRuns(bare, 100);
    const spaced = await timeRuns(() => postTrivial(url, runtime, code), 100);
    const burstBare = await timeRuns(bare, 0);
    const burst = await timeRuns(() => postTrivial(url, runtime, code), 0);
    console.log(row(`${runtime}, 100 ms apart`, spaced, spacedBare));
    console.log(row(`${runtime}, back to back`, burst, burstBare));
  }
  console.log(`  (warm sandboxes per runtime: ${config.warmSandboxes}; back to back, the pool cannot refill between requests)`);

  // The typical request: a matplotlib chart from data. Warm sandboxes preload numpy, pandas and pyplot while
  // idle; requests come 1.5 s apart, as an agent's would. The baseline runs the same program with a bare python3.
  const chartDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-chart-'));
  const chartRuns = Math.max(5, Math.round(RUNS / 4));
  const bareChart = await timeRunsN(chartRuns, 1500, () =>
    bareSpawn(python, ['-I', '-c', CHART.replace('set_result(len(df), files=["chart.png"])', '')], { cwd: chartDir, env: { MPLBACKEND: 'Agg', MPLCONFIGDIR: path.join(config.pythonEnv, 'mpl-cache') } }),
  );
  const chart = await timeRunsN(chartRuns, 1500, () => postTrivial(url, 'python', CHART));
  console.log(row('python chart.png', chart, bareChart));
  // The same chart in a session (a conversation): each execution gets a fresh sandbox bound to the session's
  // workspace, which the session's own warm sandbox makes ready (and preloads) between its executions.
  const session = (await (await fetch(`${url}/v1/sessions`, { method: 'POST', body: JSON.stringify({ runtime: 'python' }) })).json()) as { id: string };
  const sessionChart = await timeRunsN(chartRuns, 1500, () => postTrivial(url, 'python', CHART, session.id));
  console.log(row('python chart.png, session', sessionChart, bareChart));
  const sessionTrivial = await timeRuns(() => postTrivial(url, 'python', 'print(1)', session.id), 100);
  const trivialBare = await timeRuns(() => bareSpawn(python, ['-I', '-c', 'print(1)']), 100);
  console.log(row('python, session, 100 ms', sessionTrivial, trivialBare));
  await fetch(`${url}/v1/sessions/${session.id}`, { method: 'DELETE' });
  console.log(`  (preloaded in idle warm sandboxes: ${config.pythonPreload.join(', ') || 'nothing'}; ${chartRuns} runs, 1.5 s apart)`);
  await fs.rm(chartDir, { recursive: true, force: true });
  console.log(`\ntool calls through the daemon to a WebSocket client (${CALLS} each):`);
  for (const [runtime, code] of [['python', PY_TOOLS], ['node', NODE_TOOLS]] as const) {
    const { seq, gathered } = await runWithEcho(`ws://127.0.0.1:${port}/v1/ws`, runtime, code);
    console.log(`  ${runtime.padEnd(7)} sequential round trip median ${fmt(quantile(seq, 0.5))}, p95 ${fmt(quantile(seq, 0.95))} | ${CALLS} gathered: ${fmt(gathered)} total`);
  }
  await daemon.close();
  await fs.rm(workDir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
