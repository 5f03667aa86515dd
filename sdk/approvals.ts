// Approvals of tool calls: whether a call needs one (the tool's needsApproval), asking the execution's
// onToolCall hook within approvalTimeoutMs, and reading its answer. Anything but a clear approval is a denial
// with a reason the code sees; nothing here runs the tool's handler.

import { PROTOCOL } from '../daemon/protocol.js';
import { describeReceived } from './options.js';
import type { ExecuteOptions, ToolCallContext, ToolCallDecision, ToolDefinition } from './types.js';

export const DEFAULT_APPROVAL_TIMEOUT_MS = 60_000;

/** How a call may go on: with which arguments, and the decision when one was needed; or denied, saying why. */
export type ApprovalOutcome =
  | { decision: 'none'; args: unknown }
  | { decision: 'approved'; args: unknown }
  | { decision: 'modified'; args: Record<string, unknown> }
  | { decision: 'denied'; reason: string };

/** One call to decide. */
export interface ApprovalRequest {
  tool: string;
  definition: ToolDefinition;
  args: unknown;
  /** The handler's context; its signal is aborted when the execution ends. */
  context: ToolCallContext;
  onToolCall: ExecuteOptions['onToolCall'];
  timeoutMs: number;
}

// Decides one call: no approval needed, approved (maybe with other arguments) or denied; undefined when the
// execution ended while the decision was pending (the decision, if it still comes, is ignored).
export async function decideToolCall(request: ApprovalRequest): Promise<ApprovalOutcome | undefined> {
  const { definition, context, timeoutMs } = request;
  if (definition.needsApproval === undefined || definition.needsApproval === false) return { decision: 'none', args: request.args };
  if (context.signal.aborted) return undefined;
  const deadline = new AbortController();
  const timeoutReason = `no approval decision within ${timeoutMs} ms`;
  let onEnd = () => {};
  const interrupted = new Promise<ApprovalOutcome | undefined>((resolve) => {
    const timer = setTimeout(() => {
      deadline.abort(new Error(timeoutReason));
      resolve({ decision: 'denied', reason: timeoutReason });
    }, timeoutMs);
    onEnd = () => {
      clearTimeout(timer);
      deadline.abort(context.signal.reason);
      resolve(undefined);
    };
    context.signal.addEventListener('abort', onEnd, { once: true });
  });
  const decided = askForDecision(request, deadline.signal);
  try {
    return await Promise.race([decided, interrupted]);
  } finally {
    context.signal.removeEventListener('abort', onEnd);
    // Stops the deadline's timer (and tells a hook still at work that its answer is no longer wanted).
    if (!deadline.signal.aborted) onEnd();
  }
}

// needsApproval, then the hook; never rejects (whatever throws is a denial saying so).
async function askForDecision(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> {
  const { tool, definition, args, context, onToolCall } = request;
  const { needsApproval } = definition;
  if (typeof needsApproval === 'function') {
    let needed: unknown;
    try {
      needed = await needsApproval(args, context);
    } catch (error) {
      return { decision: 'denied', reason: `needsApproval of ${tool} failed: ${messageOf(error)}` };
    }
    if (needed === false) return { decision: 'none', args };
    if (needed !== true) return { decision: 'denied', reason: `needsApproval of ${tool} answered ${describeReceived(needed)}, expected true or false` };
  }
  if (onToolCall === undefined) return { decision: 'denied', reason: `${tool} needs approval and this client has no onToolCall hook` };
  try {
    const answer = await onToolCall({ tool, args, callId: context.callId, executionId: context.executionId, signal });
    return readDecision(tool, args, answer);
  } catch (error) {
    return { decision: 'denied', reason: messageOf(error) };
  }
}

// Reads the hook's answer; anything that is not a valid ToolCallDecision denies the call, naming what was received.
export function readDecision(tool: string, args: unknown, answer: ToolCallDecision | unknown): ApprovalOutcome {
  if (answer === true) return { decision: 'approved', args };
  if (answer === false) return { decision: 'denied', reason: `onToolCall denied ${tool}` };
  const fields = typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>) : {};
  if (fields.decision === 'approve') {
    if (!('args' in fields) || fields.args === undefined) return { decision: 'approved', args };
    if (!isPlainObject(fields.args) || !isJson(fields.args, PROTOCOL.maxJsonDepth)) {
      return { decision: 'denied', reason: `onToolCall approved ${tool} with args that are not a plain JSON object: received ${describeReceived(fields.args)}` };
    }
    // A copy: the hook may go on changing its object, the handler gets what was decided.
    return { decision: 'modified', args: structuredClone(fields.args) };
  }
  if (fields.decision === 'deny' && typeof fields.reason === 'string' && fields.reason !== '') return { decision: 'denied', reason: fields.reason };
  return {
    decision: 'denied',
    reason: `onToolCall answered ${tool} with an invalid decision: expected {decision: "approve"}, {decision: "approve", args}, {decision: "deny", reason} or a boolean, received ${describeReceived(answer)}`,
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// True for what JSON holds as it is: null, booleans, finite numbers, strings, arrays and plain objects of them.
function isJson(value: unknown, depthLeft: number): boolean {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (depthLeft <= 0) return false;
  if (Array.isArray(value)) return value.every((item) => isJson(item, depthLeft - 1));
  if (!isPlainObject(value)) return false;
  return Object.values(value).every((item) => isJson(item, depthLeft - 1));
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' && error !== '' ? error : describeReceived(error);
}
