// `runbox mcp`: Runbox's MCP server (sdk/mcp/server.ts) on stdin/stdout, over a RunboxClient of a daemon that is
// already running. It starts no daemon (MCP clients start it as an ordinary user; the daemon runs as root): when
// none answers it says so in one line on stderr, and each tool call answers a tool error saying so.
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { RunboxClient } from '../../sdk/client.js';
import { RunboxAPIError } from '../../sdk/errors.js';
import { createRunboxMcpServer } from '../../sdk/mcp/server.js';
import type { ToolSet } from '../../sdk/types.js';
import type { McpCommandSettings } from './args.js';

/** Where `runbox mcp` speaks: MCP on stdin/stdout, diagnostics on stderr. */
export interface McpStdio {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** Upstream tools the code may call, and how to let go of them. */
export interface UpstreamTools {
  readonly tools: ToolSet;
  close(): Promise<void>;
}

// Serves MCP on stdio until the client closes it; resolves once everything (client, upstream servers) is closed.
export async function serveMcpStdio(settings: McpCommandSettings, io: McpStdio, upstream?: UpstreamTools): Promise<void> {
  const say = (line: string) => io.stderr.write(`runbox mcp: ${line}\n`);
  const client = new RunboxClient({ url: settings.url, token: settings.token, onError: (error) => say(error.message) });
  const server = createRunboxMcpServer(client, { runtimes: [...settings.runtimes], tools: upstream?.tools ?? {} });
  const transport = new StdioServerTransport(io.stdin, io.stdout);
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    io.stdin.once('end', () => void server.close());
  });
  await server.connect(transport);
  // Told once at start, without holding up the MCP handshake: the tools say it again on every call meanwhile.
  void client.health().then(
    (health) => {
      if (!health.ok) say(`the daemon at ${client.url} cannot run code yet: ${JSON.stringify((health as { problems?: unknown }).problems ?? [])}`);
    },
    (error: unknown) => {
      if (error instanceof RunboxAPIError) say(`the daemon at ${client.url} refused: ${error.message}${error.code === 'unauthorized' ? ' (set RUNBOX_TOKEN to its token)' : ''}`);
      else say(`no Runbox daemon answers at ${client.url} (${(error as Error).message}): start one with \`runbox serve\` (as root), or set RUNBOX_URL / --url`);
    },
  );
  await closed;
  await client.close();
  await upstream?.close();
}
