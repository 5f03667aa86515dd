// One WebSocket to the daemon's /v1/ws, shared by every execution of a client and multiplexed by execution id.
// It routes each daemon message to the execution it names and tells them all when the socket closes.

import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { createRunboxError, type RunboxError } from './errors.js';
import type { ClientMessage } from '../daemon/wire-types.js';
import { parseDaemonMessage, parseErrorBody, type ReceivedMessage } from './wire.js';

/** Whoever listens to one execution id: gets its messages, and the error if the connection goes away first. */
export interface ConnectionTarget {
  onMessage(message: ReceivedMessage): void;
  onClose(error: RunboxError): void;
}

export interface ConnectionOptions {
  wsUrl: string;
  token: string | undefined;
  connectTimeoutMs: number;
  /** Gets what no target wants: errors without an id, unparsable frames, messages for finished executions. */
  onStray(message: ReceivedMessage | null, text: string): void;
}

const CLIENT_CLOSED = 'the client was closed';
const CLOSE_WAIT_MS = 2000;
/** Codes for a refused upgrade whose answer has no JSON error body (the daemon's refusals have none). */
const UPGRADE_STATUS_CODES: Record<number, string> = { 401: 'unauthorized', 404: 'not_found', 503: 'unavailable' };

export class Connection {
  readonly #socket: WebSocket;
  readonly #netSocket: Socket | undefined;
  readonly #targets = new Map<string, ConnectionTarget>();
  readonly #onStray: ConnectionOptions['onStray'];
  #closeReason: string | undefined;

  private constructor(socket: WebSocket, netSocket: Socket | undefined, onStray: ConnectionOptions['onStray']) {
    this.#socket = socket;
    this.#netSocket = netSocket;
    this.#onStray = onStray;
    socket.on('message', (data, isBinary) => this.#route(isBinary ? '' : data.toString()));
    socket.on('close', (code, reason) => this.#closed(code, reason.toString()));
    this.#updateRef();
  }

  // Opens the WebSocket; rejects with a connection, timeout or API error (a refused upgrade, e.g. 401).
  static open(options: ConnectionOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
      const socket = new WebSocket(options.wsUrl, { headers });
      let netSocket: Socket | undefined;
      let settled = false;
      const settle = (error: RunboxError | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === null) {
          resolve(new Connection(socket, netSocket, options.onStray));
        } else {
          reject(error);
          socket.terminate();
        }
      };
      const timer = setTimeout(() => settle(createRunboxError({
        kind: 'timeout',
        timeoutMs: options.connectTimeoutMs,
        message: `Connecting to ${options.wsUrl} took longer than ${options.connectTimeoutMs} ms`,
      })), options.connectTimeoutMs);
      // Always listened to: ws emits 'error' for a failed or aborted handshake and after open before 'close'.
      socket.on('error', (cause) => settle(createRunboxError({
        kind: 'connection',
        message: `Cannot connect to the Runbox daemon at ${options.wsUrl}: ${cause.message}`,
        cause,
      })));
      socket.on('upgrade', (response) => { netSocket = response.socket as Socket; });
      socket.on('unexpected-response', (request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => {});
        response.on('end', () => {
          const body = parseErrorBody(Buffer.concat(chunks).toString('utf8'));
          settle(createRunboxError({
            kind: 'api',
            status: response.statusCode,
            code: body.code ?? UPGRADE_STATUS_CODES[response.statusCode ?? 0] ?? 'upgrade_refused',
            message: body.message ?? `the WebSocket upgrade was refused with HTTP ${response.statusCode}`,
            requestId: headerValue(response.headers['x-request-id']),
          }));
          request.destroy();
        });
      });
      socket.on('open', () => settle(null));
    });
  }

  /** True until the socket starts closing. */
  get isOpen(): boolean {
    return this.#closeReason === undefined && this.#socket.readyState === WebSocket.OPEN;
  }

  // Routes an execution id's messages to target; fails if the connection is no longer open.
  register(id: string, target: ConnectionTarget): void {
    if (!this.isOpen) throw this.#closeError();
    this.#targets.set(id, target);
    this.#updateRef();
  }

  // Stops routing an execution id (its messages, if any still come, go to onStray).
  unregister(id: string): void {
    this.#targets.delete(id);
    this.#updateRef();
  }

  // Sends one message; false when the socket is no longer open (its targets hear about the close instead).
  send(message: ClientMessage | string): boolean {
    if (!this.isOpen) return false;
    this.#socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    return true;
  }

  // Closes the socket (the daemon then cancels what still runs); every registered execution fails with a
  // connection error. Resolves once the socket is closed, forcing it after CLOSE_WAIT_MS.
  close(): Promise<void> {
    if (this.#closeReason === undefined) this.#closeReason = CLIENT_CLOSED;
    this.#failAll();
    if (this.#socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    // Held until the closing handshake ends, so `await client.close()` cannot be left unsettled at exit.
    this.#netSocket?.ref();
    const timer = setTimeout(() => this.#socket.terminate(), CLOSE_WAIT_MS);
    this.#socket.close(1000);
    return closed.finally(() => clearTimeout(timer));
  }

  #route(text: string): void {
    const message = parseDaemonMessage(text);
    const target = message && typeof message.id === 'string' ? this.#targets.get(message.id) : undefined;
    if (target) target.onMessage(message!);
    else this.#onStray(message, text);
  }

  #closed(code: number, reason: string): void {
    if (this.#closeReason === undefined) {
      this.#closeReason = `the connection to the daemon closed (code ${code}${reason ? `, ${reason}` : ''})`;
    }
    this.#failAll();
  }

  #failAll(): void {
    const targets = [...this.#targets.values()];
    this.#targets.clear();
    for (const target of targets) target.onClose(this.#closeError());
  }

  #closeError(): RunboxError {
    return createRunboxError({ kind: 'connection', message: `Runbox: ${this.#closeReason ?? 'the connection is not open'}` });
  }

  // An idle connection must not keep the process alive: the socket holds the event loop only while executions run.
  #updateRef(): void {
    if (this.#closeReason !== undefined) return;
    if (this.#targets.size > 0) this.#netSocket?.ref();
    else this.#netSocket?.unref();
  }
}

// The first value of a header that may repeat.
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
