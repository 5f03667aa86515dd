// The real MCP servers the MCP tests run: the reference servers `everything` and `filesystem` (devDependencies, run
// from node_modules with this node: no npx, no network), and server-everything's Streamable HTTP transport on a
// loopback port, started as an operator would start it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The bin files of the reference servers. */
export interface ReferenceServers {
  readonly everything: string;
  readonly filesystem: string;
}

// The reference servers' bin files from their manifests; throws saying to run `npm ci` when they are not installed
// (they are devDependencies: a test needing them fails rather than skips, so CI cannot pass without them).
export function referenceServers(): ReferenceServers {
  return {
    everything: binOf('@modelcontextprotocol/server-everything', 'mcp-server-everything'),
    filesystem: binOf('@modelcontextprotocol/server-filesystem', 'mcp-server-filesystem'),
  };
}

function binOf(pkg: string, bin: string): string {
  let manifestPath: string;
  try {
    manifestPath = require.resolve(`${pkg}/package.json`);
  } catch (error) {
    throw new Error(`${pkg} is not installed (${(error as { code?: string }).code ?? (error as Error).message}): it is a devDependency of runbox that the MCP tests run; install it with \`npm ci\``);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  return path.join(path.dirname(manifestPath), manifest.bin[bin]);
}

/** server-everything serving Streamable HTTP on a loopback port. */
export interface HttpMcpServer {
  /** Its endpoint, `http://127.0.0.1:<port>/mcp`. */
  readonly url: string;
  readonly process: ChildProcess;
  /** Stops it (when it still runs) and waits for its exit. */
  stop(): Promise<void>;
}

// Starts server-everything's Streamable HTTP transport on a free loopback port; resolves once it listens.
export async function startEverythingHttp(everything: string): Promise<HttpMcpServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [everything, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('listening on port')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server-everything exited (${code}): ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill();
      await once(child, 'exit');
    },
  };
}

// A free loopback port (listened on and released at once).
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
