// Routes tool calls of a connection's executions to the client that owns the tools and matches its answers.
// Call ids are the daemon's own (unique per connection), so executions can neither collide nor answer
// each other's calls.
import type { DaemonMessage, ToolApproval } from '../wire-types.js';
import { ToolCallError, type ToolAnswer, type ToolHost } from './tools.js';

export type ToolCallMessage = Extract<DaemonMessage, { type: 'tool_call' }>;

interface PendingCall {
  executionId: string;
  resolve: (answer: ToolAnswer) => void;
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
      call: (name, args, onAsked) =>
        new Promise((resolve, reject) => {
          const callId = `c${this.nextCallId++}`;
          this.pending.set(callId, { executionId, resolve, reject });
          onAsked?.(callId);
          this.sendToClient({ type: 'tool_call', id: executionId, callId, name, args });
        }),
      dispose: () => {
        for (const [callId, call] of this.pending) if (call.executionId === executionId) this.pending.delete(callId);
      },
    };
  }

  // Delivers the client's answer; false when no call is waiting under that id (unknown, answered, or ended).
  // `bytes` is the size of the client's message, so an oversized result fails the call instead of reaching the code.
  // An error with code `approval_denied`, or an approval decision `denied`, reaches the code as approval_denied;
  // any other error as tool_error, whatever code the client gave it.
  answer(callId: string, outcome: { result: unknown } | { error: unknown }, bytes = 0, approval?: ToolApproval): boolean {
    const call = this.pending.get(callId);
    if (!call) return false;
    this.pending.delete(callId);
    const facts = { clientCallId: callId, ...(approval ? { approval } : {}) };
    if (approval?.decision === 'denied' || ('error' in outcome && errorCode(outcome.error) === 'approval_denied')) {
      const message = 'error' in outcome ? toolErrorMessage(outcome.error, 'the call was denied') : approval?.reason || 'the call was denied';
      call.reject(new ToolCallError('approval_denied', message, facts));
    } else if ('error' in outcome) call.reject(new ToolCallError('tool_error', toolErrorMessage(outcome.error), facts));
    else if (bytes > this.maxResultBytes) call.reject(new ToolCallError('limit_exceeded', `the tool's result is ${bytes} bytes, over maxToolCallBytes ${this.maxResultBytes}`, facts));
    else call.resolve({ result: outcome.result, ...facts });
    return true;
  }
}

// The code a client gave its error, if it gave one.
function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

// The message of a client's tool error, whatever shape the client sent.
function toolErrorMessage(error: unknown, fallback = 'the tool failed'): string {
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return fallback;
}
