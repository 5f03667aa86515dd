// Opens one MCP client from a server description: the one place the SDK starts MCP servers (stdio: a child process
// of this process, never of a sandbox) or connects to them (HTTP). The MCP SDK is imported here on first use, so
// `runbox/sdk` loads without it.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { McpServerDescription } from './config.js';

/** The part of an MCP client Runbox uses: a connected `Client` of @modelcontextprotocol/sdk (or one shaped like it). */
export type McpClientLike = Pick<Client, 'listTools' | 'callTool'> & Partial<Pick<Client, 'close'>>;

/** What a server of connectMcpServers may be: a description to start or reach, or a client already connected. */
export type McpServerSource = McpServerDescription | McpClientLike;

/** The stderr a stdio server wrote last, kept for the message of a call that fails because it died. */
const STDERR_TAIL_CHARS = 2000;

/** One open client and what is known of its health. */
export interface McpLink {
  readonly client: McpClientLike;
  /** Whether Runbox opened it (and so closes it). */
  readonly owned: boolean;
  /** Set when the connection ended: why, for the message of later calls. */
  closedReason: string | null;
  /** The last transport error (e.g. a line of stdout that is not JSON-RPC), for a call's failure message. */
  lastError: string | null;
  /** The end of what a stdio server wrote to stderr. */
  stderrTail: string;
  close(): Promise<void>;
}

// Whether a source is a client already connected rather than a description.
export function isMcpClient(source: unknown): source is McpClientLike {
  const candidate = source as { listTools?: unknown; callTool?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.listTools === 'function' && typeof candidate.callTool === 'function';
}

// Connects to one server (starting it when it is a stdio one) and watches the connection; a client the caller
// passed in is only watched, and stays the caller's to close.
export async function openMcpLink(source: McpServerSource, clientInfo: { name: string; version: string }, signal: AbortSignal): Promise<McpLink> {
  if (isMcpClient(source)) {
    return { client: source, owned: false, closedReason: null, lastError: null, stderrTail: '', close: async () => {} };
  }
  const [{ Client: ClientClass }, transport] = await Promise.all([import('@modelcontextprotocol/sdk/client/index.js'), openTransport(source)]);
  const client = new ClientClass(clientInfo, { capabilities: {} });
  const link: McpLink = { client, owned: true, closedReason: null, lastError: null, stderrTail: '', close: () => client.close() };
  client.onclose = () => {
    link.closedReason ??= 'the connection closed';
  };
  client.onerror = (error) => {
    link.lastError = error.message;
  };
  const stderr = (transport as { stderr?: NodeJS.ReadableStream | null }).stderr;
  stderr?.setEncoding?.('utf8');
  stderr?.on('data', (chunk: string) => {
    link.stderrTail = (link.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  try {
    await client.connect(transport, { signal });
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
  return link;
}

// The transport a description asks for (stdio is spawned by connect(), not here).
async function openTransport(source: McpServerDescription) {
  if ('command' in source) {
    const { StdioClientTransport, getDefaultEnvironment } = await import('@modelcontextprotocol/sdk/client/stdio.js');
    return new StdioClientTransport({
      command: source.command,
      args: source.args ?? [],
      env: { ...getDefaultEnvironment(), ...source.env },
      ...(source.cwd === undefined ? {} : { cwd: source.cwd }),
      stderr: 'pipe',
    });
  }
  const url = new URL(source.url);
  const requestInit = { headers: { ...source.headers } };
  if (source.type === 'sse') {
    const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
    return new SSEClientTransport(url, { requestInit });
  }
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  return new StreamableHTTPClientTransport(url, { requestInit });
}
