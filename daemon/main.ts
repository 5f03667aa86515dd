// The `runbox` command. The only module that reads process.env and argv, handles signals and exits.
import { constants } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ConfigError, describeOptions, loadConfig } from './config.js';
import { MCP_USAGE, parseMcpArgs } from './mcp/args.js';
import { resolveExecutable } from './sandbox/host.js';
import { runInForeground } from './sandbox/spawn.js';
import { createDaemon, type Daemon } from './server.js';
import { StartupError } from './startup.js';

const USAGE = `Usage: runbox serve [options]
       runbox mcp [options]    Runbox as an MCP server on stdio, over a running daemon (runbox mcp --help)

Runs the Runbox daemon: Python and Node.js code in bubblewrap sandboxes, over HTTP and WebSocket (and MCP at /mcp).
Options (flag, environment variable):
${describeOptions()}
`;

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  if (command === 'mcp') return runMcp(rest);
  if (command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  if (command !== 'serve') {
    process.stderr.write(`runbox: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    process.exit(2);
  }
  const config = loadConfig(process.env, rest);
  if (process.pid === 1) return runUnderInit(config.initPath, argv);
  const logger = pino({ level: config.logLevel, redact: ['token', 'req.headers.authorization'] });
  // First SIGTERM/SIGINT: drain (no new executions; admitted ones get shutdownGraceMs to finish, then are
  // cancelled), clean up, exit 0. Second: cancel everything now, clean up, exit. Third: exit at once. Handled from
  // before start-up: a signal while the daemon starts (or just as it says it listens) waits for it to be up, then
  // drains it, so that what start-up made (the work directory's bind for the fork server) is cleaned up too.
  let daemon: Daemon | null = null;
  let signals = 0;
  let signalled: NodeJS.Signals | null = null;
  const stop = (signal: NodeJS.Signals) => {
    signals += 1;
    if (!daemon) {
      if (signals > 1) process.exit(1); // a second signal while starting: the operator means it
      signalled = signal;
      return;
    }
    if (signals === 1) {
      logger.info({ signal, graceMs: config.shutdownGraceMs }, 'draining: new executions are refused, running ones may finish');
      daemon.close({ graceMs: config.shutdownGraceMs }).then(() => {
        logger.info('stopped');
        process.exit(0);
      }, (error: unknown) => {
        logger.error({ err: error }, 'close failed');
        process.exit(1);
      });
    } else if (signals === 2) {
      logger.warn({ signal }, 'second signal: cancelling every execution now');
      void daemon.close({ graceMs: 0 });
    } else {
      logger.error({ signal }, 'third signal: exiting without cleaning up');
      process.exit(1);
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const started = await createDaemon(config, { logger });
  const { host, port } = await started.listen();
  daemon = started;
  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${port}`;
  logger.info({ url, sandboxed: started.sandboxed }, 'runbox listening');
  const auth = config.token ? ` -H "Authorization: Bearer $RUNBOX_TOKEN"` : '';
  process.stdout.write(
    `Runbox is listening on ${url}\n` +
      `Try: curl -s ${url}/v1/executions${auth} -H 'content-type: application/json' -d '{"runtime":"python","code":"print(6*7)"}'\n`,
  );
  if (signalled) {
    signals = 0;
    stop(signalled);
  }
}

// `runbox mcp`: MCP on stdin/stdout over a running daemon; exits when the MCP client closes stdin.
async function runMcp(argv: string[]): Promise<void> {
  const settings = parseMcpArgs(argv, process.env);
  if (settings.help) {
    process.stdout.write(MCP_USAGE);
    return;
  }
  const { serveMcpStdio } = await import('./mcp/stdio.js');
  let upstream: Awaited<ReturnType<typeof import('./mcp/upstream.js').connectUpstream>> | undefined;
  if (settings.mcpConfig !== undefined) {
    const { connectUpstream } = await import('./mcp/upstream.js');
    upstream = await connectUpstream(path.resolve(settings.mcpConfig));
    process.stderr.write(`runbox mcp: the code may call the tools of ${upstream.summary || 'no server'}\n`);
  }
  await serveMcpStdio(settings, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, upstream);
  process.exit(0);
}

// The kernel hands every orphaned process to pid 1, which must reap it. Node reaps only the children it started,
// so as pid 1 the daemon would collect zombies (a sandbox's bubblewrap whose unshare was killed a moment before
// it, an installer's grandchildren). Instead it runs itself again under an init that reaps them (tini, as a
// child subreaper), passes SIGTERM and SIGINT on (so draining works as usual), and exits as the daemon does.
async function runUnderInit(initName: string, argv: string[]): Promise<void> {
  const init = await resolveExecutable(initName, process.env.PATH);
  if (!init) {
    process.stderr.write(`runbox: the daemon is pid 1 and needs an init to reap orphaned processes, but ${JSON.stringify(initName)} (--init, RUNBOX_INIT) was not found: install tini, or start the container with one (docker run --init)\n`);
    process.exit(2);
  }
  const daemon = runInForeground(init, ['-s', '--', process.execPath, ...process.execArgv, process.argv[1], ...argv], process.env);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) process.on(signal, () => daemon.signal(signal));
  const exit = await daemon.exited;
  if (exit.spawnError) process.stderr.write(`runbox: could not start ${init}: ${exit.spawnError}\n`);
  process.exit(exit.exitCode ?? 128 + (constants.signals[exit.signal as NodeJS.Signals] ?? 0));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StartupError || (error as Error)?.name === 'UpstreamError') {
    process.stderr.write(`runbox: ${(error as Error).message}\n`);
    process.exit(2);
  }
  process.stderr.write(`runbox: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
