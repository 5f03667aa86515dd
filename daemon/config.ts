// The daemon's configuration: one declarative table of options, loaded from flags, then environment,
// then defaults. Every problem is collected and reported at once; the result is frozen.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

export interface Config {
  /** Address to listen on. @default '127.0.0.1' */
  readonly host: string;
  /** TCP port; 0 picks a free one. @default 9000 */
  readonly port: number;
  /** Bearer token every request must carry; empty means no authentication (loopback only). @default '' */
  readonly token: string;
  /** Directory for workspaces, bridge sockets and the runtime files bound into sandboxes. @default '<tmpdir>/runbox' */
  readonly workDir: string;
  /** The Python environment (a venv) whose `bin/python3` runs Python code. @default '/opt/runbox/python' as root, else '~/.local/share/runbox/python' */
  readonly pythonEnv: string;
  /** The Node.js binary that runs Node code. @default the daemon's own node */
  readonly nodePath: string;
  /** The bubblewrap binary. @default 'bwrap' (looked up on PATH) */
  readonly bwrapPath: string;
  /** The init the daemon runs itself under when it is PID 1 (in a container without one), so that orphaned
   * processes are reaped: a bare name is looked up on PATH. @default 'tini' */
  readonly initPath: string;
  /** Run code without any sandbox. For development only; loudly logged. @default false */
  readonly unsafeNoSandbox: boolean;
  /** Host uid the sandbox runs as (only used when the daemon is root). @default 65534 */
  readonly sandboxUid: number;
  /** Host gid the sandbox runs as (only used when the daemon is root). @default 65534 */
  readonly sandboxGid: number;
  /** Timeout of an execution that names none. @default 30000 */
  readonly defaultTimeoutMs: number;
  /** Largest timeout a request may ask for. @default 300000 */
  readonly maxTimeoutMs: number;
  /** Bytes of stdout, and separately of stderr, kept per execution. @default 1048576 */
  readonly maxOutputBytes: number;
  /** Largest HTTP body or WebSocket message from a client. @default 67108864 */
  readonly maxRequestBytes: number;
  /** Largest code. @default 1048576 */
  readonly maxCodeBytes: number;
  /** Largest single input or output file. @default 16777216 */
  readonly maxFileBytes: number;
  /** Largest total of input files, and separately of output files, per execution. @default 33554432 */
  readonly maxTotalFileBytes: number;
  /** Largest message from the sandbox's prelude (a result, a tool call's arguments). @default 16777216 */
  readonly maxBridgeMessageBytes: number;
  /** Bytes the code of one execution may send over its bridge, all messages and connections together; past it the
   * execution is cut off (BridgeLimit). @default 536870912 */
  readonly maxBridgeInboundBytes: number;
  /** Messages the code of one execution may send over its bridge; past it the execution is cut off (BridgeLimit). @default 50000 */
  readonly maxBridgeMessages: number;
  /** Connections to an execution's bridge refused (over the main one and the side ones, a wrong token, a broken
   * handshake) before the execution is cut off (BridgeLimit). @default 100 */
  readonly maxBridgeRefusedConnections: number;
  /** Client connections open at once (HTTP and WebSocket); past it the oldest unauthenticated one makes room, or
   * the new one is refused. @default 1024 */
  readonly maxConnections: number;
  /** Client connections open at once from one remote address; past it new ones from there are refused. @default 256 */
  readonly maxConnectionsPerAddress: number;
  /** Time a client has to send a request's headers; a connection that has sent no request with the right token
   * within it (and a moment for the 408) is cut. @default 10000 */
  readonly headersTimeoutMs: number;
  /** Time a client has to send a whole request, body included. @default 60000 */
  readonly requestTimeoutMs: number;
  /** Memory of one execution, all its processes together (cgroup). @default 536870912 */
  readonly memoryBytes: number;
  /** Processes and threads of one execution together (cgroup pids). @default 256 */
  readonly maxProcesses: number;
  /** CPU time of one execution's processes (cgroup accounting, and RLIMIT_CPU per process as a backstop). @default 60000 */
  readonly cpuTimeMs: number;
  /** Open files per process (RLIMIT_NOFILE). @default 1024 */
  readonly maxOpenFiles: number;
  /** Largest file the code may write (RLIMIT_FSIZE). @default 134217728 */
  readonly fileSizeBytes: number;
  /** Address space of each sandboxed process (RLIMIT_AS), a backstop to the memory cgroup; Node needs about 1 GiB to start and 10 GiB more per WebAssembly memory. @default 17179869184 */
  readonly addressSpaceBytes: number;
  /** Bytes of files an execution's workspace holds (a size-limited tmpfs; needs root). Session workspaces use it as their quota. @default 536870912 */
  readonly workspaceBytes: number;
  /** Files and directories an execution's workspace holds (the tmpfs's inodes; needs root). @default 20000 */
  readonly workspaceFiles: number;
  /** Size of the sandbox's /tmp (with /var/tmp) and, separately, of its /dev/shm (size-limited tmpfs). @default 134217728 */
  readonly tmpBytes: number;
  /** Most output files one execution may declare. @default 100 */
  readonly maxOutputFiles: number;
  /** Most tool calls one execution may make. @default 10000 */
  readonly maxToolCalls: number;
  /** Largest tool-call arguments from the code, and largest tool result passed back to it. @default 8388608 */
  readonly maxToolCallBytes: number;
  /** Executions running at once; more wait in the queue. @default 2 × CPU cores */
  readonly maxConcurrent: number;
  /** Executions waiting for a slot; past that, requests are refused with 429 and Retry-After. @default 100 */
  readonly maxQueued: number;
  /** On SIGTERM, how long running executions may finish before they are cancelled. @default 10000 */
  readonly shutdownGraceMs: number;
  /** Sandboxes per runtime kept started and waiting for code (0 turns the warm pool off). @default 1 */
  readonly warmSandboxes: number;
  /** Python modules an idle warm sandbox imports while it waits for code, so charts start fast. @default ['numpy', 'pandas', 'matplotlib.pyplot'] */
  readonly pythonPreload: readonly string[];
  /** A session is removed after this long without executions or file operations, unless it asks for another TTL. @default 1800000 */
  readonly sessionTtlMs: number;
  /** Largest idle TTL a session may ask for. @default 86400000 */
  readonly maxSessionTtlMs: number;
  /** Sessions that may exist at once; past it, creating one is refused (session_limit). @default 100 */
  readonly maxSessions: number;
  /** PEP 503 index Python installs use. @default 'https://pypi.org/simple' */
  readonly pythonIndexUrl: string;
  /** npm registry Node installs use. @default 'https://registry.npmjs.org/' */
  readonly npmRegistryUrl: string;
  /** Package names code may install (empty allows every name not denied). @default [] */
  readonly packageAllow: readonly string[];
  /** Package names code may never install (wins over the allowlist). @default [] */
  readonly packageDeny: readonly string[];
  /** Longest one install may take. @default 120000 */
  readonly installTimeoutMs: number;
  /** Largest the packages directory of a session (or execution) may grow, per runtime. @default 536870912 */
  readonly maxPackageBytes: number;
  /** uv, for Python installs ('' uses pip). @default the tools venv of scripts/setup.sh */
  readonly uvPath: string;
  /** npm, for Node installs. @default 'npm' next to the daemon's node */
  readonly npmPath: string;
  /** CA bundle installers trust (so a TLS-inspecting proxy works); '' for their built-in ones. @default '/etc/ssl/certs/ca-certificates.crt' when it exists */
  readonly installCaFile: string;
  /** http(s) proxy installers use to reach the index and registry; '' for none. @default '' */
  readonly installProxy: string;
  /** Run npm packages' install scripts (sandboxed like code, without network) instead of skipping them. @default false */
  readonly packageScripts: boolean;
  /** Download cache shared by every install. @default '<workDir>/package-cache' */
  readonly packageCacheDir: string;
  /** Most bytes the download cache keeps; past it, the least recently used partitions go (0 keeps nothing). @default 2147483648 */
  readonly packageCacheMaxBytes: number;
  /** Origins besides pythonIndexUrl that Python installers may download files from. @default ['https://files.pythonhosted.org'] */
  readonly pythonFileOrigins: readonly string[];
  /** pino log level. @default 'info' */
  readonly logLevel: string;
}

