// Runbox as an MCP server: an MCP `Server` (the official SDK's) whose tools are execute_code and the session
// tools (sdk/mcp/server-tools.ts), over any MCP transport (stdio for `runbox mcp`, Streamable HTTP for the
// daemon's /mcp). It talks to a running daemon through a RunboxClient; it never starts one.

import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { RunboxClient } from '../client.js';
import { createRunboxMcpTools, type RunboxMcpTools, type RunboxMcpToolsOptions } from './server-tools.js';

export { createRunboxMcpTools, type RunboxMcpTool, type RunboxMcpTools, type RunboxMcpToolsOptions } from './server-tools.js';
export type { McpContent, McpToolAnswer } from './server-content.js';

/** Options of createRunboxMcpServer(). */
export interface RunboxMcpServerOptions extends RunboxMcpToolsOptions {
  /**
   * The server's name in MCP's `initialize` answer.
   * @default 'runbox'
   */
  name?: string;
  /**
   * The server's version in MCP's `initialize` answer.
   * @default the runbox package's version
   */
  version?: string;
}

const PACKAGE_VERSION = '0.1.0';

// An MCP server with Runbox's tools over a client of a running daemon; connect it to a transport to serve.
export function createRunboxMcpServer(client: RunboxClient, options: RunboxMcpServerOptions = {}): Server {
  return serveRunboxMcpTools(createRunboxMcpTools(client, options), options);
}

// An MCP server over a tool table built once (the daemon makes one server per HTTP request around the same table).
export function serveRunboxMcpTools(tools: RunboxMcpTools, options: Pick<RunboxMcpServerOptions, 'name' | 'version'> = {}): Server {
  // The low-level Server, not McpServer: McpServer takes zod schemas, and these tools are declared in JSON Schema
  // (the code tool's own, and the stubs' input): one copy of each schema instead of a zod twin to keep in step.
  const server = new Server(
    { name: options.name ?? 'runbox', version: options.version ?? PACKAGE_VERSION },
    { capabilities: { tools: {} }, instructions: 'Run Python or Node.js code in a Runbox sandbox with execute_code; sessions keep files across calls.' },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: tools.list.map(({ name, description, inputSchema, outputSchema }) => ({ name, description, inputSchema, outputSchema })),
  }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => tools.call(request.params.name, request.params.arguments, extra.signal));
  return server;
}
