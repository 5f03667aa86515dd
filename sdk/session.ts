// RunboxSession: a workspace on the daemon that persists across executions, with its file API, until close()
// or its idle TTL. Executions of one session run one at a time, in the order they reach the daemon.

import { RunboxAPIError } from './errors.js';
import { validateRequestOptions, validateSessionExecuteOptions } from './options.js';
import { SessionFiles, type SessionHost } from './session-files.js';
import type { ExecutionStream } from './stream.js';
import type { SessionExecuteOptions, SessionInfo } from './session-types.js';
import type { ExecuteOptions, ExecutionResult, RequestOptions } from './types.js';

/** What a session needs from its client: HTTP requests, and executions on the client's WebSocket. */
export interface RunboxSessionHost extends SessionHost {
  execute(options: ExecuteOptions): Promise<ExecutionResult>;
  stream<T>(options: ExecuteOptions): ExecutionStream<T>;
}

/**
 * One session of a daemon, made by `client.createSession()` or attached by `client.session(id)`. It outlives
 * the client's WebSocket (client.close() leaves it alone): close it, e.g. in a `finally`, or with
 * `await using session = await client.createSession()`.
 */
export class RunboxSession {
  /** The daemon's id of the session (`ses_...`). */
  readonly id: string;
  /** The session workspace's files. */
  readonly files: SessionFiles;
  readonly #host: RunboxSessionHost;
  /** `v1/sessions/<id>`, percent-encoded. */
  readonly #path: string;
  #closing: Promise<void> | undefined;

  /** Made by the client: use `client.createSession()` or `client.session(id)`. */
  constructor(id: string, host: RunboxSessionHost) {
    this.id = id;
    this.#host = host;
    this.#path = `v1/sessions/${encodeURIComponent(id)}`;
    this.files = new SessionFiles(this.#path, host);
  }

  // Runs code in the session's workspace after the session's earlier executions; like client.execute(), it
  // resolves with the result whatever its status. A closed or expired session rejects with session_not_found.
  async execute<T = unknown>(options: SessionExecuteOptions): Promise<ExecutionResult<T>> {
    validateSessionExecuteOptions(options);
    return (await this.#host.execute({ ...options, sessionId: this.id })) as ExecutionResult<T>;
  }

  // Streams an execution in the session's workspace, like client.stream(): its events as they happen, the
  // result last; it waits its turn after the session's earlier executions.
  stream<T = unknown>(options: SessionExecuteOptions): ExecutionStream<T> {
    validateSessionExecuteOptions(options);
    return this.#host.stream<T>({ ...options, sessionId: this.id });
  }

  // Asks the daemon about the session: when it expires, and how full its workspace is.
  async info(options: RequestOptions = {}): Promise<SessionInfo> {
    validateRequestOptions('info', options);
    return (await this.#host.sendJson({ method: 'GET', path: this.#path, signal: options.signal })) as SessionInfo;
  }

  // Deletes the session: the daemon cancels its running executions and removes its files. Safe to call
  // again, and on a session that already expired or was deleted elsewhere: it then resolves without a word.
  async close(options: RequestOptions = {}): Promise<void> {
    validateRequestOptions('close', options);
    this.#closing ??= this.#delete(options.signal);
    return this.#closing;
  }

  // `await using session = await client.createSession()` closes the session at the end of the block.
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #delete(signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.#host.sendJson({ method: 'DELETE', path: this.#path, signal });
    } catch (error) {
      if (error instanceof RunboxAPIError && error.code === 'session_not_found') return;
      this.#closing = undefined; // Not closed (unreachable daemon, aborted): a later close() tries again.
      throw error;
    }
  }
}