/** Installs one execution may ask for (each may name up to 32 packages, and is bounded by maxPackageBytes). */
export const MAX_INSTALLS_PER_EXECUTION = 32;

// uv from the tools venv that scripts/setup.sh makes (/opt/runbox/tools as root, else under the home directory).
export function defaultUvPath(): string {
  const toolsEnv = isRoot() ? '/opt/runbox/tools' : path.join(os.homedir(), '.local/share/runbox/tools');
  return path.join(toolsEnv, 'bin', 'uv');
}

type Parse = (raw: string) => unknown;

interface OptionSpec {
  name: keyof Config;
  env?: string;
  flag?: string;
  boolean?: boolean;
  default: (env: NodeJS.ProcessEnv) => unknown;
  parse: Parse;
  describe: string;
}

// Parsers throw an Error whose message says what was expected; loadConfig adds the option's name and the value.
const text: Parse = (raw) => raw;
const nonEmpty: Parse = (raw) => {
  if (raw.trim() === '') throw new Error('expected a non-empty string');
  return raw;
};
const absolutePath: Parse = (raw) => {
  if (!path.isAbsolute(raw)) throw new Error('expected an absolute path');
  return path.normalize(raw);
};
const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Parse => (raw) => {
  if (!/^\d+$/.test(raw.trim())) throw new Error(`expected an integer from ${min} to ${max}`);
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`expected an integer from ${min} to ${max}`);
  return value;
};
const bool: Parse = (raw) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off|)$/i.test(raw)) return false;
  throw new Error('expected true or false');
};
const oneOf = (...values: string[]): Parse => (raw) => {
  if (!values.includes(raw)) throw new Error(`expected one of ${values.join(', ')}`);
  return raw;
};

