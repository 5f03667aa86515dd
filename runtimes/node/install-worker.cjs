'use strict';
// Runs on a worker thread while the prelude's main thread blocks in installPackage: opens a side connection to
// the bridge (the main connection belongs to the blocked thread), sends the install call, and hands the answer
// back through a MessagePort, waking the main thread with Atomics.notify. Node built-ins only, and of the
// prelude only the bridge (with the WebSocket client under it) and the protocol's constants.
const { workerData } = require('node:worker_threads');
const { Bridge } = require('./prelude/bridge.cjs');
const { SIDE_CONNECTION_PATH } = require('./prelude/protocol.cjs');

const { socketPath, token, callId, name, args, port, wake } = workerData;
let answered = false;

// Hands the answer over once and wakes the waiting thread.
function answer(message) {
  if (answered) return;
  answered = true;
  port.postMessage(message);
  Atomics.store(wake, 0, 1);
  Atomics.notify(wake, 0);
  bridge.keepAlive(false);
}

const bridge = new Bridge(socketPath, token, {
  route: SIDE_CONNECTION_PATH,
  onConnected: () => bridge.send({ type: 'tool_call', callId, name, args }),
  onMessage: (message) => {
    if (message?.type === 'tool_result' && String(message.callId) === callId) answer(message);
  },
  onLost: (reason) => answer({ error: { code: 'install_failed', message: `the install could not reach the daemon: ${reason}` } }),
});
