// The floor of a tool call's round trip on this machine: the same three processes a call crosses (the code's
// interpreter, a relay standing for the daemon, and this bench standing for the tool's client), passing a message
// of the same size over the same kinds of socket (Unix from the code, TCP to the client), with no WebSocket
// framing, no JSON, no sandbox and no routing. Whatever Runbox adds to a call is the difference.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { BASELINE_ENV } from './spawn.js';

/** A tool_call message of the sequential benchmark is about this long; the answer is about as long. */
const MESSAGE_BYTES = 80;

// The relay (a child node process): accepts the code's Unix connection and passes its bytes to the client's TCP
// port and back, each chunk as it comes, as the daemon passes each message.
const RELAY = `
const net = require('node:net');
const [socketPath, port] = process.argv.slice(1);
net.createServer((code) => {
  const client = net.connect(Number(port), '127.0.0.1');
  client.setNoDelay(true);
  code.on('data', (chunk) => client.write(chunk));
  client.on('data', (chunk) => code.write(chunk));
}).listen(socketPath, () => process.stdout.write('ready\\n'));
`;

// The code's side in each runtime: `calls` sequential round trips over the Unix socket, each timed; prints the
// times as JSON.
const CLIENTS = {
  python: (socketPath: string, calls: number) => [
    '-c',
    `
import json, socket, time
s = socket.socket(socket.AF_UNIX)
s.connect(${JSON.stringify(socketPath)})
message = b"x" * ${MESSAGE_BYTES}
seq = []
for i in range(${calls}):
    t = time.perf_counter(); s.sendall(message); got = 0
    while got < len(message): got += len(s.recv(4096))
    seq.append((time.perf_counter() - t) * 1000)
print(json.dumps(seq))
`,
  ],
  node: (socketPath: string, calls: number) => [
    '-e',
    `
const net = require('node:net');
const s = net.connect(${JSON.stringify(socketPath)});
const message = Buffer.alloc(${MESSAGE_BYTES}, 120);
const seq = []; let got = 0; let t = 0;
const next = () => { if (seq.length === ${calls}) { console.log(JSON.stringify(seq)); s.end(); return; } got = 0; t = performance.now(); s.write(message); };
s.on('data', (chunk) => { got += chunk.length; if (got >= message.length) { seq.push(performance.now() - t); next(); } });
s.on('connect', next);
`,
  ],
} as const;

// Measures `calls` sequential round trips from an interpreter through a relay process to this process and back;
// answers each round trip's time in ms.
export async function relayFloor(runtime: 'python' | 'node', interpreter: string, scratchDir: string, calls: number): Promise<number[]> {
  const echo = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const socketPath = path.join(scratchDir, `relay-${runtime}.sock`);
  await fs.rm(socketPath, { force: true });
  const relay = spawn(process.execPath, ['-e', RELAY, socketPath, String((echo.address() as net.AddressInfo).port)], { env: BASELINE_ENV, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject);
      relay.once('exit', (code) => reject(new Error(`the relay exited with ${code} before it listened`)));
      relay.stdout?.once('data', () => resolve());
    });
    return JSON.parse(await outputOf(spawn(interpreter, [...CLIENTS[runtime](socketPath, calls)], { env: BASELINE_ENV, stdio: ['ignore', 'pipe', 'inherit'] }))) as number[];
  } finally {
    relay.kill();
    echo.close();
  }
}

// What a child printed, once it exited with 0.
function outputOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`the floor's client exited with ${code}`))));
  });
}