const moduleList: Parse = (raw) => {
  const modules = raw.split(',').map((m) => m.trim()).filter(Boolean);
  const bad = modules.find((m) => !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(m));
  if (bad) throw new Error(`expected comma-separated Python module names, ${JSON.stringify(bad)} is not one`);
  return Object.freeze(modules);
};

/** The Debian/Ubuntu system CA bundle (ca-certificates). */
const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
const optionalAbsolutePath: Parse = (raw) => (raw === '' ? '' : absolutePath(raw));

const httpUrl: Parse = (raw) => {
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
const originList: Parse = (raw) => {
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
const nameList: Parse = (raw) => {
  const names = raw.split(',').map((n) => n.trim()).filter(Boolean);
  const bad = names.find((n) => !/^(@[a-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/.test(n));
  if (bad) throw new Error(`expected comma-separated package names, ${JSON.stringify(bad)} is not one`);
  return Object.freeze(names);
};

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
const MiB = 1024 * 1024;

export const CONFIG_OPTIONS: readonly OptionSpec[] = [
  { name: 'host', env: 'RUNBOX_HOST', flag: 'host', default: () => '127.0.0.1', parse: nonEmpty, describe: 'address to listen on' },
  { name: 'port', env: 'RUNBOX_PORT', flag: 'port', default: () => 9000, parse: integer(0, 65535), describe: 'TCP port (0 picks a free one)' },
  { name: 'token', env: 'RUNBOX_TOKEN', default: () => '', parse: text, describe: 'bearer token required on every request (environment only, never a flag)' },
  { name: 'workDir', env: 'RUNBOX_WORK_DIR', flag: 'work-dir', default: () => path.join(os.tmpdir(), 'runbox'), parse: absolutePath, describe: 'directory for workspaces and bridge sockets' },
  {
    name: 'pythonEnv', env: 'RUNBOX_PYTHON_ENV', flag: 'python-env',
    default: (env) => (isRoot() ? '/opt/runbox/python' : path.join(env.HOME ?? os.homedir(), '.local/share/runbox/python')),
    parse: absolutePath, describe: 'Python venv made by scripts/setup.sh',
  },
  { name: 'nodePath', env: 'RUNBOX_NODE', flag: 'node', default: () => process.execPath, parse: absolutePath, describe: 'node binary for Node code' },
  { name: 'bwrapPath', env: 'RUNBOX_BWRAP', flag: 'bwrap', default: () => 'bwrap', parse: nonEmpty, describe: 'bubblewrap binary' },
  { name: 'initPath', env: 'RUNBOX_INIT', flag: 'init', default: () => 'tini', parse: nonEmpty, describe: 'init the daemon starts itself under when it is PID 1, to reap orphaned processes' },
  { name: 'unsafeNoSandbox', env: 'RUNBOX_UNSAFE_NO_SANDBOX', flag: 'unsafe-no-sandbox', boolean: true, default: () => false, parse: bool, describe: 'run code WITHOUT a sandbox (development only)' },
  { name: 'sandboxUid', env: 'RUNBOX_SANDBOX_UID', flag: 'sandbox-uid', default: () => 65534, parse: integer(1, 2 ** 32 - 2), describe: 'host uid of sandboxes when the daemon is root' },
  { name: 'sandboxGid', env: 'RUNBOX_SANDBOX_GID', flag: 'sandbox-gid', default: () => 65534, parse: integer(1, 2 ** 32 - 2), describe: 'host gid of sandboxes when the daemon is root' },
  { name: 'defaultTimeoutMs', env: 'RUNBOX_DEFAULT_TIMEOUT_MS', flag: 'default-timeout-ms', default: () => 30_000, parse: integer(1), describe: 'timeout of an execution that names none' },
  { name: 'maxTimeoutMs', env: 'RUNBOX_MAX_TIMEOUT_MS', flag: 'max-timeout-ms', default: () => 300_000, parse: integer(1), describe: 'largest timeout a request may ask for' },
  { name: 'maxOutputBytes', env: 'RUNBOX_MAX_OUTPUT_BYTES', flag: 'max-output-bytes', default: () => MiB, parse: integer(1), describe: 'stdout and stderr bytes kept, each' },
  { name: 'maxRequestBytes', env: 'RUNBOX_MAX_REQUEST_BYTES', flag: 'max-request-bytes', default: () => 64 * MiB, parse: integer(1024), describe: 'largest HTTP body or WebSocket message' },
  { name: 'maxCodeBytes', env: 'RUNBOX_MAX_CODE_BYTES', flag: 'max-code-bytes', default: () => MiB, parse: integer(1), describe: 'largest code' },
  { name: 'maxFileBytes', env: 'RUNBOX_MAX_FILE_BYTES', flag: 'max-file-bytes', default: () => 16 * MiB, parse: integer(1), describe: 'largest single input or output file' },
  { name: 'maxTotalFileBytes', env: 'RUNBOX_MAX_TOTAL_FILE_BYTES', flag: 'max-total-file-bytes', default: () => 32 * MiB, parse: integer(1), describe: 'largest total of input files, and of output files' },
  { name: 'maxBridgeMessageBytes', env: 'RUNBOX_MAX_BRIDGE_MESSAGE_BYTES', flag: 'max-bridge-message-bytes', default: () => 16 * MiB, parse: integer(1024), describe: 'largest result or tool-call message from the code' },
  { name: 'maxBridgeInboundBytes', env: 'RUNBOX_MAX_BRIDGE_INBOUND_BYTES', flag: 'max-bridge-inbound-bytes', default: () => 512 * MiB, parse: integer(1024), describe: 'bytes the code may send over its bridge per execution, in total' },
  { name: 'maxBridgeMessages', env: 'RUNBOX_MAX_BRIDGE_MESSAGES', flag: 'max-bridge-messages', default: () => 50_000, parse: integer(2), describe: 'messages the code may send over its bridge per execution' },
  { name: 'maxBridgeRefusedConnections', env: 'RUNBOX_MAX_BRIDGE_REFUSED_CONNECTIONS', flag: 'max-bridge-refused-connections', default: () => 100, parse: integer(0), describe: 'refused connections to its bridge before an execution is cut off' },
  { name: 'maxConnections', env: 'RUNBOX_MAX_CONNECTIONS', flag: 'max-connections', default: () => 1024, parse: integer(1), describe: 'client connections open at once' },
  { name: 'maxConnectionsPerAddress', env: 'RUNBOX_MAX_CONNECTIONS_PER_ADDRESS', flag: 'max-connections-per-address', default: () => 256, parse: integer(1), describe: 'client connections open at once from one address' },
  { name: 'headersTimeoutMs', env: 'RUNBOX_HEADERS_TIMEOUT_MS', flag: 'headers-timeout-ms', default: () => 10_000, parse: integer(100), describe: 'time a client has to send request headers (and to authenticate)' },
  { name: 'requestTimeoutMs', env: 'RUNBOX_REQUEST_TIMEOUT_MS', flag: 'request-timeout-ms', default: () => 60_000, parse: integer(100), describe: 'time a client has to send a whole request' },
  { name: 'memoryBytes', env: 'RUNBOX_MEMORY_BYTES', flag: 'memory-bytes', default: () => 512 * MiB, parse: integer(16 * MiB), describe: 'memory of one execution (all its processes)' },
  { name: 'maxProcesses', env: 'RUNBOX_MAX_PROCESSES', flag: 'max-processes', default: () => 256, parse: integer(8), describe: 'processes and threads of one execution' },
  { name: 'cpuTimeMs', env: 'RUNBOX_CPU_TIME_MS', flag: 'cpu-time-ms', default: () => 60_000, parse: integer(1000), describe: 'CPU time of one execution' },
  { name: 'maxOpenFiles', env: 'RUNBOX_MAX_OPEN_FILES', flag: 'max-open-files', default: () => 1024, parse: integer(64), describe: 'open files per process' },
  { name: 'fileSizeBytes', env: 'RUNBOX_FILE_SIZE_BYTES', flag: 'file-size-bytes', default: () => 128 * MiB, parse: integer(MiB), describe: 'largest file the code may write' },
  { name: 'addressSpaceBytes', env: 'RUNBOX_ADDRESS_SPACE_BYTES', flag: 'address-space-bytes', default: () => 16 * 1024 * MiB, parse: integer(1024 * MiB), describe: 'address space per sandboxed process (RLIMIT_AS backstop)' },
  { name: 'workspaceBytes', env: 'RUNBOX_WORKSPACE_BYTES', flag: 'workspace-bytes', default: () => 512 * MiB, parse: integer(MiB), describe: 'bytes of files a workspace holds (tmpfs size)' },
  { name: 'workspaceFiles', env: 'RUNBOX_WORKSPACE_FILES', flag: 'workspace-files', default: () => 20_000, parse: integer(16), describe: 'files and directories a workspace holds (tmpfs inodes)' },
  { name: 'tmpBytes', env: 'RUNBOX_TMP_BYTES', flag: 'tmp-bytes', default: () => 128 * MiB, parse: integer(MiB), describe: 'size of /tmp (with /var/tmp), and separately of /dev/shm' },
  { name: 'maxOutputFiles', env: 'RUNBOX_MAX_OUTPUT_FILES', flag: 'max-output-files', default: () => 100, parse: integer(1), describe: 'most output files one execution may declare' },
  { name: 'maxToolCalls', env: 'RUNBOX_MAX_TOOL_CALLS', flag: 'max-tool-calls', default: () => 10_000, parse: integer(0), describe: 'most tool calls one execution may make' },
  { name: 'maxToolCallBytes', env: 'RUNBOX_MAX_TOOL_CALL_BYTES', flag: 'max-tool-call-bytes', default: () => 8 * MiB, parse: integer(1024), describe: 'largest tool-call arguments or tool result' },
  { name: 'maxConcurrent', env: 'RUNBOX_MAX_CONCURRENT', flag: 'max-concurrent', default: () => 2 * os.availableParallelism(), parse: integer(1), describe: 'executions running at once' },
  { name: 'maxQueued', env: 'RUNBOX_MAX_QUEUED', flag: 'max-queued', default: () => 100, parse: integer(0), describe: 'executions waiting for a slot before 429' },
  { name: 'shutdownGraceMs', env: 'RUNBOX_SHUTDOWN_GRACE_MS', flag: 'shutdown-grace-ms', default: () => 10_000, parse: integer(0), describe: 'on SIGTERM, time running executions get to finish' },
  { name: 'warmSandboxes', env: 'RUNBOX_WARM_SANDBOXES', flag: 'warm-sandboxes', default: () => 1, parse: integer(0, 64), describe: 'sandboxes per runtime kept started, waiting for code' },
  { name: 'pythonPreload', env: 'RUNBOX_PYTHON_PRELOAD', flag: 'python-preload', default: () => Object.freeze(['numpy', 'pandas', 'matplotlib.pyplot']), parse: moduleList, describe: 'comma-separated Python modules idle warm sandboxes import ahead ("" for none)' },
  { name: 'sessionTtlMs', env: 'RUNBOX_SESSION_TTL_MS', flag: 'session-ttl-ms', default: () => 30 * 60_000, parse: integer(1000), describe: 'idle time after which a session is removed' },
  { name: 'maxSessionTtlMs', env: 'RUNBOX_MAX_SESSION_TTL_MS', flag: 'max-session-ttl-ms', default: () => 24 * 3_600_000, parse: integer(1000), describe: 'largest idle TTL a session may ask for' },
  { name: 'maxSessions', env: 'RUNBOX_MAX_SESSIONS', flag: 'max-sessions', default: () => 100, parse: integer(0), describe: 'sessions that may exist at once' },
  { name: 'pythonIndexUrl', env: 'RUNBOX_PYTHON_INDEX_URL', flag: 'python-index-url', default: () => 'https://pypi.org/simple', parse: httpUrl, describe: 'PEP 503 index for Python installs' },
  { name: 'npmRegistryUrl', env: 'RUNBOX_NPM_REGISTRY_URL', flag: 'npm-registry-url', default: () => 'https://registry.npmjs.org/', parse: httpUrl, describe: 'npm registry for Node installs' },
  { name: 'packageAllow', env: 'RUNBOX_PACKAGE_ALLOW', flag: 'package-allow', default: () => Object.freeze([]), parse: nameList, describe: 'comma-separated package names code may install ("" allows all not denied)' },
  { name: 'packageDeny', env: 'RUNBOX_PACKAGE_DENY', flag: 'package-deny', default: () => Object.freeze([]), parse: nameList, describe: 'comma-separated package names code may never install' },
  { name: 'installTimeoutMs', env: 'RUNBOX_INSTALL_TIMEOUT_MS', flag: 'install-timeout-ms', default: () => 120_000, parse: integer(1000), describe: 'longest one package install may take' },
  { name: 'maxPackageBytes', env: 'RUNBOX_MAX_PACKAGE_BYTES', flag: 'max-package-bytes', default: () => 512 * MiB, parse: integer(MiB), describe: 'largest packages directory per session and runtime' },
  { name: 'uvPath', env: 'RUNBOX_UV', flag: 'uv', default: () => defaultUvPath(), parse: text, describe: 'uv binary for Python installs ("" uses pip)' },
  { name: 'npmPath', env: 'RUNBOX_NPM', flag: 'npm', default: () => path.join(path.dirname(process.execPath), 'npm'), parse: absolutePath, describe: 'npm binary for Node installs' },
  { name: 'installCaFile', env: 'RUNBOX_INSTALL_CA_FILE', flag: 'install-ca-file', default: () => (existsSync(SYSTEM_CA_FILE) ? SYSTEM_CA_FILE : ''), parse: optionalAbsolutePath, describe: 'CA bundle package installers trust ("" for their own)' },
  { name: 'installProxy', env: 'RUNBOX_INSTALL_PROXY', flag: 'install-proxy', default: () => '', parse: (raw) => (raw === '' ? '' : httpUrl(raw)), describe: 'http(s) proxy for package installers ("" for none)' },
  { name: 'packageScripts', env: 'RUNBOX_PACKAGE_SCRIPTS', flag: 'package-scripts', boolean: true, default: () => false, parse: bool, describe: 'run npm install scripts, sandboxed and offline (off: never run)' },
  { name: 'packageCacheDir', env: 'RUNBOX_PACKAGE_CACHE_DIR', flag: 'package-cache-dir', default: () => '', parse: absolutePath, describe: 'download cache shared by installs (default <work-dir>/package-cache)' },
  { name: 'packageCacheMaxBytes', env: 'RUNBOX_PACKAGE_CACHE_MAX_BYTES', flag: 'package-cache-max-bytes', default: () => 2048 * MiB, parse: integer(0), describe: 'most bytes the download cache keeps (least recently used go first; 0 keeps nothing)' },
  { name: 'pythonFileOrigins', env: 'RUNBOX_PYTHON_FILE_ORIGINS', flag: 'python-file-origins', default: () => Object.freeze(['https://files.pythonhosted.org']), parse: originList, describe: 'comma-separated origins besides the index that Python installers may download files from ("" for none)' },
  { name: 'logLevel', env: 'RUNBOX_LOG_LEVEL', flag: 'log-level', default: () => 'info', parse: oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'), describe: 'log level' },
];

// An invalid configuration: every problem found, one per line.
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// Builds the frozen Config from argv (flags) and env; throws ConfigError listing every problem.
export function loadConfig(env: NodeJS.ProcessEnv, argv: string[] = []): Config {
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
  for (const option of CONFIG_OPTIONS) {
    const fromFlag = option.flag ? flags[option.flag] : undefined;
    const fromEnv = option.env ? env[option.env] : undefined;
    const source = fromFlag !== undefined ? `--${option.flag}` : fromEnv !== undefined ? option.env : undefined;
    if (source === undefined) {
      values[option.name] = option.default(env);
      continue;
    }
    const raw = typeof fromFlag === 'boolean' ? String(fromFlag) : (fromFlag ?? fromEnv) as string;
    try {
      values[option.name] = option.parse(raw);
    } catch (error) {
      problems.push(`${source} (${option.name}): ${(error as Error).message}, received ${JSON.stringify(raw)}`);
    }
  }
  if (problems.length === 0) problems.push(...crossCheck(values as unknown as Config));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(values as unknown as Config);
}

// Rules that involve several options at once.
function crossCheck(config: Config): string[] {
  const problems: string[] = [];
  if (config.defaultTimeoutMs > config.maxTimeoutMs) {
    problems.push(`defaultTimeoutMs (${config.defaultTimeoutMs}) exceeds maxTimeoutMs (${config.maxTimeoutMs})`);
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
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    problems.push(`headersTimeoutMs (${config.headersTimeoutMs}) exceeds requestTimeoutMs (${config.requestTimeoutMs})`);
  }
  if (!config.token && !isLoopback(config.host)) {
    problems.push(`host ${config.host} is not a loopback address: set RUNBOX_TOKEN to listen on other interfaces`);
  }
  return problems;
}

// True for addresses that only this machine can reach.
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
