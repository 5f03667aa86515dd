// The common `mcpServers` JSON shape (Claude Desktop, Cursor, VS Code's `servers`) read into typed server
// descriptions. Pure: nothing is read from the environment or the disk, nothing is started; every problem names
// the server and the field, what was expected and what was received.
import { describeReceived } from '../options.js';

/** An MCP server the SDK starts as a child process of this process and talks to over its stdin/stdout. */
export interface McpStdioServer {
  /**
   * The transport; optional where a description is given to connectMcpServers (a `command` means stdio).
   * @default 'stdio'
   */
  type?: 'stdio';
  /** The program to run (looked up on PATH). */
  command: string;
  /**
   * Its arguments, passed as they are (no shell).
   * @default []
   */
  args?: string[];
  /**
   * Environment variables added to the safe default set the MCP SDK passes (HOME, PATH, USER...).
   * @default {}
   */
  env?: Record<string, string>;
  /**
   * Its working directory.
   * @default this process's working directory
   */
  cwd?: string;
}

/** An MCP server reached over HTTP: Streamable HTTP (`http`), or the older HTTP+SSE transport (`sse`). */
export interface McpHttpServer {
  /**
   * The transport; optional where a description is given to connectMcpServers (a `url` means Streamable HTTP).
   * @default 'http'
   */
  type?: 'http' | 'sse';
  /** The server's endpoint, `http:` or `https:`. */
  url: string;
  /**
   * Headers sent with every request (e.g. `Authorization`).
   * @default {}
   */
  headers?: Record<string, string>;
}

/** An MCP server described by configuration rather than by a connected client. */
export type McpServerDescription = McpStdioServer | McpHttpServer;

/** What parseMcpConfig returns: every server by name, with its transport decided (`type` always set). */
export type McpServerDescriptions = Record<string, (McpStdioServer & { type: 'stdio' }) | (McpHttpServer & { type: 'http' | 'sse' })>;

/** A server name: the prefix of its tools' names (`github.search_issues`), so no dot and at most 64 characters. */
export const MCP_SERVER_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Thrown for a configuration the parser cannot read; `path` is the field (`mcpServers.github.args[1]`). */
export class McpConfigError extends TypeError {
  readonly path: string;

  constructor(path: string, expected: string, received: unknown, source?: string) {
    super(`${source === undefined ? '' : `${source}: `}${path}: expected ${expected}, received ${describeReceived(received)}`);
    this.name = 'McpConfigError';
    this.path = path;
  }
}

/** Options of parseMcpConfig. */
export interface ParseMcpConfigOptions {
  /**
   * Where the configuration came from (a file name), put in front of every error message.
   * @default undefined
   */
  source?: string;
}

// Reads the text of an `mcpServers` file (JSON), so a caller's error names the file and the JSON problem.
export function parseMcpConfigText(text: string, options: ParseMcpConfigOptions = {}): McpServerDescriptions {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new McpConfigError('the configuration', 'JSON', (error as Error).message, options.source);
  }
  return parseMcpConfig(parsed, options);
}

// Reads `{"mcpServers": {name: {command, args, env, cwd} | {url, headers}, ...}}` (or VS Code's `servers`) into
// typed descriptions. A server with `"disabled": true` is left out; fields other clients use are ignored.
export function parseMcpConfig(config: unknown, options: ParseMcpConfigOptions = {}): McpServerDescriptions {
  const { source } = options;
  if (!isObject(config)) throw new McpConfigError('the configuration', 'an object {"mcpServers": {...}}', config, source);
  const key = 'mcpServers' in config ? 'mcpServers' : 'servers' in config ? 'servers' : null;
  if (key === null) throw new McpConfigError('the configuration', 'an object with "mcpServers"', Object.keys(config), source);
  if ('mcpServers' in config && 'servers' in config) throw new McpConfigError('the configuration', '"mcpServers" or "servers", not both', Object.keys(config), source);
  const servers = config[key];
  if (!isObject(servers)) throw new McpConfigError(key, 'an object of servers by name', servers, source);
  const parsed: McpServerDescriptions = {};
  for (const [name, entry] of Object.entries(servers)) {
    const where = `${key}.${name}`;
    if (!MCP_SERVER_NAME.test(name)) throw new McpConfigError(where, 'a server name of 1-64 characters of [A-Za-z0-9_-] starting with a letter or _ (it prefixes its tools\' names)', name, source);
    if (name === 'runbox') throw new McpConfigError(where, 'a server name other than "runbox" (its tools would start with the daemon\'s reserved "runbox.")', name, source);
    if (isObject(entry) && entry.disabled === true) continue;
    parsed[name] = parseMcpServer(entry, where, source);
  }
  return parsed;
}

// Reads one server's description (at `where`, for messages): its transport from `type`, else `command` or `url`.
export function parseMcpServer(entry: unknown, where: string, source?: string): McpServerDescriptions[string] {
  const fail = (field: string, expected: string, received: unknown): never => {
    throw new McpConfigError(field === '' ? where : `${where}.${field}`, expected, received, source);
  };
  if (!isObject(entry)) fail('', 'an object {command, args?, env?, cwd?} or {url, headers?}', entry);
  const server = entry as Record<string, unknown>;
  const type = transportOf(server, fail);
  if (type === 'stdio') {
    if ('url' in server) fail('url', 'no url for a stdio server (it has a command)', server.url);
    if (typeof server.command !== 'string' || server.command.trim() === '') fail('command', 'a non-empty string', server.command);
    const description: McpStdioServer & { type: 'stdio' } = { type: 'stdio', command: server.command as string, args: stringList(server.args, 'args', fail), env: stringMap(server.env, 'env', fail) };
    if (server.cwd !== undefined) {
      if (typeof server.cwd !== 'string' || server.cwd === '') fail('cwd', 'a non-empty string', server.cwd);
      description.cwd = server.cwd as string;
    }
    return description;
  }
  if ('command' in server) fail('command', `no command for an ${type} server (it has a url)`, server.command);
  if (typeof server.url !== 'string' || !isHttpUrl(server.url)) fail('url', 'an http: or https: URL', server.url);
  return { type, url: server.url as string, headers: stringMap(server.headers, 'headers', fail) };
}

// The transport a description asks for: its `type` when given, else stdio for a `command`, HTTP for a `url`.
function transportOf(server: Record<string, unknown>, fail: (field: string, expected: string, received: unknown) => never): 'stdio' | 'http' | 'sse' {
  const { type } = server;
  if (type === undefined) {
    if ('command' in server && 'url' in server) fail('', 'either a command (stdio) or a url (HTTP), not both', Object.keys(server));
    if ('command' in server) return 'stdio';
    if ('url' in server) return 'http';
    return fail('', 'a command (stdio) or a url (HTTP)', Object.keys(server));
  }
  if (type === 'stdio' || type === 'sse' || type === 'http') return type;
  if (type === 'streamable-http' || type === 'streamableHttp') return 'http';
  return fail('type', '"stdio", "http", "streamable-http" or "sse"', type);
}

// An array of strings (undefined: none), for `args`.
function stringList(value: unknown, field: string, fail: (field: string, expected: string, received: unknown) => never): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return fail(field, 'an array of strings', value);
  value.forEach((item, index) => {
    if (typeof item !== 'string') fail(`${field}[${index}]`, 'a string', item);
  });
  return [...value];
}

// An object of string values (undefined: none), for `env` and `headers`.
function stringMap(value: unknown, field: string, fail: (field: string, expected: string, received: unknown) => never): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) return fail(field, 'an object of strings', value);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') fail(`${field}.${key}`, 'a string', item);
  }
  return { ...(value as Record<string, string>) };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
