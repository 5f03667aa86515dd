// One tool call of the code, answered here: its approval (approvals.ts) first, the schema check of arguments the
// approval changed (argument-checks.ts), then the local handler, then the `tool_result` to send and the record of
// how it went. The handler never runs before the call is approved, nor with arguments its schema refuses.

import { DEFAULT_APPROVAL_TIMEOUT_MS, decideToolCall, type ApprovalOutcome } from './approvals.js';
import type { ArgumentChecks } from './argument-checks.js';
import type { ExecuteOptions, ToolCallApproval, ToolCallContext, ToolCallRecord } from './types.js';
import { buildToolResult } from './wire.js';

/** A call as the daemon sent it. */
export interface IncomingToolCall {
  callId: string;
  tool: string;
  args: unknown;
}

/** What the answer of one call is: the message to send, its record, and the handler's value when it returned one. */
export interface ToolCallAnswer {
  text: string;
  record: ToolCallRecord;
  value?: unknown;
}

// Decides and runs one call; undefined when the execution ended (or began to be cancelled) before the answer
// was ready: nothing is to be sent then, and a handler not yet started never starts.
export async function answerToolCall(
  call: IncomingToolCall,
  options: ExecuteOptions,
  context: ToolCallContext,
  isAbandoned: () => boolean,
  argumentChecks: ArgumentChecks,
): Promise<ToolCallAnswer | undefined> {
  const startedAt = new Date();
  const started = performance.now();
  const { callId, tool } = call;
  const tools = options.tools ?? {};
  const definition = Object.hasOwn(tools, tool) ? tools[tool] : undefined;
  const finish = (encoded: ReturnType<typeof buildToolResult>, outcome: ToolCallRecord['outcome'], extra: Partial<ToolCallRecord>, value?: unknown): ToolCallAnswer => {
    const record: ToolCallRecord = { callId, tool, args: call.args, startedAt, durationMs: performance.now() - started, outcome, ...extra };
    if (encoded.error !== undefined) record.error = encoded.error;
    if (encoded.resultBytes !== undefined) record.resultBytes = encoded.resultBytes;
    return { text: encoded.text, record, ...(outcome === 'ok' ? { value } : {}) };
  };
  if (definition === undefined) {
    return finish(buildToolResult(callId, { error: new Error(`this client has no tool named ${JSON.stringify(tool)}`) }), 'error', {});
  }

  let decision: ApprovalOutcome | undefined = await decideToolCall({
    tool,
    definition,
    args: call.args,
    context,
    onToolCall: options.onToolCall,
    timeoutMs: options.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS,
  });
  if (decision === undefined || isAbandoned()) return undefined;
  if (decision.decision === 'modified') {
    const invalid = await argumentChecks.check(tool, definition.parameters, decision.args);
    if (isAbandoned()) return undefined;
    if (invalid !== null) decision = { decision: 'denied', reason: `onToolCall approved ${tool} with changed arguments its schema refuses: ${invalid}` };
  }
  const extra: Partial<ToolCallRecord> = decision.decision === 'none' ? {} : { approvalMs: performance.now() - started };
  if (decision.decision === 'denied') {
    const encoded = buildToolResult(callId, { denied: decision.reason });
    // The record holds the reason as sent (cut to what the daemon takes).
    return finish(encoded, 'denied', { ...extra, approval: { decision: 'denied', reason: encoded.error } });
  }
  const approval: ToolCallApproval | undefined = decision.decision === 'none' ? undefined : { decision: decision.decision };
  if (approval !== undefined) extra.approval = approval;
  if (decision.decision === 'modified') extra.modifiedArgs = decision.args;

  let value: unknown;
  try {
    value = await definition.handler(decision.args ?? {}, context);
  } catch (error) {
    if (isAbandoned()) return undefined;
    return finish(buildToolResult(callId, { error }, approval), 'error', extra);
  }
  if (isAbandoned()) return undefined;
  const encoded = buildToolResult(callId, { value }, approval);
  return finish(encoded, encoded.error === undefined ? 'ok' : 'error', extra, value);
}
