// The daemon's /mcp: MCP's Streamable HTTP transport, stateless, around the SDK's Runbox MCP server
// (sdk/mcp/server.ts). Its RunboxClient reaches this same daemon over its own loopback WebSocket with the
// configured token, so an MCP call runs exactly as any other client's execution (admission, limits, sessions).
// This layer may import the SDK: it sits above every layer the SDK could reach, and below only the top.
// The MCP SDK and Runbox's MCP server are loaded on the first request to /mcp, not at start: they are a fifth of
// the daemon's idle memory, and most daemons never serve /mcp.
import type http from 'node:http';
import type { Logger } from 'pino';
import type { RunboxClient } from '../../sdk/client.js';
import type { RunboxMcpTools } from '../../sdk/mcp/server-tools.js';
import type { ToolSet } from '../../sdk/types.js';
import { readJsonBody } from '../api/body.js';
import type { McpEndpoint } from '../api/routes.js';
import type { Config } from '../config.js';

/** What /mcp is served with. */
export interface McpHttpDeps {
  readonly config: Config;
  readonly logger: Logger;
  /** The daemon's own base URL on loopback (known once it listens). */
  readonly selfUrl: () => string;
  /** Tools of upstream MCP servers the code may call (`mcpConfig`). @default {} */
  readonly tools?: ToolSet;
}

/** /mcp's handler, and close() for the daemon's shutdown (its loopback WebSocket). */
export interface McpHttpEndpoint extends McpEndpoint {
  close(): Promise<void>;
}

// Builds the /mcp endpoint: one tool table and client for the daemon, one MCP server and transport per request.
export function createMcpHttpEndpoint(deps: McpHttpDeps): McpHttpEndpoint {
  let state: { client: RunboxClient; tools: RunboxMcpTools; parts: McpParts } | undefined;
  let loading: Promise<McpParts> | undefined;
  // Made on the first request: the daemon's port is known only once it listens.
  const prepared = async () => {
    const parts = await (loading ??= loadMcpParts());
    if (!state) {
      const { RunboxClient, createRunboxMcpTools } = parts;
      const client = new RunboxClient({
        url: deps.selfUrl(),
        token: deps.config.token || undefined,
        onError: (error) => deps.logger.warn({ err: error }, 'the /mcp client got an error outside any execution'),
      });
      state = { client, tools: createRunboxMcpTools(client, { tools: deps.tools ?? {} }), parts };
    }
    return state;
  };
  return {
    async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
      // Stateless (no mcp-session-id): every POST is answered by a fresh server and transport, so the daemon keeps
      // no MCP state to bound or expire. Runbox's own sessions (create_session) carry state across calls.
      const body = await readJsonBody(req, deps.config.maxRequestBytes);
      const { tools, parts } = await prepared();
      const server = parts.serveRunboxMcpTools(tools);
      const transport = new parts.StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.once('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    },
    async close() {
      await state?.client.close();
    },
  };
}

/** The modules /mcp is served with, loaded once. */
type McpParts = Awaited<ReturnType<typeof loadMcpParts>>;

// Loads the MCP SDK's transport and Runbox's MCP server and client.
async function loadMcpParts() {
  const [{ StreamableHTTPServerTransport }, { RunboxClient }, { serveRunboxMcpTools }, { createRunboxMcpTools }] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('../../sdk/client.js'),
    import('../../sdk/mcp/server.js'),
    import('../../sdk/mcp/server-tools.js'),
  ]);
  return { StreamableHTTPServerTransport, RunboxClient, serveRunboxMcpTools, createRunboxMcpTools };
}

// The daemon's loopback base URL from its bound address (a wildcard address is reached on loopback).
export function loopbackUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
