'use strict';
// The bridge to the daemon (docs/protocol.md, "The bridge: prelude ↔ daemon"): JSON messages over the WebSocket
// client, one per text frame. The main thread's connection carries `run` in, tool calls out and back, and `done`;
// installPackage's worker opens a side connection with it too (install-worker.cjs), so it needs nothing else.

const { WebSocketClient } = require('./websocket.cjs');

class Bridge {
  // Connects to the daemon's socket; onLost(message, kind) is called once, when the bridge ends or fails.
  constructor(socketPath, token, { onConnected, onMessage, onLost, route = '/bridge' }) {
    this.onMessage = onMessage;
    this.websocket = new WebSocketClient(socketPath, token, {
      route,
      onOpen: onConnected,
      onText: (text) => this.deliver(text),
      onLost: (kind, message) => onLost(message, kind),
    });
  }

  // Parses one message and hands it on; a message that is not JSON is a daemon bug that ends the bridge, as in
  // the Python prelude.
  deliver(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return this.websocket.lose('not_json', 'bridge protocol error: a message that is not JSON');
    }
    this.onMessage(message);
  }

  // Sends a message; messages sent in the same tick go out in one write.
  send(message) {
    this.websocket.sendText(JSON.stringify(message));
  }

  // Sends a last message and calls back once it is written.
  sendLast(message, onWritten) {
    this.websocket.sendLastText(JSON.stringify(message), onWritten);
  }

  // Sends a last message synchronously (from process 'exit').
  sendLastSync(message) {
    this.websocket.sendLastTextSync(JSON.stringify(message));
  }

  // Lets the socket keep the process alive only while the prelude waits for the daemon.
  keepAlive(isNeeded) {
    this.websocket.keepAlive(isNeeded);
  }
}

module.exports = { Bridge };
