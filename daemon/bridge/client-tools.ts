// Routes tool calls of a connection's executions to the client that owns the tools and matches its answers.
// Call ids are the daemon's own (unique per connection), so executions can neither collide nor answer
// each other's calls.
import type { DaemonMessage } from '../wire-types.js';
import { ToolCallError, type ToolHost } from './tools.js';

export type ToolCallMessage = Extract<DaemonMessage, { type: 'tool_call' }>;

interface PendingCall {
  executionId: string;
  resolve: (result: unknown) => void;
  reject: (error: ToolCallError) => void;
}

export class ClientToolRouter {
  private nextCallId = 1;
  private readonly pending = new Map<string, PendingCall>();

  constructor(
    private readonly sendToClient: (message: ToolCallMessage) => void,
    /** Largest tool result passed back to the code. */
    private readonly maxResultBytes: number,
  ) {}

  // The tool host of one execution on this connection.
  hostFor(executionId: string): ToolHost {
    return {
      canAnswer: true,
      call: (name, args) =>
        new Promise((resolve, reject) => {
          const callId = `c${this.nextCallId++}`;
          this.pending.set(callId, { executionId, resolve, reject });
          this.sendToClient({ type: 'tool_call', id: executionId, callId, name, args });
        }),
      dispose: () => {
        for (const [callId, call] of this.pending) if (call.executionId === executionId) this.pending.delete(callId);
      },
    };
  }

  // Delivers the client's answer; false when no call is waiting under that id (unknown, answered, or ended).
  // `bytes` is the size of the client's message, so an oversized result fails the call instead of reaching the code.
  answer(callId: string, outcome: { result: unknown } | { error: unknown }, bytes = 0): boolean {
    const call = this.pending.get(callId);
    if (!call) return false;
    this.pending.delete(callId);
    if ('error' in outcome) call.reject(new ToolCallError('tool_error', toolErrorMessage(outcome.error)));
    else if (bytes > this.maxResultBytes) call.reject(new ToolCallError('limit_exceeded', `the tool's result is ${bytes} bytes, over maxToolCallBytes ${this.maxResultBytes}`));
    else call.resolve(outcome.result);
    return true;
  }
}

// The message of a client's tool error, whatever shape the client sent.
function toolErrorMessage(error: unknown): string {
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return 'the tool failed';
}
