// The daemon's end of one execution's bridge: a WebSocket server on a Unix socket that only that sandbox can
// reach, accepting exactly one main connection that presents the execution's token. Once it is there, a few
// short-lived side connections (/bridge/side, same token) may carry tool calls whose caller blocks a thread
// that owns the main connection (Node's synchronous installPackage); their answers go back the way they came.
// What the code may do to it is bounded: sockets beyond the allowed ones are destroyed as they are accepted,
// every message and refused connection is charged to the execution's budgets (past one, the bridge is closed and
// the execution cut off), and a bridge that takes more than its share of the main thread is not read for a while.
import { chmodSync, chownSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { BRIDGE_CHARGED_MS_PER_MIB, BridgeBudget, CpuShare, type BridgeBudgetLimits } from './budget.js';
import { parseBridgeMessage, type BridgeInbound, type BridgeOutbound } from './messages.js';
import { PROTOCOL } from '../protocol.js';
import { bearerTokenMatches } from '../secrets.js';

export interface BridgeHandlers {
  /** The prelude connected and authenticated: the sandbox is ready for its code. */
  onConnect(): void;
  onMessage(message: BridgeInbound): void;
  /** The prelude broke the protocol (bad JSON, unknown type, oversized message); the bridge stays open when it can. */
  onProtocolError(message: string): void;
  /** The code went past a budget of its bridge (the problem names it and its value); the bridge is closed. */
  onLimit(problem: string): void;
}

export interface BridgeOptions {
  socketPath: string;
  token: string;
  maxMessageBytes: number;
  /** What the code may send over the bridge, in all. */
  budget: BridgeBudgetLimits;
  /** Give the socket to the sandbox user (when the daemon is root), so only it may connect. */
  owner?: { uid: number; gid: number };
}

/** Side connections open at once, at most. */
export const MAX_SIDE_CONNECTIONS = PROTOCOL.maxSideConnections;
/** Sockets open at once: the main connection, the side ones, and two still closing (a side connection that ended
 * may be seen closing after the next one is accepted). Any more are destroyed as they are accepted. */
export const MAX_OPEN_SOCKETS = 1 + MAX_SIDE_CONNECTIONS + 2;
/** Call ids from side connection n are relabelled `side<n>:<callId>` (never a main connection's ids, which are digits). */
const SIDE_CALL_ID = /^side(\d+):(.*)$/s;
const MiB = 1024 * 1024;
/** How long drain() waits for the connections of a sandbox that has exited to close. Its processes are gone, so
 * what is left is what the kernel buffered (read in a millisecond or two); the wait only bounds the unforeseen. */
const DRAIN_TIMEOUT_MS = 2_000;

export class Bridge {
  private socket: WebSocket | null = null;
  private readonly sides = new Map<number, WebSocket>();
  private sideSeq = 0;
  private readonly queued: string[] = [];
  private readonly sockets = new Set<Socket>();
  /** Sockets that became an authenticated main or side connection. */
  private readonly upgraded = new Set<Duplex>();
  private readonly budget: BridgeBudget;
  private readonly cpu = new CpuShare();
  private restTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private closed = false;

  private constructor(
    private readonly server: http.Server,
    private readonly wss: WebSocketServer,
    private readonly options: BridgeOptions,
    private readonly handlers: BridgeHandlers,
  ) {
    this.budget = new BridgeBudget(options.budget);
  }

  // Listens on the socket path and returns once connections can be accepted.
  static async open(options: BridgeOptions, handlers: BridgeHandlers): Promise<Bridge> {
    const server = http.createServer();
    const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false });
    const bridge = new Bridge(server, wss, options, handlers);
    server.on('connection', (socket: Socket) => bridge.accept(socket));
    server.on('request', (_req, res) => res.writeHead(426).end());
    server.on('upgrade', (req, socket, head) => bridge.upgrade(req, socket, head));
    server.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, () => resolve());
    });
    // An accept that fails for want of descriptors refuses that one connection; it must not end the daemon.
    server.on('error', () => undefined);
    // Synchronously, as the execution's directories are made (sandbox-instance.ts): µs, not a thread-pool turn.
    if (options.owner) chownSync(options.socketPath, options.owner.uid, options.owner.gid);
    chmodSync(options.socketPath, 0o600);
    return bridge;
  }

  // Sends a message to the prelude, or queues it until the prelude connects (so code can wait for a sandbox).
  send(message: BridgeOutbound): void {
    if (this.closed) return;
    const side = message.type === 'tool_result' ? SIDE_CALL_ID.exec(message.callId) : null;
    if (side) {
      this.sides.get(Number(side[1]))?.send(JSON.stringify({ ...message, callId: side[2] }));
      return;
    }
    const text = JSON.stringify(message);
    if (this.socket) this.socket.send(text);
    else this.queued.push(text);
  }

  // The sandbox has exited, so nothing can write more than its connections hold already: reads that now, rests
  // ended and no new ones (a `done` sent while the bridge rested would be lost otherwise, and the result with it),
  // and settles once every connection has closed (or after DRAIN_TIMEOUT_MS). Budgets still apply.
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.draining = true;
    clearTimeout(this.restTimer);
    this.restTimer = undefined;
    const open = [this.socket, ...this.sides.values()].filter((ws): ws is WebSocket => ws !== null && ws.readyState !== ws.CLOSED);
    if (open.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let left = open.length;
      const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
      timer.unref();
      for (const ws of open) {
        ws.once('close', () => {
          if (--left > 0) return;
          clearTimeout(timer);
          resolve();
        });
        ws.resume();
      }
    });
  }

  // Closes the connection and the listening socket.
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restTimer);
    this.socket?.terminate();
    for (const side of this.sides.values()) side.terminate();
    for (const socket of this.sockets) socket.destroy();
    this.wss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // A socket just accepted: destroyed at once when as many are open as a prelude ever needs. Every connection
  // that does not become an authenticated WebSocket (destroyed here, answered 401 or 426, broken, or just closed)
  // counts as refused.
  private accept(socket: Socket): void {
    if (this.closed || this.sockets.size >= MAX_OPEN_SOCKETS) {
      socket.destroy();
      this.refused();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (!this.upgraded.delete(socket)) this.refused();
    });
  }

  // Accepts the first upgrade that carries the right token on /bridge, and side connections after it;
  // everything else gets 401 and is closed, and counts as a refused connection.
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (req.url === PROTOCOL.sideConnectionPath && this.socket && !this.closed && this.sides.size < MAX_SIDE_CONNECTIONS && this.tokenMatches(req.headers.authorization)) {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.acceptSide(ws, socket));
      return;
    }
    if (this.closed || this.socket || req.url !== '/bridge' || !this.tokenMatches(req.headers.authorization)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closed) {
        ws.terminate();
        return;
      }
      this.socket = ws;
      this.upgraded.add(socket);
      this.measure(socket);
      ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary, null));
      // ws reports an oversized frame as an error (and closes with 1009); anything else just ends the bridge.
      ws.on('error', (error: Error & { code?: string }) => {
        if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
          this.handlers.onProtocolError(`a message from the code exceeded maxBridgeMessageBytes (${this.options.maxMessageBytes} bytes)`);
        } else {
          this.handlers.onProtocolError(`the bridge broke: ${error.message}`);
        }
      });
      for (const text of this.queued.splice(0)) ws.send(text);
      this.handlers.onConnect();
    });
  }

  // A side connection: only tool calls, relabelled so their answers find their way back here.
  private acceptSide(ws: WebSocket, socket: Duplex): void {
    if (this.closed) return void ws.terminate();
    const n = ++this.sideSeq;
    this.sides.set(n, ws);
    this.upgraded.add(socket);
    this.measure(socket);
    ws.on('close', () => this.sides.delete(n));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary, n));
    if (this.restTimer) ws.pause();
  }

  private tokenMatches(header: string | undefined): boolean {
    return bearerTokenMatches(header, this.options.token);
  }

  // Every message is charged to the budgets before it is looked at; one past them cuts the execution off.
  private receive(data: Buffer, isBinary: boolean, side: number | null): void {
    if (this.closed) return;
    const over = this.budget.chargeMessage(data.length);
    if (over) return this.cutOff(over);
    const parsed = parseBridgeMessage(data, isBinary);
    if (side === null) {
      if ('problem' in parsed) this.handlers.onProtocolError(parsed.problem);
      else this.handlers.onMessage(parsed.message);
      return;
    }
    if ('problem' in parsed) return this.handlers.onProtocolError(`side connection: ${parsed.problem}`);
    if (parsed.message.type !== 'tool_call') return this.handlers.onProtocolError('side connection: only tool calls may be sent on it');
    this.handlers.onMessage({ ...parsed.message, callId: `side${side}:${parsed.message.callId}` });
  }

  // A connection was refused; past maxBridgeRefusedConnections of them the execution is cut off.
  private refused(): void {
    if (this.closed) return;
    const over = this.budget.chargeRefusal();
    if (over) this.cutOff(over);
  }

  private cutOff(problem: string): void {
    void this.close();
    this.handlers.onLimit(problem);
  }

  // Charges the main-thread time spent on an upgraded socket's data (ws assembling, unmasking and checking its
  // frames, and the messages it emits, parsed and handled, all synchronously), and a cost per byte, to the
  // bridge's share; past it, none of the bridge's connections is read until the share allows again.
  private measure(socket: Duplex): void {
    let startedAt = 0;
    socket.prependListener('data', () => (startedAt = performance.now()));
    socket.on('data', (chunk: Buffer) => this.rest(this.cpu.charge(performance.now() - startedAt + (chunk.length / MiB) * BRIDGE_CHARGED_MS_PER_MIB)));
  }

  private rest(ms: number): void {
    if (ms <= 0 || this.restTimer || this.closed || this.draining) return;
    const connections = [this.socket, ...this.sides.values()].filter((ws): ws is WebSocket => ws !== null);
    for (const ws of connections) ws.pause();
    this.restTimer = setTimeout(() => {
      this.restTimer = undefined;
      if (this.closed) return;
      for (const ws of [this.socket, ...this.sides.values()]) ws?.resume();
    }, ms);
    this.restTimer.unref();
  }
}
