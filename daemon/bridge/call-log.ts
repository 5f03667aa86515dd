// The log of one execution's tool calls, as the result's `toolCallLog` carries it and the daemon's log shows it
// at debug level: for each call the tool, its arguments cut to 1 KiB, when it started and how long it took, how
// it ended, the size of its result and the client's approval decision. It keeps the first MAX_LOGGED_CALLS calls
// that finished; past them it only counts (`toolCallLogTruncated`).
import type { Logger } from 'pino';
import type { CodeErrorCode } from '../errors.js';
import type { ToolApproval, ToolCallLogEntry, ToolCallOutcome } from '../wire-types.js';
import type { ArgsText } from './messages.js';

/** Entries kept in a result. */
export const MAX_LOGGED_CALLS = 1000;
/** Arguments whose JSON text is longer are logged as a string of their first this many bytes and a marker. */
export const MAX_LOGGED_ARGS_BYTES = 1024;
/** Error messages are cut at this many characters. */
export const MAX_LOGGED_ERROR_CHARS = 1000;

/** How each code of a failed call is recorded. */
const OUTCOME_OF: Partial<Record<CodeErrorCode, ToolCallOutcome>> = {
  invalid_arguments: 'invalid_arguments',
  invalid_result: 'invalid_result',
  budget_exceeded: 'budget_exceeded',
  approval_denied: 'denied',
  unknown_tool: 'unknown_tool',
  limit_exceeded: 'limit_exceeded',
};

// The outcome a failure of this code is logged with ('error' for a tool's own failure and everything else).
export function outcomeOf(code: CodeErrorCode): ToolCallOutcome {
  return OUTCOME_OF[code] ?? 'error';
}

// The arguments as the log keeps them: their value when their JSON is at most MAX_LOGGED_ARGS_BYTES, else a
// string of the start of their JSON text and a marker saying how long it was.
export function loggedArgs(args: ArgsText): unknown {
  if (args.bytes === 0) return {};
  if (args.bytes <= MAX_LOGGED_ARGS_BYTES) {
    try {
      return JSON.parse(args.text);
    } catch {
      // Not JSON (the call was refused for it): the text itself.
      return args.text;
    }
  }
  return `${args.text}… [runbox: arguments cut, ${args.bytes} bytes in all]`;
}

/** One call as it is recorded when it ends. */
export interface FinishedCall {
  readonly callId: string;
  readonly tool: string;
  readonly args: unknown;
  /** performance.now() when the call arrived. */
  readonly startedAt: number;
  readonly outcome: ToolCallOutcome;
  readonly error?: string;
  readonly resultBytes: number;
  readonly approval?: ToolApproval;
}

// The tool-call log of one execution.
export class ToolCallLog {
  private readonly kept: ToolCallLogEntry[] = [];
  private dropped = 0;

  constructor(
    /** performance.now() when the code was sent: startedAtMs counts from it. */
    private readonly origin: number,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** The entries kept, in the order their calls finished. */
  get entries(): ToolCallLogEntry[] {
    return [...this.kept];
  }

  /** True when calls finished beyond the MAX_LOGGED_CALLS kept. */
  get truncated(): boolean {
    return this.dropped > 0;
  }

  // Records a call that ended (and logs it at debug level, kept or not).
  record(call: FinishedCall): void {
    const entry: ToolCallLogEntry = {
      callId: call.callId,
      tool: call.tool,
      args: call.args,
      startedAtMs: roundMs(call.startedAt - this.origin),
      durationMs: roundMs(this.now() - call.startedAt),
      outcome: call.outcome,
      ...(call.error === undefined ? {} : { error: cut(call.error) }),
      resultBytes: call.resultBytes,
      ...(call.approval ? { approval: call.approval } : {}),
    };
    this.log.debug({ toolCall: entry }, 'tool call finished');
    if (this.kept.length < MAX_LOGGED_CALLS) this.kept.push(entry);
    else this.dropped += 1;
  }
}

function cut(message: string): string {
  return message.length > MAX_LOGGED_ERROR_CHARS ? `${message.slice(0, MAX_LOGGED_ERROR_CHARS)}…` : message;
}

function roundMs(ms: number): number {
  return Math.max(0, Math.round(ms * 100) / 100);
}
