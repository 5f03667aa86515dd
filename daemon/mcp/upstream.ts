// Upstream MCP servers from an `mcpServers` file (sdk/mcp/config.ts) connected as tools the code may call
// (sdk/mcp/tools.ts), for `runbox mcp --mcp-config` and the daemon's `mcpConfig`: one execute_code in front of them all.
import fs from 'node:fs/promises';
import { parseMcpConfigText } from '../../sdk/mcp/config.js';
import { connectMcpServers, type McpToolSources } from '../../sdk/mcp/tools.js';
import { PROTOCOL } from '../protocol.js';
import type { UpstreamTools } from './stdio.js';

/** A configuration file that could not be read, parsed or connected: the message names the file and the server. */
export class UpstreamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

// Reads the file, starts or reaches its servers and lists their tools; throws UpstreamError naming what failed, and
// when the servers offer more tools than one execution may declare (every execute_code call declares them all).
export async function connectUpstream(file: string): Promise<UpstreamTools & { summary: string }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new UpstreamError(`cannot read the MCP configuration ${file}: ${(error as Error).message}`, { cause: error });
  }
  let connected: McpToolSources;
  try {
    connected = await connectMcpServers(parseMcpConfigText(text)); // the message below names the file
  } catch (error) {
    throw new UpstreamError(`MCP configuration ${file}: ${(error as Error).message.replace(/^Runbox: /, '')}`, { cause: error });
  }
  const summary = connected.servers.map((server) => `${server.name} (${server.toolCount} tool${server.toolCount === 1 ? '' : 's'})`).join(', ');
  const toolCount = Object.keys(connected.tools).length;
  if (toolCount > PROTOCOL.maxTools) {
    await connected.close();
    throw new UpstreamError(
      `MCP configuration ${file}: its servers offer ${toolCount} tools (${summary}), more than the ${PROTOCOL.maxTools} one execution may declare ` +
        '(maxTools): leave servers out ("disabled": true), or split them between runbox mcp instances',
    );
  }
  return { tools: connected.tools, close: () => connected.close(), summary };
}
