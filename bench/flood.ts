// Prints, for this machine and run: the latency of a second client's trivial execution while nothing else runs,
// and while executions flood their bridges with 16 MiB frames written straight onto the bridge socket (a new
// flooder starts whenever one ends, so the flood never stops), and their ratio. Numbers only: nothing here
// passes or fails on time.
//   npm run bench:flood          (BENCH_RUNS=40 runs each; BENCH_FLOODERS=1 flooding executions at once)
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { loadConfig } from '../daemon/config.js';
import { createDaemon } from '../daemon/server.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const FLOODERS = Number(process.env.BENCH_FLOODERS ?? 1);
const MiB = 1024 * 1024;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Python that finds its bridge socket among its descriptors and writes masked (zero key) 16 MiB text frames of
// JSON onto it as fast as the daemon takes them, until it is stopped.
const FLOOD = `
import os, socket, struct
fd = next(int(f) for f in os.listdir("/proc/self/fd") if int(f) > 2 and os.readlink(f"/proc/self/fd/{f}").startswith("socket:"))
s = socket.socket(fileno=os.dup(fd))
payload = b'{"type":"tool_call","callId":"f","name":"flood","args":{"s":"' + b"x" * (16 * 1024 * 1024 - 128) + b'"}}'
frame = b"\\x81\\xff" + struct.pack(">Q", len(payload)) + b"\\x00\\x00\\x00\\x00" + payload
print("flooding", flush=True)
while True:
    s.sendall(frame)
`;

interface Flooder {
  stop(): Promise<void>;
  /** How each flooding execution ended (status and error type). */
  readonly endings: string[];
}

// Keeps `count` flooding executions running over one WebSocket: whenever one ends (cut off, timed out), another
// starts. Resolves once the first of them is flooding.
async function startFlood(wsUrl: string, count: number): Promise<Flooder> {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const endings: string[] = [];
  let seq = 0;
  let stopping = false;
  let flooding!: () => void;
  const started = new Promise<void>((resolve) => (flooding = resolve));
  const running = new Set<string>();
  const launch = () => {
    const id = `flood-${++seq}`;
    running.add(id);
    ws.send(JSON.stringify({ type: 'execute', id, runtime: 'python', code: FLOOD, timeoutMs: 60_000 }));
  };
  ws.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.type === 'stdout' && String(message.data).includes('flooding')) flooding();
    if (message.type === 'result' || (message.type === 'error' && message.id)) {
      running.delete(message.id);
      endings.push(message.type === 'result' ? `${message.status}${message.error ? ` ${message.error.type}` : ''}` : `error ${message.code}`);
      if (!stopping) launch();
    }
  });
  for (let i = 0; i < count; i++) launch();
  await started;
  return {
    endings,
    stop: async () => {
      stopping = true;
      for (const id of running) ws.send(JSON.stringify({ type: 'cancel', id }));
      const deadline = Date.now() + 10_000;
      while (running.size > 0 && Date.now() < deadline) await sleep(50);
      ws.close();
    },
  };
}

async function timeTrivial(url: string, runs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    await sleep(100);
    const start = performance.now();
    const response = await fetch(`${url}/v1/executions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime: 'python', code: 'set_result(1)' }) });
    const body = (await response.json()) as { status?: string };
    if (body.status !== 'ok') throw new Error(`the trivial execution failed: ${JSON.stringify(body)}`);
    if (i >= 3) samples.push(performance.now() - start);
  }
  return samples;
}

async function timeHealth(url: string, runs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    await sleep(50);
    const start = performance.now();
    await (await fetch(`${url}/healthz`)).text();
    samples.push(performance.now() - start);
  }
  return samples;
}

async function main(): Promise<void> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bench-flood-'));
  const config = loadConfig(process.env, [], { port: 0, workDir, logLevel: 'silent', maxConcurrent: Math.max(4, FLOODERS + 2) });
  const daemon = await createDaemon(config, { logger: pino({ level: 'silent' }) });
  const { port } = await daemon.listen();
  const url = `http://127.0.0.1:${port}`;
  console.log(`runbox flood bench: ${os.cpus().length} cores, node ${process.version}, ${RUNS} runs each, ${FLOODERS} flooding execution(s) writing ${config.maxBridgeMessageBytes / MiB} MiB frames (medians; machines are shared and noisy)\n`);
  const quiet = await timeTrivial(url, RUNS);
  const quietHealth = await timeHealth(url, RUNS);
  const flood = await startFlood(`ws://127.0.0.1:${port}/v1/ws`, FLOODERS);
  const flooded = await timeTrivial(url, RUNS);
  const floodedHealth = await timeHealth(url, RUNS);
  await flood.stop();
  const ratio = quantile(flooded, 0.5) / quantile(quiet, 0.5);
  const row = (label: string, samples: number[]) => `  ${label.padEnd(34)} median ${fmt(quantile(samples, 0.5))}, p90 ${fmt(quantile(samples, 0.9))}, max ${fmt(Math.max(...samples))}`;
  console.log('a second client\'s trivial Python execution (HTTP POST to answer):');
  console.log(row('without a flood', quiet));
  console.log(row(`while ${FLOODERS} execution(s) flood`, flooded));
  console.log(`  ratio of medians: ${ratio.toFixed(2)}x (target: within 2x)`);
  console.log('/healthz:');
  console.log(row('without a flood', quietHealth));
  console.log(row('during the flood', floodedHealth));
  const counts = new Map<string, number>();
  for (const ending of flood.endings) counts.set(ending, (counts.get(ending) ?? 0) + 1);
  console.log(`flooding executions that ended: ${flood.endings.length} (${[...counts].map(([k, v]) => `${v}× ${k}`).join(', ') || 'none'})`);
  await daemon.close();
  await fs.rm(workDir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
