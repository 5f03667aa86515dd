// MCP servers' tools as Runbox tools: connectMcpServers lists each server's tools and returns a ToolSet whose
// handlers call them, named `<server>.<tool>` (the code's function is `<server>__<tool>`, docs/mcp.md). They are
// ordinary tools to the daemon, so argument checks, approvals, budgets and the call log apply as to any other.
import { PROTOCOL, toolNamePattern } from '../../daemon/protocol.js';
import { createRunboxError } from '../errors.js';
import { describeReceived } from '../options.js';
import type { ToolCallContext, ToolDefinition, ToolSet } from '../types.js';
import { MCP_SERVER_NAME } from './config.js';
import { openMcpLink, type McpLink, type McpServerSource } from './connect.js';
import { mapMcpAnswer } from './results.js';

/** How long one tool call may wait for its server's answer, in ms. */
export const DEFAULT_MCP_CALL_TIMEOUT_MS = 60_000;
/** How long starting or reaching a server and listing its tools may take, in ms. */
export const DEFAULT_MCP_CONNECT_TIMEOUT_MS = 30_000;
/** Pages of tools/list read from one server at most (a server whose cursor never ends is cut there). */
const MAX_LIST_PAGES = 100;
const TOOL_NAME = toolNamePattern(PROTOCOL.maxToolNameChars);

/** Options of connectMcpServers. */
export interface ConnectMcpServersOptions {
  /**
   * How long one call may wait for its server's answer; past it the code's call raises ToolError saying so.
   * @default 60000
   */
  callTimeoutMs?: number;
  /**
   * How long starting (stdio) or reaching (HTTP) each server and listing its tools may take.
   * @default 30000
   */
  connectTimeoutMs?: number;
  /**
   * Whether a call needs the execution's `onToolCall` approval (see ToolDefinition.needsApproval): `true` for every
   * tool of every server, or a function of the tool's name (`github.create_issue`), its arguments and the call.
   * @default false
   */
  needsApproval?: boolean | ((tool: string, args: unknown, context: ToolCallContext) => boolean | Promise<boolean>);
  /**
   * The client name and version Runbox gives the servers it connects to.
   * @default { name: 'runbox', version: '0.1.0' }
   */
  clientInfo?: { name: string; version: string };
}

/** A server's tool that was not made a Runbox tool, and why (its name does not fit Runbox's tool names). */
export interface McpSkippedTool {
  tool: string;
  reason: string;
}

/** One connected server, as connectMcpServers reports it. */
export interface McpServerSummary {
  name: string;
  /** Tools of this server in `tools`. */
  toolCount: number;
  /** Tools of this server left out. */
  skipped: McpSkippedTool[];
}

/** What connectMcpServers returns. */
export interface McpToolSources {
  /** Every server's tools, by `<server>.<tool>`: pass them (with your own) as `tools` of execute() or createCodeTool(). */
  tools: ToolSet;
  servers: McpServerSummary[];
  /** Closes every client Runbox opened (and so stops the stdio servers it started); a client you passed stays open. */
  close(): Promise<void>;
}

