// ExecutionStream: one execution seen as an async iterator of its events (client.stream(), session.stream()).
//
// - The execution starts when stream() is called, as execute() would; events wait in the stream until read.
// - The buffer has no bound of its own: the daemon sends no more than maxOutputBytes of each stream's output
//   and maxToolCalls calls, and the SDK reads the socket as fast as frames come whatever the reader does, so
//   a slow reader never makes the daemon drop output (it drops stdout/stderr frames only when the client's
//   socket itself falls 1 MiB behind). The result event holds the full result, stdout and stderr included.
// - Tool calls are answered by the handlers whether or not anyone reads: a slow reader never delays the code.
// - Leaving the loop early (return(), e.g. `break`) cancels the execution on the daemon and waits for its end.

import type { ExecutionObserver } from './execution.js';
import type { ExecutionEvent, ExecutionResult } from './types.js';

/** Starts the execution with these extras: a signal that cancels it, and an observer of its events. */
export type StartExecution = (signal: AbortSignal, observer: ExecutionObserver) => Promise<ExecutionResult>;

interface Waiter<T> {
  resolve: (step: IteratorResult<ExecutionEvent<T>, undefined>) => void;
  reject: (error: unknown) => void;
}

/** An execution's events as an async iterator; read it once, with `for await`. */
export class ExecutionStream<T = unknown> implements AsyncIterableIterator<ExecutionEvent<T>> {
  readonly #queue: ExecutionEvent<T>[] = [];
  readonly #waiters: Waiter<T>[] = [];
  /** Aborted by return(): cancels the execution. */
  readonly #stop = new AbortController();
  /** Settles (never rejects) once the execution has ended, however it ended. */
  readonly #ended: Promise<void>;
  #failure: { error: unknown } | undefined;
  /** The producer is done: the result or a failure is queued, nothing more will come. */
  #finished = false;
  /** The reader is done: the result was read, the failure thrown, or return() called. */
  #closed = false;

  /** Made by the client: use `client.stream(options)` or `session.stream(options)`. */
  constructor(start: StartExecution, signal: AbortSignal | undefined) {
    const combined = signal === undefined ? this.#stop.signal : AbortSignal.any([signal, this.#stop.signal]);
    const observer: ExecutionObserver = {
      output: (type, data) => this.#push({ type, data }),
      toolCall: ({ callId, tool, args }) => this.#push({ type: 'tool_call', callId, tool, args }),
      toolAnswered: ({ record, value }) => this.#push({
        type: 'tool_result',
        callId: record.callId,
        tool: record.tool,
        outcome: record.outcome,
        durationMs: record.durationMs,
        ...(record.outcome === 'ok' ? { result: value } : { error: record.error }),
        ...(record.approval === undefined ? {} : { approval: record.approval }),
      }),
    };
    // Called in a promise so that even a synchronous throw of start() becomes the stream's failure.
    this.#ended = new Promise<ExecutionResult>((resolve) => resolve(start(combined, observer))).then(
      (result) => {
        for (const file of result.files) this.#push({ type: 'file', file });
        this.#push({ type: 'result', result: result as ExecutionResult<T> });
        this.#finish(undefined);
      },
      (error: unknown) => this.#finish(this.#stop.signal.aborted ? undefined : { error }),
    );
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  // The next event; throws the execution's error (connection lost, refused by the daemon, aborted by the
  // caller's signal) after the events that came before it.
  next(): Promise<IteratorResult<ExecutionEvent<T>, undefined>> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#drain();
    });
  }

  // Stops reading: cancels the execution if it still runs and resolves once it has ended (the daemon's
  // processes are gone, or the client's cancelTimeoutMs passed). Events not yet read are dropped.
  async return(): Promise<IteratorResult<ExecutionEvent<T>, undefined>> {
    if (!this.#finished) this.#stop.abort(new Error('the stream was closed before the execution ended'));
    this.#close();
    await this.#ended;
    return { done: true, value: undefined };
  }

  // `await using stream = client.stream(...)` cancels what is still running at the end of the block.
  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  #push(event: ExecutionEvent<T>): void {
    if (this.#closed || this.#finished) return;
    this.#queue.push(event);
    this.#drain();
  }

  #finish(failure: { error: unknown } | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#failure = failure;
    this.#drain();
  }

  #close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#failure = undefined;
    this.#drain();
  }

  // Hands queued events to waiting readers; once nothing more will come, the failure (once), then the end.
  #drain(): void {
    while (this.#waiters.length > 0) {
      const event = this.#queue.shift();
      if (event !== undefined) {
        this.#waiters.shift()!.resolve({ done: false, value: event });
        if (event.type === 'result') this.#closed = true;
        continue;
      }
      if (this.#failure !== undefined) {
        const { error } = this.#failure;
        this.#failure = undefined;
        this.#closed = true;
        this.#waiters.shift()!.reject(error);
        continue;
      }
      if (this.#closed || this.#finished) {
        this.#waiters.shift()!.resolve({ done: true, value: undefined });
        continue;
      }
      return;
    }
  }
}
