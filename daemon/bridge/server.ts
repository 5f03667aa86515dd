// The daemon's end of one execution's bridge: a WebSocket server on a Unix socket that only that sandbox can
// reach, accepting exactly one main connection that presents the execution's token. Once it is there, a few
// short-lived side connections (/bridge/side, same token) may carry tool calls whose caller blocks a thread
// that owns the main connection (Node's synchronous installPackage); their answers go back the way they came.
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseBridgeMessage, type BridgeInbound, type BridgeOutbound } from './messages.js';
import { PROTOCOL } from '../protocol.js';

export interface BridgeHandlers {
  /** The prelude connected and authenticated: the sandbox is ready for its code. */
  onConnect(): void;
  onMessage(message: BridgeInbound): void;
  /** The prelude broke the protocol (bad JSON, unknown type, oversized message); the bridge stays open when it can. */
  onProtocolError(message: string): void;
}

export interface BridgeOptions {
  socketPath: string;
  token: string;
  maxMessageBytes: number;
  /** Give the socket to the sandbox user (when the daemon is root), so only it may connect. */
  owner?: { uid: number; gid: number };
}

/** Side connections open at once, at most. */
export const MAX_SIDE_CONNECTIONS = PROTOCOL.maxSideConnections;
/** Call ids from side connection n are relabelled `side<n>:<callId>` (never a main connection's ids, which are digits). */
const SIDE_CALL_ID = /^side(\d+):(.*)$/s;

export class Bridge {
  private socket: WebSocket | null = null;
  private readonly sides = new Map<number, WebSocket>();
  private sideSeq = 0;
  private readonly queued: string[] = [];
  private closed = false;

  private constructor(
    private readonly server: http.Server,
    private readonly wss: WebSocketServer,
    private readonly options: BridgeOptions,
    private readonly handlers: BridgeHandlers,
  ) {}

  // Listens on the socket path and returns once connections can be accepted.
  static async open(options: BridgeOptions, handlers: BridgeHandlers): Promise<Bridge> {
    const server = http.createServer((_req, res) => res.writeHead(426).end());
    const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false });
    const bridge = new Bridge(server, wss, options, handlers);
    server.on('upgrade', (req, socket, head) => bridge.upgrade(req, socket, head));
    server.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, () => resolve());
    });
    if (options.owner) await fs.chown(options.socketPath, options.owner.uid, options.owner.gid);
    await fs.chmod(options.socketPath, 0o600);
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

  // Closes the connection and the listening socket.
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket?.terminate();
    for (const side of this.sides.values()) side.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // Accepts the first upgrade that carries the right token on /bridge, and side connections after it;
  // everything else gets 401 and is closed.
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (req.url === PROTOCOL.sideConnectionPath && this.socket && !this.closed && this.sides.size < MAX_SIDE_CONNECTIONS && this.tokenMatches(req.headers.authorization)) {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.acceptSide(ws));
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
      ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
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
  private acceptSide(ws: WebSocket): void {
    if (this.closed) return void ws.terminate();
    const n = ++this.sideSeq;
    this.sides.set(n, ws);
    ws.on('close', () => this.sides.delete(n));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      const parsed = parseBridgeMessage(data as Buffer, isBinary);
      if ('problem' in parsed) return this.handlers.onProtocolError(`side connection: ${parsed.problem}`);
      if (parsed.message.type !== 'tool_call') return this.handlers.onProtocolError('side connection: only tool calls may be sent on it');
      this.handlers.onMessage({ ...parsed.message, callId: `side${n}:${parsed.message.callId}` });
    });
  }

  private tokenMatches(header: string | undefined): boolean {
    const expected = Buffer.from(`Bearer ${this.options.token}`);
    const given = Buffer.from(header ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    const parsed = parseBridgeMessage(data, isBinary);
    if ('problem' in parsed) this.handlers.onProtocolError(parsed.problem);
    else this.handlers.onMessage(parsed.message);
  }
}
