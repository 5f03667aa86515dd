// The daemon's configuration: one declarative table of options, loaded from flags, then environment,
// then defaults. Every problem is collected and reported at once; the result is frozen. The Config type is
// derived from the table, so an option's type, default and documentation are written once, in its entry.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

/** Installs one execution may ask for (each may name up to 32 packages, and is bounded by maxPackageBytes). */
export const MAX_INSTALLS_PER_EXECUTION = 32;

// uv from the tools venv that scripts/setup.sh makes (/opt/runbox/tools as root, else under the home directory).
export function defaultUvPath(): string {
  const toolsEnv = isRoot() ? '/opt/runbox/tools' : path.join(os.homedir(), '.local/share/runbox/tools');
  return path.join(toolsEnv, 'bin', 'uv');
}

/** Values an option's default may read: every value set by a flag, the environment or an override, and the
 * defaults of the options above it in the table. */
type KnownValues = Readonly<Record<string, unknown>>;

/** One option: where its value comes from, how a raw string becomes it, and its line in --help. */
export interface OptionSpec<T> {
  readonly env?: string;
  readonly flag?: string;
  /** A flag without a value (`--unsafe-no-sandbox`). */
  readonly boolean?: boolean;
  /** The value when nothing sets it; computed once, in loadConfig. */
  readonly default: (env: NodeJS.ProcessEnv, values: KnownValues) => T;
  /** Throws an Error saying what was expected; loadConfig adds the option's name and the value. */
  readonly parse: (raw: string) => T;
  /** One line for --help (docs/configuration.md says the rest). */
  readonly describe: string;
}

// An option whose parse and default agree on one type, which the Config type then takes.
const option = <T>(spec: OptionSpec<T>): OptionSpec<T> => spec;

type Parse<T> = (raw: string) => T;

const text: Parse<string> = (raw) => raw;
const nonEmpty: Parse<string> = (raw) => {
  if (raw.trim() === '') throw new Error('expected a non-empty string');
  return raw;
};
const absolutePath: Parse<string> = (raw) => {
  if (!path.isAbsolute(raw)) throw new Error('expected an absolute path');
  return path.normalize(raw);
};
const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Parse<number> => (raw) => {
  if (!/^\d+$/.test(raw.trim())) throw new Error(`expected an integer from ${min} to ${max}`);
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`expected an integer from ${min} to ${max}`);
  return value;
};
const bool: Parse<boolean> = (raw) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off|)$/i.test(raw)) return false;
  throw new Error('expected true or false');
};
const oneOf = (...values: string[]): Parse<string> => (raw) => {
  if (!values.includes(raw)) throw new Error(`expected one of ${values.join(', ')}`);
  return raw;
};

const moduleList: Parse<readonly string[]> = (raw) => {
  const modules = raw.split(',').map((m) => m.trim()).filter(Boolean);
  const bad = modules.find((m) => !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(m));
  if (bad) throw new Error(`expected comma-separated Python module names, ${JSON.stringify(bad)} is not one`);
  return Object.freeze(modules);
};

/** The Debian/Ubuntu system CA bundle (ca-certificates). */
const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
const optionalAbsolutePath: Parse<string> = (raw) => (raw === '' ? '' : absolutePath(raw));

const httpUrl: Parse<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('expected an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('expected an http(s) URL');
  return raw;
};

// http(s) origins (scheme://host[:port], nothing after it), e.g. the host an index keeps its files on.
const originList: Parse<readonly string[]> = (raw) => {
  const origins = raw.split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    let url: URL | null = null;
    try {
      url = new URL(origin);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin.replace(/\/$/, '').toLowerCase()) {
      throw new Error(`expected comma-separated http(s) origins such as https://files.example.org, ${JSON.stringify(origin)} is not one`);
    }
  }
  return Object.freeze(origins.map((origin) => new URL(origin).origin));
};