// Connects to MCP servers (starting the stdio ones in this process, never in a sandbox) and makes their tools a
// ToolSet; fails naming the server when one cannot be started, reached or listed, after closing the others.
export async function connectMcpServers(servers: Record<string, McpServerSource>, options: ConnectMcpServersOptions = {}): Promise<McpToolSources> {
  const settings = checkOptions(servers, options);
  const links = new Map<string, McpLink>();
  const close = async () => {
    await Promise.allSettled([...links.values()].filter((link) => link.owned).map((link) => link.close()));
  };
  const tools: ToolSet = {};
  const summaries: McpServerSummary[] = [];
  try {
    // Every server settles before any failure is thrown, so close() reaches the ones still connecting then.
    const settled = await Promise.allSettled(
      Object.entries(servers).map(async ([name, source]) => {
        const signal = AbortSignal.timeout(settings.connectTimeoutMs);
        let link: McpLink;
        try {
          link = await openMcpLink(source, settings.clientInfo, signal);
        } catch (error) {
          throw createRunboxError({ kind: 'mcp', server: name, message: 'could not be started or reached', cause: error });
        }
        links.set(name, link);
        try {
          return { name, link, tools: await listAllTools(link, signal, settings.connectTimeoutMs) };
        } catch (error) {
          throw createRunboxError({ kind: 'mcp', server: name, message: `did not list its tools${link.stderrTail === '' ? '' : ` (its stderr ends: ${lastLine(link.stderrTail)})`}`, cause: error });
        }
      }),
    );
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const listed = settled.map((outcome) => (outcome as PromiseFulfilledResult<{ name: string; link: McpLink; tools: ListedTool[] }>).value);
    for (const { name, link, tools: serverTools } of listed) {
      const summary: McpServerSummary = { name, toolCount: 0, skipped: [] };
      for (const tool of serverTools) {
        const fullName = `${name}.${tool.name}`;
        const problem = nameProblem(tool.name, fullName);
        if (problem !== null) {
          summary.skipped.push({ tool: String(tool.name), reason: problem });
          continue;
        }
        tools[fullName] = mcpToolDefinition(name, link, tool, settings);
        summary.toolCount++;
      }
      summaries.push(summary);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { tools, servers: summaries, close };
}

/** A tool as tools/list gives it (the fields read here). */
interface ListedTool {
  name: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
}

// Every tool of a server, following tools/list's nextCursor.
async function listAllTools(link: McpLink, signal: AbortSignal, timeoutMs: number): Promise<ListedTool[]> {
  const tools: ListedTool[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const answer = await link.client.listTools(cursor === undefined ? {} : { cursor }, { signal, timeout: timeoutMs });
    tools.push(...(answer.tools as ListedTool[]));
    cursor = answer.nextCursor;
    if (cursor === undefined || seen.has(cursor)) break;
    seen.add(cursor);
  }
  return tools;
}

// Why a tool cannot be a Runbox tool under its name, or null when it can.
function nameProblem(toolName: unknown, fullName: string): string | null {
  if (typeof toolName !== 'string' || toolName === '') return `its name is not a non-empty string (${describeReceived(toolName)})`;
  if (/[^A-Za-z0-9_.-]/.test(toolName)) return `its name has characters outside [A-Za-z0-9_.-]`;
  if (!TOOL_NAME.test(fullName)) return `${fullName} is longer than ${PROTOCOL.maxToolNameChars} characters`;
  return null;
}

/** The options connectMcpServers checked, with defaults. */
interface Settings {
  callTimeoutMs: number;
  connectTimeoutMs: number;
  needsApproval: ConnectMcpServersOptions['needsApproval'];
  clientInfo: { name: string; version: string };
}

// One MCP tool as a Runbox ToolDefinition: its schemas as they are, a handler calling it on its server.
function mcpToolDefinition(server: string, link: McpLink, tool: ListedTool, settings: Settings): ToolDefinition {
  const fullName = `${server}.${tool.name}`;
  const definition: ToolDefinition = {
    description: tool.description ?? '',
    parameters: tool.inputSchema ?? { type: 'object', properties: {} },
    handler: async (args: unknown, context: ToolCallContext) => {
      if (link.closedReason !== null) throw new Error(`MCP server "${server}" is not connected (${link.closedReason}${stderrNote(link)}): ${fullName} was not called`);
      let answer;
      try {
        answer = await link.client.callTool({ name: tool.name, arguments: (args ?? {}) as Record<string, unknown> }, undefined, { timeout: settings.callTimeoutMs, signal: context.signal });
      } catch (error) {
        throw new Error(describeCallFailure(server, fullName, error, link, settings.callTimeoutMs));
      }
      const mapped = mapMcpAnswer(answer);
      if (!mapped.ok) throw new Error(mapped.message);
      return mapped.value;
    },
  };
  if (tool.outputSchema !== undefined) definition.outputSchema = tool.outputSchema;
  const { needsApproval } = settings;
  if (needsApproval === true) definition.needsApproval = true;
  else if (typeof needsApproval === 'function') definition.needsApproval = (args, context) => needsApproval(fullName, args, context);
  return definition;
}

// The message the code gets when a call did not come back: timed out, the server gone, or refused by it.
function describeCallFailure(server: string, fullName: string, error: unknown, link: McpLink, timeoutMs: number): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === -32001 || /timed out/i.test(message)) {
    const garbage = link.lastError === null ? '' : ` (its last transport error: ${link.lastError})`;
    return `MCP server "${server}" did not answer ${fullName} within ${timeoutMs} ms${garbage}`;
  }
  if (link.closedReason !== null || code === -32000) {
    link.closedReason ??= 'the connection closed';
    return `MCP server "${server}" closed the connection during ${fullName}${stderrNote(link)}`;
  }
  // A JSON-RPC error is the server's refusal; anything else (an HTTP request that failed...) the way there failing.
  if (typeof code === 'number') return `MCP server "${server}" refused ${fullName}: ${message}`;
  return `MCP server "${server}" could not be reached for ${fullName}: ${message}`;
}

