// RunboxClient: runs code in the daemon's sandboxes over one lazily opened WebSocket, and answers its tool calls.

import { ArgumentChecks } from './argument-checks.js';
import { Connection } from './connection.js';
import { createRunboxError, type RunboxError } from './errors.js';
import { RemoteExecution, abortError, type ExecutionObserver } from './execution.js';
import { requestJson, sendRequest, type DaemonRequest, type HttpRequest } from './http.js';
import {
  resolveClientOptions,
  validateExecuteOptions,
  validateRequestOptions,
  validateSessionId,
  type ResolvedClientOptions,
  type RunboxClientOptions,
} from './options.js';
import { RunboxSession, type RunboxSessionHost } from './session.js';
import { ExecutionStream } from './stream.js';
import type { CreateSessionOptions, SessionInfo } from './session-types.js';
import type { ExecuteOptions, ExecutionResult, HealthStatus, RequestOptions, RuntimeInfo } from './types.js';
import type { ReceivedMessage } from './wire.js';

/** Daemon errors that only mean a cancel or a tool answer crossed an execution that had already ended. */
const LATE_ANSWER_CODES = new Set(['unknown_execution', 'unknown_call']);

/** A client of one Runbox daemon. Cheap to create; the WebSocket opens on the first execute(). */
export class RunboxClient {
  /** The daemon's HTTP base URL. */
  readonly url: string;
  readonly #options: ResolvedClientOptions;
  /** What this client's sessions use to reach the daemon. */
  readonly #sessionHost: RunboxSessionHost = {
    send: (request) => sendRequest(this.#request(request)),
    sendJson: (request) => requestJson(this.#request(request)),
    execute: (options) => this.execute(options),
    stream: (options) => this.stream(options),
  };
  #connecting: Promise<Connection> | undefined;
  #executionCount = 0;
  readonly #argumentChecks = new ArgumentChecks();

  constructor(options: RunboxClientOptions = {}) {
    this.#options = resolveClientOptions(options, process.env);
    this.url = this.#options.httpUrl.href;
  }

  // Runs code in a sandbox and answers its tool calls; resolves with the result whatever its status.
  async execute<T = unknown>(options: ExecuteOptions): Promise<ExecutionResult<T>> {
    validateExecuteOptions(options);
    return (await this.#run(options, undefined)) as ExecutionResult<T>;
  }

  // Runs code like execute(), yielding its events as they happen (output, tool calls and their answers, files,
  // the result last). The execution starts now; leaving the loop early cancels it. Bad options throw here.
  stream<T = unknown>(options: ExecuteOptions): ExecutionStream<T> {
    validateExecuteOptions(options);
    return new ExecutionStream<T>((signal, observer) => this.#run({ ...options, signal }, observer), options.signal);
  }

  // Asks the daemon whether it can run code: `{ok: true, runtimes}` or, on its 503, `{ok: false, problems}`.
  async health(options: RequestOptions = {}): Promise<HealthStatus> {
    return (await this.#get('healthz', options, [503])) as HealthStatus;
  }

  // Lists the daemon's runtimes with their versions and whether they can run code here.
  async runtimes(options: RequestOptions = {}): Promise<RuntimeInfo[]> {
    const body = (await this.#get('v1/runtimes', options)) as { runtimes?: RuntimeInfo[] };
    return body.runtimes ?? [];
  }

  // Makes a session on the daemon: a workspace that persists across its executions (run one at a time, in
  // order) until session.close() or ttlMs idle.
  async createSession(options: CreateSessionOptions = {}): Promise<RunboxSession> {
    validateRequestOptions('createSession', options);
    const { ttlMs, runtime, signal } = options;
    const request = this.#request({ method: 'POST', path: 'v1/sessions', body: { json: { ttlMs, runtime } }, signal });
    const info = (await requestJson(request)) as Partial<SessionInfo>;
    if (typeof info.id !== 'string' || info.id === '') {
      throw createRunboxError({ kind: 'api', code: 'invalid_response', message: 'POST /v1/sessions answered without a session id' });
    }
    return new RunboxSession(info.id, this.#sessionHost);
  }

  // Attaches to an existing session by id (made earlier, or by another process) without asking the daemon:
  // an unknown or expired id shows as session_not_found on the first use.
  session(id: string): RunboxSession {
    validateSessionId(id);
    return new RunboxSession(id, this.#sessionHost);
  }

  // Closes the WebSocket: running executions reject with a connection error (the daemon cancels them).
  // A later execute() opens a new connection.
  async close(): Promise<void> {
    const connecting = this.#connecting;
    this.#connecting = undefined;
    if (!connecting) return;
    const connection = await connecting.catch(() => undefined);
    await connection?.close();
  }

  async #run(options: ExecuteOptions, observer: ExecutionObserver | undefined): Promise<ExecutionResult> {
    const { signal } = options;
    if (signal?.aborted) throw abortError(signal, undefined);
    const connection = await whileNotAborted(this.#connect(), signal);
    const settings = { cancelTimeoutMs: this.#options.cancelTimeoutMs, onError: (error: RunboxError) => this.#report(error), argumentChecks: this.#argumentChecks, observer };
    return new RemoteExecution(`e${++this.#executionCount}`, connection, options, settings).run();
  }

  #get(path: string, options: RequestOptions, answerStatuses?: number[]): Promise<unknown> {
    return requestJson(this.#request({ method: 'GET', path, signal: options.signal, answerStatuses }));
  }

  // A request with this client's daemon URL, token and time limit.
  #request(request: DaemonRequest): HttpRequest {
    const { httpUrl, token, requestTimeoutMs } = this.#options;
    return { ...request, baseUrl: httpUrl, token, timeoutMs: requestTimeoutMs };
  }

  // The open connection, or a new one if there is none or it dropped; concurrent callers share one attempt,
  // and a failed attempt is forgotten so the next execute() tries again.
  async #connect(): Promise<Connection> {
    for (;;) {
      let attempt = this.#connecting;
      if (attempt === undefined) {
        const { wsUrl, token, connectTimeoutMs } = this.#options;
        const opening = Connection.open({ wsUrl, token, connectTimeoutMs, onStray: (message, text) => this.#onStray(message, text) });
        this.#connecting = attempt = opening;
        opening.catch(() => {
          if (this.#connecting === opening) this.#connecting = undefined;
        });
      }
      const connection = await attempt;
      if (connection.isOpen) return connection;
      if (this.#connecting === attempt) this.#connecting = undefined;
    }
  }

  #onStray(message: ReceivedMessage | null, text: string): void {
    if (message === null) {
      this.#report(createRunboxError({ kind: 'api', code: 'invalid_message', message: `the daemon sent a frame that is not a JSON message: ${text.slice(0, 200)}` }));
      return;
    }
    if (message.type !== 'error') return; // Output or a result for an execution that was already given up on.
    const code = typeof message.code === 'string' ? message.code : undefined;
    if (code !== undefined && LATE_ANSWER_CODES.has(code)) return;
    this.#report(createRunboxError({
      kind: 'api',
      code,
      message: typeof message.message === 'string' ? message.message : undefined,
      executionId: typeof message.id === 'string' ? message.id : undefined,
    }));
  }

  #report(error: RunboxError): void {
    try {
      this.#options.onError(error);
    } catch {
      // An onError that throws must not break the message loop of every other execution.
    }
  }
}

// Waits for promise unless signal aborts first, in which case it rejects with the abort error at once.
function whileNotAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, undefined));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