// Package names for the allow and deny lists (compared normalized per runtime when an install is checked).
const nameList: Parse<readonly string[]> = (raw) => {
  const names = raw.split(',').map((n) => n.trim()).filter(Boolean);
  const bad = names.find((n) => !/^(@[a-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/.test(n));
  if (bad) throw new Error(`expected comma-separated package names, ${JSON.stringify(bad)} is not one`);
  return Object.freeze(names);
};

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
const MiB = 1024 * 1024;

/** The options, in --help order; the JSDoc of each is what `Config`'s field shows. Sizes are bytes, durations ms. */
const OPTIONS = {
  /** Address to listen on. */
  host: option({ env: 'RUNBOX_HOST', flag: 'host', default: () => '127.0.0.1', parse: nonEmpty, describe: 'address to listen on' }),
  /** TCP port; 0 picks a free one. */
  port: option({ env: 'RUNBOX_PORT', flag: 'port', default: () => 9000, parse: integer(0, 65535), describe: 'TCP port (0 picks a free one)' }),
  /** Bearer token every request must carry; empty means no authentication (loopback only). */
  token: option({ env: 'RUNBOX_TOKEN', default: () => '', parse: text, describe: 'bearer token required on every request (environment only, never a flag)' }),
  /** Directory for workspaces, bridge sockets and the runtime files bound into sandboxes. */
  workDir: option({ env: 'RUNBOX_WORK_DIR', flag: 'work-dir', default: () => path.join(os.tmpdir(), 'runbox'), parse: absolutePath, describe: 'directory for workspaces and bridge sockets' }),
  /** The Python environment (a venv) whose `bin/python3` runs Python code. */
  pythonEnv: option({ env: 'RUNBOX_PYTHON_ENV', flag: 'python-env', default: (env) => (isRoot() ? '/opt/runbox/python' : path.join(env.HOME ?? os.homedir(), '.local/share/runbox/python')), parse: absolutePath, describe: 'Python venv made by scripts/setup.sh' }),
  /** The Node.js binary that runs Node code. */
  nodePath: option({ env: 'RUNBOX_NODE', flag: 'node', default: () => process.execPath, parse: absolutePath, describe: 'node binary for Node code' }),
  /** The bubblewrap binary. */
  bwrapPath: option({ env: 'RUNBOX_BWRAP', flag: 'bwrap', default: () => 'bwrap', parse: nonEmpty, describe: 'bubblewrap binary' }),
  /** The init the daemon runs itself under when it is PID 1 (in a container without one), so that orphaned processes are reaped: a bare name is looked up on PATH. */
  initPath: option({ env: 'RUNBOX_INIT', flag: 'init', default: () => 'tini', parse: nonEmpty, describe: 'init the daemon starts itself under when it is PID 1, to reap orphaned processes' }),
  /** Run code without any sandbox. For development only; loudly logged. */
  unsafeNoSandbox: option({ env: 'RUNBOX_UNSAFE_NO_SANDBOX', flag: 'unsafe-no-sandbox', boolean: true, default: () => false, parse: bool, describe: 'run code WITHOUT a sandbox (development only)' }),
  /** Host uid the sandbox runs as (only used when the daemon is root). */
  sandboxUid: option({ env: 'RUNBOX_SANDBOX_UID', flag: 'sandbox-uid', default: () => 65534, parse: integer(1, 2 ** 32 - 2), describe: 'host uid of sandboxes when the daemon is root' }),
  /** Host gid the sandbox runs as (only used when the daemon is root). */
  sandboxGid: option({ env: 'RUNBOX_SANDBOX_GID', flag: 'sandbox-gid', default: () => 65534, parse: integer(1, 2 ** 32 - 2), describe: 'host gid of sandboxes when the daemon is root' }),
  /** Timeout of an execution that names none. */
  defaultTimeoutMs: option({ env: 'RUNBOX_DEFAULT_TIMEOUT_MS', flag: 'default-timeout-ms', default: () => 30_000, parse: integer(1), describe: 'timeout of an execution that names none' }),
  /** Largest timeout a request may ask for. */
  maxTimeoutMs: option({ env: 'RUNBOX_MAX_TIMEOUT_MS', flag: 'max-timeout-ms', default: () => 300_000, parse: integer(1), describe: 'largest timeout a request may ask for' }),
  /** Bytes of stdout, and separately of stderr, kept per execution. */
  maxOutputBytes: option({ env: 'RUNBOX_MAX_OUTPUT_BYTES', flag: 'max-output-bytes', default: () => MiB, parse: integer(1), describe: 'stdout and stderr bytes kept, each' }),
  /** Largest HTTP body or WebSocket message from a client. */
  maxRequestBytes: option({ env: 'RUNBOX_MAX_REQUEST_BYTES', flag: 'max-request-bytes', default: () => 64 * MiB, parse: integer(1024), describe: 'largest HTTP body or WebSocket message' }),
  /** Largest code. */
  maxCodeBytes: option({ env: 'RUNBOX_MAX_CODE_BYTES', flag: 'max-code-bytes', default: () => MiB, parse: integer(1), describe: 'largest code' }),
  /** Largest single input or output file. */
  maxFileBytes: option({ env: 'RUNBOX_MAX_FILE_BYTES', flag: 'max-file-bytes', default: () => 16 * MiB, parse: integer(1), describe: 'largest single input or output file' }),
  /** Largest total of input files, and separately of output files, per execution. */
  maxTotalFileBytes: option({ env: 'RUNBOX_MAX_TOTAL_FILE_BYTES', flag: 'max-total-file-bytes', default: () => 32 * MiB, parse: integer(1), describe: 'largest total of input files, and of output files' }),
  /** Largest message from the sandbox's prelude (a result, a tool call's arguments). */
  maxBridgeMessageBytes: option({ env: 'RUNBOX_MAX_BRIDGE_MESSAGE_BYTES', flag: 'max-bridge-message-bytes', default: () => 16 * MiB, parse: integer(1024), describe: 'largest result or tool-call message from the code' }),
  /** Bytes the code of one execution may send over its bridge, all messages and connections together; past it the execution is cut off (BridgeLimit). */
  maxBridgeInboundBytes: option({ env: 'RUNBOX_MAX_BRIDGE_INBOUND_BYTES', flag: 'max-bridge-inbound-bytes', default: () => 512 * MiB, parse: integer(1024), describe: 'bytes the code may send over its bridge per execution, in total' }),
  /** Messages the code of one execution may send over its bridge; past it the execution is cut off (BridgeLimit). */
  maxBridgeMessages: option({ env: 'RUNBOX_MAX_BRIDGE_MESSAGES', flag: 'max-bridge-messages', default: () => 50_000, parse: integer(2), describe: 'messages the code may send over its bridge per execution' }),
  /** Connections to an execution's bridge refused (over the main one and the side ones, a wrong token, a broken handshake) before the execution is cut off (BridgeLimit). */
  maxBridgeRefusedConnections: option({ env: 'RUNBOX_MAX_BRIDGE_REFUSED_CONNECTIONS', flag: 'max-bridge-refused-connections', default: () => 100, parse: integer(0), describe: 'refused connections to its bridge before an execution is cut off' }),
  /** Client connections open at once (HTTP and WebSocket); past it the oldest unauthenticated one makes room, or the new one is refused. */
  maxConnections: option({ env: 'RUNBOX_MAX_CONNECTIONS', flag: 'max-connections', default: () => 1024, parse: integer(1), describe: 'client connections open at once' }),
  /** Client connections open at once from one remote address; past it new ones from there are refused. */
  maxConnectionsPerAddress: option({ env: 'RUNBOX_MAX_CONNECTIONS_PER_ADDRESS', flag: 'max-connections-per-address', default: () => 256, parse: integer(1), describe: 'client connections open at once from one address' }),
  /** Time a client has to send a request's headers; a connection that has sent no request with the right token within it (and a moment for the 408) is cut. */
  headersTimeoutMs: option({ env: 'RUNBOX_HEADERS_TIMEOUT_MS', flag: 'headers-timeout-ms', default: () => 10_000, parse: integer(100), describe: 'time a client has to send request headers (and to authenticate)' }),
  /** Time a client has to send a whole request, body included. */
  requestTimeoutMs: option({ env: 'RUNBOX_REQUEST_TIMEOUT_MS', flag: 'request-timeout-ms', default: () => 60_000, parse: integer(100), describe: 'time a client has to send a whole request' }),
  /** Unsent bytes to a WebSocket client above which its streamed stdout/stderr messages are dropped (its results
   * still carry all the output). */
  streamPauseBytes: option({ env: 'RUNBOX_STREAM_PAUSE_BYTES', flag: 'stream-pause-bytes', default: () => MiB, parse: integer(1024), describe: 'unsent bytes to a WebSocket client above which streamed output is dropped' }),
  /** Unsent bytes to a WebSocket client above which a connection that must be sent more is closed with 1008. */
  maxBufferedBytes: option({ env: 'RUNBOX_MAX_BUFFERED_BYTES', flag: 'max-buffered-bytes', default: () => 64 * MiB, parse: integer(1024), describe: 'unsent bytes to a WebSocket client above which it is closed (1008)' }),
  /** How often the daemon pings each WebSocket client; a client that has not answered the previous ping is cut off
   * and its executions cancelled (it vanished without closing). */
  pingIntervalMs: option({ env: 'RUNBOX_PING_INTERVAL_MS', flag: 'ping-interval-ms', default: () => 30_000, parse: integer(100), describe: 'how often WebSocket clients are pinged (one unanswered ping cuts them off)' }),
  /** Memory of one execution, all its processes together (cgroup). */
  memoryBytes: option({ env: 'RUNBOX_MEMORY_BYTES', flag: 'memory-bytes', default: () => 512 * MiB, parse: integer(16 * MiB), describe: 'memory of one execution (all its processes)' }),
  /** Processes and threads of one execution together (cgroup pids). */
  maxProcesses: option({ env: 'RUNBOX_MAX_PROCESSES', flag: 'max-processes', default: () => 256, parse: integer(8), describe: 'processes and threads of one execution' }),
  /** CPU time of one execution's processes (cgroup accounting, and RLIMIT_CPU per process as a backstop). */
  cpuTimeMs: option({ env: 'RUNBOX_CPU_TIME_MS', flag: 'cpu-time-ms', default: () => 60_000, parse: integer(1000), describe: 'CPU time of one execution' }),
  /** Open files per process (RLIMIT_NOFILE). */
  maxOpenFiles: option({ env: 'RUNBOX_MAX_OPEN_FILES', flag: 'max-open-files', default: () => 1024, parse: integer(64), describe: 'open files per process' }),
  /** Largest file the code may write (RLIMIT_FSIZE). */
  fileSizeBytes: option({ env: 'RUNBOX_FILE_SIZE_BYTES', flag: 'file-size-bytes', default: () => 128 * MiB, parse: integer(MiB), describe: 'largest file the code may write' }),
  /** Address space of each sandboxed process (RLIMIT_AS), a backstop to the memory cgroup; Node needs about 1 GiB to start and 10 GiB more per WebAssembly memory. */
  addressSpaceBytes: option({ env: 'RUNBOX_ADDRESS_SPACE_BYTES', flag: 'address-space-bytes', default: () => 16 * 1024 * MiB, parse: integer(1024 * MiB), describe: 'address space per sandboxed process (RLIMIT_AS backstop)' }),
  /** Bytes of files an execution's workspace holds (a size-limited tmpfs; needs root). Session workspaces use it as their quota. */
  workspaceBytes: option({ env: 'RUNBOX_WORKSPACE_BYTES', flag: 'workspace-bytes', default: () => 512 * MiB, parse: integer(MiB), describe: 'bytes of files a workspace holds (tmpfs size)' }),
  /** Files and directories an execution's workspace holds (the tmpfs's inodes; needs root). */
  workspaceFiles: option({ env: 'RUNBOX_WORKSPACE_FILES', flag: 'workspace-files', default: () => 20_000, parse: integer(16), describe: 'files and directories a workspace holds (tmpfs inodes)' }),
  /** Size of the sandbox's /tmp (with /var/tmp) and, separately, of its /dev/shm (size-limited tmpfs). */
  tmpBytes: option({ env: 'RUNBOX_TMP_BYTES', flag: 'tmp-bytes', default: () => 128 * MiB, parse: integer(MiB), describe: 'size of /tmp (with /var/tmp), and separately of /dev/shm' }),
  /** Most output files one execution may declare. */
  maxOutputFiles: option({ env: 'RUNBOX_MAX_OUTPUT_FILES', flag: 'max-output-files', default: () => 100, parse: integer(1), describe: 'most output files one execution may declare' }),
  /** Most tool calls one execution may make. */
  maxToolCalls: option({ env: 'RUNBOX_MAX_TOOL_CALLS', flag: 'max-tool-calls', default: () => 10_000, parse: integer(0), describe: 'most tool calls one execution may make' }),
  /** Largest tool-call arguments from the code, and largest tool result passed back to it. */
  maxToolCallBytes: option({ env: 'RUNBOX_MAX_TOOL_CALL_BYTES', flag: 'max-tool-call-bytes', default: () => 8 * MiB, parse: integer(1024), describe: 'largest tool-call arguments or tool result' }),
  /** Executions running at once; more wait in the queue. */
  maxConcurrent: option({ env: 'RUNBOX_MAX_CONCURRENT', flag: 'max-concurrent', default: () => 2 * os.availableParallelism(), parse: integer(1), describe: 'executions running at once' }),
  /** Executions waiting for a slot; past that, requests are refused with 429 and Retry-After. */
  maxQueued: option({ env: 'RUNBOX_MAX_QUEUED', flag: 'max-queued', default: () => 100, parse: integer(0), describe: 'executions waiting for a slot before 429' }),
  /** On SIGTERM, how long running executions may finish before they are cancelled. */
  shutdownGraceMs: option({ env: 'RUNBOX_SHUTDOWN_GRACE_MS', flag: 'shutdown-grace-ms', default: () => 10_000, parse: integer(0), describe: 'on SIGTERM, time running executions get to finish' }),
  /** Sandboxes per runtime kept started and waiting for code (0 turns the warm pool off). */
  warmSandboxes: option({ env: 'RUNBOX_WARM_SANDBOXES', flag: 'warm-sandboxes', default: () => 1, parse: integer(0, 64), describe: 'sandboxes per runtime kept started, waiting for code' }),
  /** The most sandboxes per runtime the warm pool grows to while executions find none ready (at most maxConcurrent). */
  maxWarmSandboxes: option({ env: 'RUNBOX_MAX_WARM_SANDBOXES', flag: 'max-warm-sandboxes', default: (_env, values) => Math.max(4, values.warmSandboxes as number), parse: integer(0, 64), describe: 'most sandboxes per runtime the warm pool grows to under demand' }),
  /** After this long without an execution finding no warm sandbox ready, a grown pool goes back to warmSandboxes:
   * bursts come within a second or two, and each idle sandbox holds 45 to 120 MB. */
  warmShrinkAfterMs: option({ env: 'RUNBOX_WARM_SHRINK_AFTER_MS', flag: 'warm-shrink-after-ms', default: () => 5000, parse: integer(100), describe: 'quiet time after which a grown warm pool goes back to warmSandboxes' }),
  /** Python modules an idle warm sandbox imports while it waits for code, so charts start fast. */
  forkServer: option({ env: 'RUNBOX_FORK_SERVER', flag: 'fork-server', default: () => true, parse: bool, describe: 'fork Python sandboxes from one sandboxed interpreter with the preload modules imported (root only; off: each sandbox starts its own)' }),
  pythonPreload: option({ env: 'RUNBOX_PYTHON_PRELOAD', flag: 'python-preload', default: () => Object.freeze(['numpy', 'pandas', 'matplotlib.pyplot']), parse: moduleList, describe: 'comma-separated Python modules idle warm sandboxes import ahead ("" for none)' }),
  /** A session is removed after this long without executions or file operations, unless it asks for another TTL. */
  sessionTtlMs: option({ env: 'RUNBOX_SESSION_TTL_MS', flag: 'session-ttl-ms', default: () => 30 * 60_000, parse: integer(1000), describe: 'idle time after which a session is removed' }),
  /** Largest idle TTL a session may ask for. */
  maxSessionTtlMs: option({ env: 'RUNBOX_MAX_SESSION_TTL_MS', flag: 'max-session-ttl-ms', default: () => 24 * 3_600_000, parse: integer(1000), describe: 'largest idle TTL a session may ask for' }),
  /** Sessions that may exist at once; past it, creating one is refused (session_limit). */
  maxSessions: option({ env: 'RUNBOX_MAX_SESSIONS', flag: 'max-sessions', default: () => 100, parse: integer(0), describe: 'sessions that may exist at once' }),
  /** PEP 503 index Python installs use. */
  pythonIndexUrl: option({ env: 'RUNBOX_PYTHON_INDEX_URL', flag: 'python-index-url', default: () => 'https://pypi.org/simple', parse: httpUrl, describe: 'PEP 503 index for Python installs' }),
  /** npm registry Node installs use. */
  npmRegistryUrl: option({ env: 'RUNBOX_NPM_REGISTRY_URL', flag: 'npm-registry-url', default: () => 'https://registry.npmjs.org/', parse: httpUrl, describe: 'npm registry for Node installs' }),
  /** Package names code may install (empty allows every name not denied). */
  packageAllow: option({ env: 'RUNBOX_PACKAGE_ALLOW', flag: 'package-allow', default: () => Object.freeze([]), parse: nameList, describe: 'comma-separated package names code may install ("" allows all not denied)' }),
  /** Package names code may never install (wins over the allowlist). */
  packageDeny: option({ env: 'RUNBOX_PACKAGE_DENY', flag: 'package-deny', default: () => Object.freeze([]), parse: nameList, describe: 'comma-separated package names code may never install' }),
  /** Longest one install may take. */
  installTimeoutMs: option({ env: 'RUNBOX_INSTALL_TIMEOUT_MS', flag: 'install-timeout-ms', default: () => 120_000, parse: integer(1000), describe: 'longest one package install may take' }),
  /** Largest the packages directory of a session (or execution) may grow, per runtime. */
  maxPackageBytes: option({ env: 'RUNBOX_MAX_PACKAGE_BYTES', flag: 'max-package-bytes', default: () => 512 * MiB, parse: integer(MiB), describe: 'largest packages directory per session and runtime' }),
  /** uv, for Python installs ('' uses pip). */
  uvPath: option({ env: 'RUNBOX_UV', flag: 'uv', default: () => defaultUvPath(), parse: text, describe: 'uv binary for Python installs ("" uses pip)' }),
  /** npm, for Node installs. */
  npmPath: option({ env: 'RUNBOX_NPM', flag: 'npm', default: () => path.join(path.dirname(process.execPath), 'npm'), parse: absolutePath, describe: 'npm binary for Node installs' }),
  /** CA bundle installers trust (so a TLS-inspecting proxy works); '' for their built-in ones. */
  installCaFile: option({ env: 'RUNBOX_INSTALL_CA_FILE', flag: 'install-ca-file', default: () => (existsSync(SYSTEM_CA_FILE) ? SYSTEM_CA_FILE : ''), parse: optionalAbsolutePath, describe: 'CA bundle package installers trust ("" for their own)' }),
  /** http(s) proxy installers use to reach the index and registry; '' for none. */
  installProxy: option({ env: 'RUNBOX_INSTALL_PROXY', flag: 'install-proxy', default: () => '', parse: (raw) => (raw === '' ? '' : httpUrl(raw)), describe: 'http(s) proxy for package installers ("" for none)' }),
  /** Run npm packages' install scripts (sandboxed like code, without network) instead of skipping them. */
  packageScripts: option({ env: 'RUNBOX_PACKAGE_SCRIPTS', flag: 'package-scripts', boolean: true, default: () => false, parse: bool, describe: 'run npm install scripts, sandboxed and offline (off: never run)' }),
  /** A missing top-level import of the code's own (`import sklearn`) installs its distribution through runbox.install
   * (same validation, allow and deny lists, limits) and is then imported (Python only; Node hints). */
  installOnImport: option({ env: 'RUNBOX_INSTALL_ON_IMPORT', flag: 'install-on-import', boolean: true, default: () => false, parse: bool, describe: 'install the package of a missing top-level Python import or Node require()/import() of the code, then load it (off: the error says how)' }),
  /** Download cache shared by every install. */
  packageCacheDir: option({ env: 'RUNBOX_PACKAGE_CACHE_DIR', flag: 'package-cache-dir', default: (_env, values) => path.join(values.workDir as string, 'package-cache'), parse: absolutePath, describe: 'download cache shared by installs (default <work-dir>/package-cache)' }),
  /** Most bytes the download cache keeps; past it, the least recently used partitions go (0 keeps nothing). */
  packageCacheMaxBytes: option({ env: 'RUNBOX_PACKAGE_CACHE_MAX_BYTES', flag: 'package-cache-max-bytes', default: () => 2048 * MiB, parse: integer(0), describe: 'most bytes the download cache keeps (least recently used go first; 0 keeps nothing)' }),
  /** Origins besides pythonIndexUrl that Python installers may download files from. */
  pythonFileOrigins: option({ env: 'RUNBOX_PYTHON_FILE_ORIGINS', flag: 'python-file-origins', default: () => Object.freeze(['https://files.pythonhosted.org']), parse: originList, describe: 'comma-separated origins besides the index that Python installers may download files from ("" for none)' }),
  /** A JSON file of upstream MCP servers (`{"mcpServers": {...}}`) connected at start, whose tools the code run through
   * `/mcp` may call; their stdio servers run as the daemon's user. '' for none. */
  mcpConfig: option({ env: 'RUNBOX_MCP_CONFIG', flag: 'mcp-config', default: () => '', parse: optionalAbsolutePath, describe: 'JSON file of upstream MCP servers ({"mcpServers": ...}) whose tools /mcp\'s code may call; stdio ones run as the daemon\'s user ("" for none)' }),
  /** pino log level. */
  logLevel: option({ env: 'RUNBOX_LOG_LEVEL', flag: 'log-level', default: () => 'info', parse: oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'), describe: 'log level' }),
};

type OptionValue<S> = S extends OptionSpec<infer T> ? T : never;

/** The loaded configuration: one field per option of the table, of the type its parse returns. */
export type Config = { readonly [K in keyof typeof OPTIONS]: OptionValue<(typeof OPTIONS)[K]> };

/** The table as a list, each option with its name (for --help, parsing flags, and docs/configuration.md's test). */
export const CONFIG_OPTIONS: readonly (OptionSpec<unknown> & { readonly name: keyof Config })[] = Object.entries(OPTIONS).map(
  ([name, spec]) => Object.freeze({ name: name as keyof Config, ...(spec as OptionSpec<unknown>) }),
);


// An invalid configuration: every problem found, one per line.
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// Builds the frozen Config: each option from its flag, else its environment variable, else its default (computed
// once here, after every value that was set, so a default may follow another option). `overrides` are values
// already typed (a test's, a benchmark's) that win over everything. Throws ConfigError listing every problem.
export function loadConfig(env: NodeJS.ProcessEnv, argv: string[] = [], overrides: Partial<Config> = {}): Config {
  const problems: string[] = [];
  const flagOptions = Object.fromEntries(
    CONFIG_OPTIONS.filter((o) => o.flag).map((o) => [o.flag as string, { type: o.boolean ? 'boolean' : 'string' } as const]),
  );
  let flags: Record<string, string | boolean | undefined> = {};
  try {
    flags = parseArgs({ args: argv, options: flagOptions, strict: true, allowPositionals: false }).values as typeof flags;
  } catch (error) {
    problems.push((error as Error).message);
  }
  const values: Record<string, unknown> = {};
  const unset: typeof CONFIG_OPTIONS[number][] = [];
  for (const option of CONFIG_OPTIONS) {
    if (Object.hasOwn(overrides, option.name) && overrides[option.name] !== undefined) {
      values[option.name] = overrides[option.name];
      continue;
    }
    const fromFlag = option.flag ? flags[option.flag] : undefined;
    const fromEnv = option.env ? env[option.env] : undefined;
    const source = fromFlag !== undefined ? `--${option.flag}` : fromEnv !== undefined ? option.env : undefined;
    if (source === undefined) {
      unset.push(option);
      continue;
    }
    const raw = typeof fromFlag === 'boolean' ? String(fromFlag) : (fromFlag ?? fromEnv) as string;
    try {
      values[option.name] = option.parse(raw);
    } catch (error) {
      problems.push(`${source} (${option.name}): ${(error as Error).message}, received ${JSON.stringify(raw)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  for (const option of unset) values[option.name] = option.default(env, values);
  problems.push(...crossCheck(values as Config));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(values as Config);
}

// Rules that involve several options at once.
function crossCheck(config: Config): string[] {
  const problems: string[] = [];
  if (config.defaultTimeoutMs > config.maxTimeoutMs) {
    problems.push(`defaultTimeoutMs (${config.defaultTimeoutMs}) exceeds maxTimeoutMs (${config.maxTimeoutMs})`);
  }
  if (config.maxWarmSandboxes < config.warmSandboxes) {
    problems.push(`maxWarmSandboxes (${config.maxWarmSandboxes}) is below warmSandboxes (${config.warmSandboxes})`);
  }
  if (config.sessionTtlMs > config.maxSessionTtlMs) {
    problems.push(`sessionTtlMs (${config.sessionTtlMs}) exceeds maxSessionTtlMs (${config.maxSessionTtlMs})`);
  }
  if (config.maxFileBytes > config.maxTotalFileBytes) {
    problems.push(`maxFileBytes (${config.maxFileBytes}) exceeds maxTotalFileBytes (${config.maxTotalFileBytes})`);
  }
  if (config.maxBridgeInboundBytes < config.maxBridgeMessageBytes) {
    problems.push(`maxBridgeInboundBytes (${config.maxBridgeInboundBytes}) is less than maxBridgeMessageBytes (${config.maxBridgeMessageBytes})`);
  }
  if (config.maxBridgeMessages <= config.maxToolCalls + MAX_INSTALLS_PER_EXECUTION) {
    problems.push(`maxBridgeMessages (${config.maxBridgeMessages}) must exceed maxToolCalls (${config.maxToolCalls}) + ${MAX_INSTALLS_PER_EXECUTION} installs, so that a tool call over the limit is refused to the code rather than cutting it off`);
  }
  if (config.maxConnectionsPerAddress > config.maxConnections) {
    problems.push(`maxConnectionsPerAddress (${config.maxConnectionsPerAddress}) exceeds maxConnections (${config.maxConnections})`);
  }
  if (config.streamPauseBytes > config.maxBufferedBytes) {
    problems.push(`streamPauseBytes (${config.streamPauseBytes}) exceeds maxBufferedBytes (${config.maxBufferedBytes})`);
  }
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    problems.push(`headersTimeoutMs (${config.headersTimeoutMs}) exceeds requestTimeoutMs (${config.requestTimeoutMs})`);
  }
  // Installers' jails cover workDir (docs/configuration.md): what they run must lie outside it.
  for (const name of ['pythonEnv', 'uvPath', 'npmPath', 'nodePath'] as const) {
    const value = config[name];
    if (value && path.isAbsolute(value) && isWithin(config.workDir, value)) problems.push(`${name} (${value}) is inside workDir (${config.workDir}), which installers do not see`);
  }
  if (!config.token && !isLoopback(config.host)) {
    problems.push(`host ${config.host} is not a loopback address: set RUNBOX_TOKEN to listen on other interfaces`);
  }
  return problems;
}

// True for addresses that only this machine can reach.
// Pure: true when target is dir itself or lies below it (both absolute).
function isWithin(dir: string, target: string): boolean {
  const relative = path.relative(dir, target);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

// The --help text, generated from the table.
export function describeOptions(): string {
  return CONFIG_OPTIONS.map((o) => {
    const names = [o.flag ? `--${o.flag}` : null, o.env].filter(Boolean).join(', ');
    return `  ${names.padEnd(58)} ${o.describe}`;
  }).join('\n');
}