// The last line the server wrote to stderr, to say why it died.
function stderrNote(link: McpLink): string {
  return link.stderrTail.trim() === '' ? '' : `; its stderr ends: ${lastLine(link.stderrTail)}`;
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1].slice(0, 300);
}

// Checks the servers and options at the boundary: each failure names the option, what was expected and received.
function checkOptions(servers: Record<string, McpServerSource>, options: ConnectMcpServersOptions): Settings {
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers)) fail('servers', 'an object of MCP servers by name', servers);
  for (const [name, source] of Object.entries(servers)) {
    if (!MCP_SERVER_NAME.test(name)) fail(`servers.${name}`, "a name of 1-64 characters of [A-Za-z0-9_-] starting with a letter or _ (it prefixes its tools' names)", name);
    if (`${name}.`.startsWith(PROTOCOL.reservedToolPrefix)) fail(`servers.${name}`, `a name other than "${name}" (its tools would start with the reserved "${PROTOCOL.reservedToolPrefix}")`, name);
    const shape = source as Record<string, unknown> | null;
    const isClient = typeof shape?.listTools === 'function' && typeof shape?.callTool === 'function';
    if (!isClient && (typeof shape !== 'object' || shape === null || (typeof shape.command !== 'string' && typeof shape.url !== 'string'))) {
      fail(`servers.${name}`, 'a connected MCP Client, {command, args?, env?, cwd?} or {url, headers?}', source);
    }
  }
  const { callTimeoutMs = DEFAULT_MCP_CALL_TIMEOUT_MS, connectTimeoutMs = DEFAULT_MCP_CONNECT_TIMEOUT_MS, needsApproval, clientInfo = { name: 'runbox', version: '0.1.0' } } = options;
  if (!Number.isInteger(callTimeoutMs) || callTimeoutMs <= 0) fail('options.callTimeoutMs', 'a positive integer of ms', callTimeoutMs);
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) fail('options.connectTimeoutMs', 'a positive integer of ms', connectTimeoutMs);
  if (needsApproval !== undefined && typeof needsApproval !== 'boolean' && typeof needsApproval !== 'function') fail('options.needsApproval', 'a boolean or a function', needsApproval);
  if (typeof clientInfo?.name !== 'string' || typeof clientInfo?.version !== 'string') fail('options.clientInfo', 'an object {name, version} of strings', clientInfo);
  return { callTimeoutMs, connectTimeoutMs, needsApproval, clientInfo };
}

function fail(option: string, expected: string, received: unknown): never {
  throw new TypeError(`Runbox: ${option}: expected ${expected}, received ${describeReceived(received)}`);
}
