// The options of `runbox mcp`, from its arguments and environment: which daemon, which token, which runtimes,
// which upstream MCP servers. Pure; every problem is reported at once, naming the option.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config.js';

/** What `runbox mcp` runs with. */
export interface McpCommandSettings {
  /** The daemon's URL. @default RUNBOX_URL, else http://127.0.0.1:9000 */
  readonly url: string;
  /** The daemon's bearer token, from the environment only (never a flag: argv is visible to every user in ps). @default RUNBOX_TOKEN, else none */
  readonly token: string | undefined;
  /** The languages execute_code accepts, the first the default. @default ['python', 'node'] */
  readonly runtimes: readonly ('python' | 'node')[];
  /** A JSON file of upstream MCP servers (`{"mcpServers": {...}}`) whose tools the code may call. @default none */
  readonly mcpConfig: string | undefined;
  readonly help: boolean;
}

export const MCP_USAGE = `Usage: runbox mcp [options]

Serves Runbox over MCP on stdin/stdout (for MCP clients: Claude Desktop, editors, agents): execute_code and the
session tools, run by a Runbox daemon that is already running (start one with \`runbox serve\`, as root).
Options (flag, environment variable):
  --url <url>          RUNBOX_URL    the daemon's URL (default http://127.0.0.1:9000)
                       RUNBOX_TOKEN  the daemon's bearer token (environment only, never a flag; default none)
  --runtimes <list>                  languages execute_code accepts, first the default (default python,node)
  --mcp-config <file>                upstream MCP servers ({"mcpServers": {...}}) whose tools the code may call
`;

const DEFAULT_URL = 'http://127.0.0.1:9000';
const RUNTIMES = ['python', 'node'] as const;
const KNOWN = ['url', 'runtimes', 'mcp-config', 'help'];

// The settings of `runbox mcp` from its arguments (after `mcp`) and the environment; throws ConfigError with every problem.
export function parseMcpArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): McpCommandSettings {
  const problems: string[] = [];
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { url: { type: 'string' }, runtimes: { type: 'string' }, 'mcp-config': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: false,
    allowPositionals: true,
  });
  for (const name of Object.keys(values)) {
    if (name === 'token') problems.push('--token: not a flag (argv is visible to every user in ps): set RUNBOX_TOKEN in the environment');
    else if (!KNOWN.includes(name)) problems.push(`--${name}: unknown option; see runbox mcp --help`);
    else if (name !== 'help' && typeof values[name] !== 'string') problems.push(`--${name}: expected a value after it`);
  }
  // Not echoed: after a mistaken `--token`, the stray argument is the token.
  if (positionals.length > 0) problems.push(`${positionals.length} unexpected argument${positionals.length === 1 ? '' : 's'}: runbox mcp takes only the options of runbox mcp --help`);
  const url = (typeof values.url === 'string' ? values.url : undefined) ?? env.RUNBOX_URL ?? DEFAULT_URL;
  if (!/^(https?|wss?):\/\//.test(url)) problems.push(`--url (RUNBOX_URL): expected an http(s):// URL, received ${JSON.stringify(url)}`);
  const token = env.RUNBOX_TOKEN;
  const runtimes = ((typeof values.runtimes === 'string' ? values.runtimes : undefined) ?? RUNTIMES.join(',')).split(',').map((name) => name.trim());
  if (runtimes.length === 0 || runtimes.some((name) => !(RUNTIMES as readonly string[]).includes(name)) || new Set(runtimes).size !== runtimes.length) {
    problems.push(`--runtimes: expected a comma-separated list of python and/or node, received ${JSON.stringify(values.runtimes)}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    url,
    token: token === '' ? undefined : token,
    runtimes: runtimes as ('python' | 'node')[],
    mcpConfig: typeof values['mcp-config'] === 'string' ? values['mcp-config'] : undefined,
    help: values.help === true,
  };
}
