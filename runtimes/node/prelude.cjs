'use strict';
// The Runbox Node prelude. The daemon starts it inside the sandbox (`node /runbox/node/prelude.cjs`, cwd `/`,
// entering the workspace only when the code arrives); it connects back over the bridge (docs/protocol.md, "The
// bridge: prelude ↔ daemon"), receives the code in a `run` message, runs it as the user's program with the tools
// as globals, and sends one `done`. The work is done by the modules in prelude/:
//   protocol.cjs   the limits and constants of runtimes/protocol.json
//   websocket.cjs  the RFC 6455 client and handshake, over node:net
//   bridge.cjs     JSON messages over it (install-worker.cjs uses it for its side connection)
//   jsonable.cjs   values to JSON, for results and tool arguments
//   errors.cjs     what a thrown error becomes in `done`
//   namespace.cjs  the globals the code gets, and the tool calls behind them
//   imports.cjs    a package the code cannot find: the install hint, or (installOnImport) its install; loaded
//                  when first needed, with import-hooks.mjs on Node's module-hooks thread for import()
//   program.cjs    compiling and running the code, and reporting how it ended
//   warm-up.cjs    a first run of what every execution runs, while the sandbox waits for its code
// Built-in modules only, and as few as possible: every execution pays for what these files load at start-up.
// Only the bridge's modules load before connecting; the rest (each file costs Node about 0.3 ms) loads once the
// upgrade request is sent, while the daemon answers it, and before any message is read; node:vm with the
// warm-up. node:module and node:worker_threads load when first needed. Every file is loaded by its absolute path in /runbox/node, which
// the sandbox binds read-only, before any of the code runs.

const { BRIDGE_FAILURE_EXIT_CODE } = require('./prelude/protocol.cjs');
const { Bridge } = require('./prelude/bridge.cjs');

// Reads and removes the bridge settings, connects, and wires the process events; the code arrives in `run`.
function main() {
  const socketPath = process.env.RUNBOX_BRIDGE_SOCKET;
  const token = process.env.RUNBOX_BRIDGE_TOKEN;
  const workspaceDir = process.env.RUNBOX_WORKSPACE;
  delete process.env.RUNBOX_BRIDGE_SOCKET;
  delete process.env.RUNBOX_BRIDGE_TOKEN;
  delete process.env.RUNBOX_WORKSPACE;
  delete process.env.RUNBOX_PACKAGES; // installed packages are found through /node_modules
  const exitProcess = process.exit.bind(process);
  // Before the bridge is open nothing can be reported: say why on stderr and stop.
  const fail = (reason) => {
    process.stderr.write(`runbox: ${reason}\n`);
    exitProcess(BRIDGE_FAILURE_EXIT_CODE);
  };
  if (!socketPath || !token || !workspaceDir || /[\r\n]/.test(token)) {
    return fail('RUNBOX_BRIDGE_SOCKET, RUNBOX_BRIDGE_TOKEN and RUNBOX_WORKSPACE must be set by the daemon');
  }
  let execution = null;
  const bridge = new Bridge(socketPath, token, {
    onConnected: () => {
      const { Execution } = require('./prelude/program.cjs');
      execution = new Execution(exitProcess, workspaceDir, bridge, { socketPath, token });
      process.argv[1] = execution.filename;
      execution.prepare();
    },
    onMessage: (message) => execution.onMessage(message),
    onLost: (reason) => (execution === null ? fail(reason) : execution.onBridgeLost(reason)),
  });
  process.on('beforeExit', () => execution?.onEventLoopEmpty());
  process.on('exit', (code) => execution?.onProcessExit(code));
  process.on('uncaughtException', (err) => (execution === null ? fail(`prelude failure: ${err}`) : execution.onUncaught(err, 'uncaughtException')));
  process.on('unhandledRejection', (reason) => (execution === null ? fail(`prelude failure: ${reason}`) : execution.onUncaught(reason, 'unhandledRejection')));
}

main();
