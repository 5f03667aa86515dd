// One execution on a shared connection: sends `execute`, streams output to the callbacks, answers tool calls
// (tool-calls.ts: the approval, then the local handler), and settles on the daemon's `result` or `error`, an abort, or a lost connection.

import type { ArgumentChecks } from './argument-checks.js';
import type { Connection, ConnectionTarget } from './connection.js';
import { createRunboxError, type RunboxError } from './errors.js';
import { answerToolCall, type IncomingToolCall, type ToolCallAnswer } from './tool-calls.js';
import { renderToolStubs } from './stubs/tool-stubs.js';
import type { ExecuteOptions, ExecutionResult, ToolCallContext } from './types.js';
import { buildExecuteMessage, decodeExecutionResult, type ReceivedMessage } from './wire.js';

/** Turns the way an execution ended into the error to reject with, once a cancel has been asked for. */
type CancelFailure = (result: ExecutionResult | undefined, cause: RunboxError | undefined) => unknown;

/** Who else hears what happens during the execution (client.stream()); it must not throw. */
export interface ExecutionObserver {
  output(type: 'stdout' | 'stderr', chunk: string): void;
  toolCall(call: IncomingToolCall): void;
  toolAnswered(answer: ToolCallAnswer): void;
}

/** What an execution needs from its client besides the caller's options. */
export interface ExecutionSettings {
  cancelTimeoutMs: number;
  /** The client's onError: where a throwing onToolCallFinish is reported. */
  onError: (error: RunboxError) => void;
  /** The client's schema checks of arguments an approval changed. */
  argumentChecks: ArgumentChecks;
  observer?: ExecutionObserver;
}

export class RemoteExecution implements ConnectionTarget {
  readonly id: string;
  readonly #connection: Connection;
  readonly #options: ExecuteOptions;
  readonly #settings: ExecutionSettings;
  /** Aborted when the execution settles, so tool handlers can stop work nobody will read. */
  readonly #settled = new AbortController();
  readonly #onAbort = () => this.#cancel((result) => abortError(this.#options.signal, result));
  #cancelFailure: CancelFailure | undefined;
  #cancelTimer: NodeJS.Timeout | undefined;
  #resolve: (result: ExecutionResult) => void = () => {};
  #reject: (error: unknown) => void = () => {};

  constructor(id: string, connection: Connection, options: ExecuteOptions, settings: ExecutionSettings) {
    this.id = id;
    this.#connection = connection;
    this.#options = options;
    this.#settings = settings;
  }


  // Starts the execution on the daemon; settles with its result (any status) or rejects with a RunboxError.
  run(): Promise<ExecutionResult> {
    const signal = this.#options.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal, undefined));
    const settled = new Promise<ExecutionResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#connection.register(this.id, this);
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#connection.send(buildExecuteMessage(this.id, this.#options, this.#toolStubs()));
    return settled;
  }

  // The tools' stubs to send (ExecuteOptions.toolStubs): rendered now for `true`, as given for an object.
  #toolStubs(): Readonly<Record<string, string>> | undefined {
    const { toolStubs, tools = {}, runtime } = this.#options;
    if (toolStubs === true) return renderToolStubs(tools, runtime);
    return typeof toolStubs === 'object' ? toolStubs : undefined;
  }

  onMessage(message: ReceivedMessage): void {
    if (this.#settled.signal.aborted) return;
    switch (message.type) {
      case 'stdout':
      case 'stderr':
        this.#stream(message.type, typeof message.data === 'string' ? message.data : '');
        break;
      case 'tool_call':
        void this.#answerToolCall(message);
        break;
      case 'result': {
        const result = decodeExecutionResult(this.id, message);
        if (this.#cancelFailure) this.#settle({ error: this.#cancelFailure(result, undefined) });
        else this.#settle({ result });
        break;
      }
      case 'error': {
        const error = createRunboxError({
          kind: 'api',
          code: typeof message.code === 'string' ? message.code : undefined,
          message: typeof message.message === 'string' ? message.message : undefined,
          executionId: this.id,
          retryAfterMs: typeof message.retryAfterMs === 'number' ? message.retryAfterMs : undefined,
        });
        this.#settle({ error: this.#cancelFailure ? this.#cancelFailure(undefined, error) : error });
        break;
      }
      default:
        // A message type this SDK does not know yet: newer daemons may add some; nothing to do with it.
        break;
    }
  }

  onClose(error: RunboxError): void {
    this.#settle({ error: this.#cancelFailure ? this.#cancelFailure(undefined, error) : error });
  }

  #stream(type: 'stdout' | 'stderr', chunk: string): void {
    this.#settings.observer?.output(type, chunk);
    const callback = type === 'stdout' ? this.#options.onStdout : this.#options.onStderr;
    try {
      callback?.(chunk);
    } catch (error) {
      // A throwing callback fails the execute() call with its own error, after the code is cancelled.
      this.#cancel(() => error);
    }
  }

  async #answerToolCall(message: ReceivedMessage): Promise<void> {
    if (this.#cancelFailure) return; // Being cancelled: the code will never read the answer.
    const call: IncomingToolCall = { callId: String(message.callId), tool: String(message.name), args: message.args ?? {} };
    this.#settings.observer?.toolCall(call);
    const context: ToolCallContext = { executionId: this.id, callId: call.callId, signal: this.#settled.signal };
    // Once the execution has ended or is being cancelled, nobody is waiting for the answer.
    const abandoned = () => this.#settled.signal.aborted || this.#cancelFailure !== undefined;
    const answer = await answerToolCall(call, this.#options, context, abandoned, this.#settings.argumentChecks);
    if (answer === undefined || abandoned()) return;
    if (!this.#connection.send(answer.text)) return;
    this.#settings.observer?.toolAnswered(answer);
    try {
      this.#options.onToolCallFinish?.(answer.record);
    } catch (cause) {
      this.#settings.onError(createRunboxError({ kind: 'hook', hook: 'onToolCallFinish', executionId: this.id, cause }));
    }
  }

  // Asks the daemon to cancel, then waits (at most cancelTimeoutMs) for its final answer before failing.
  #cancel(failure: CancelFailure): void {
    if (this.#settled.signal.aborted || this.#cancelFailure) return;
    this.#cancelFailure = failure;
    if (!this.#connection.send({ type: 'cancel', id: this.id })) return;
    this.#cancelTimer = setTimeout(() => this.#settle({ error: failure(undefined, undefined) }), this.#settings.cancelTimeoutMs);
  }

  #settle(outcome: { result: ExecutionResult } | { error: unknown }): void {
    if (this.#settled.signal.aborted) return;
    clearTimeout(this.#cancelTimer);
    this.#connection.unregister(this.id);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#settled.abort(createRunboxError({ kind: 'abort', message: `execution ${this.id} has ended` }));
    if ('result' in outcome) this.#resolve(outcome.result);
    else this.#reject(outcome.error);
  }
}

// The error an aborted execute() rejects with: the signal's reason as cause, the daemon's last result if known.
export function abortError(signal: AbortSignal | undefined, result: ExecutionResult | undefined): RunboxError {
  const message = result ? `The execution was aborted (the daemon reported status "${result.status}")` : 'The execution was aborted';
  return createRunboxError({ kind: 'abort', message, result, cause: signal?.reason });
}
