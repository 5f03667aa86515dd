// Routes one execution's tool calls from its bridge: applies the policy (a refusal from the parser, maxToolCalls,
// maxToolCallBytes, undeclared tools, the tool's parameters schema, the request's budgets), hands each call to one
// of the daemon's own tools (by name) or to the client's ToolHost, checks the client's result (outputSchema,
// maxToolResultBytes), sends the answer back into the sandbox as a tool_result, a failure as `{code, message}`,
// and records every call in the execution's tool-call log.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { PROTOCOL } from '../protocol.js';
import type { BudgetExceeded, ToolBudgets, ToolCallLogEntry, ToolDeclaration } from '../wire-types.js';
import { ToolCallBudgets } from './call-budgets.js';
import { loggedArgs, MAX_LOGGED_ARGS_BYTES, outcomeOf, ToolCallLog } from './call-log.js';
import type { BridgeInbound, BridgeOutbound, Payload } from './messages.js';
import { ToolCallError, type ClientCallFacts, type ToolHost } from './tools.js';
import { checkValue, type ToolValidators } from '../tool-schemas.js';

/** Tool names starting with this are the daemon's own; a client may declare none of them. */
export const RESERVED_TOOL_PREFIX = PROTOCOL.reservedToolPrefix;

/** A tool call as the bridge delivers it. */
export type BridgeToolCall = Extract<BridgeInbound, { type: 'tool_call' }>;

/** What the handler of a daemon tool gets of a call. */
export interface DaemonToolCall {
  readonly name: string;
  /** The call's arguments, parsed only when the handler asks (a call it refuses costs no parse). */
  readArgs(): Payload<unknown>;
  /** Aborted when the execution stops or ends: the handler gives up what it still does. */
  readonly signal: AbortSignal;
}

/**
 * Answers the calls of one daemon tool: resolves with the result, or throws a ToolCallError the code raises.
 * Anything else it throws is logged and answered as `tool_error`, or not at all once the execution stopped.
 * A daemon tool enforces its own limits: its calls count against neither maxToolCalls nor maxToolCallBytes.
 */
export type DaemonToolHandler = (call: DaemonToolCall) => Promise<unknown>;

// The daemon's own tools of one execution, by name (runbox.install, ...): adding one is one register() call.
export class DaemonTools {
  private readonly handlers = new Map<string, DaemonToolHandler>();

  // Adds a tool; its name must carry the reserved prefix, so no declared tool of a client can shadow it.
  register(name: string, handler: DaemonToolHandler): this {
    if (!name.startsWith(RESERVED_TOOL_PREFIX)) throw new RangeError(`daemon tool ${JSON.stringify(name)}: its name must start with "${RESERVED_TOOL_PREFIX}"`);
    if (this.handlers.has(name)) throw new RangeError(`daemon tool ${JSON.stringify(name)} is registered twice`);
    this.handlers.set(name, handler);
    return this;
  }

  // The handler of a tool, or undefined when the daemon has no tool of that name.
  get(name: string): DaemonToolHandler | undefined {
    return this.handlers.get(name);
  }
}

/** What routes the calls of one execution: its policy, who answers, and the way back into its sandbox. */
export interface ToolRouterOptions {
  /** The client's side: answers the tools the execution declared. */
  readonly toolHost: ToolHost;
  /** The tools the execution declared; the client is asked about no other. */
  readonly declared: readonly ToolDeclaration[];
  /** Calls that go to the client (or are refused) allowed in all (limits.maxToolCalls). */
  readonly maxToolCalls: number;
  /** Largest bridge message of a call that goes to the client, in bytes (maxToolCallBytes). */
  readonly maxToolCallBytes: number;
  /** The daemon's own tools, answered without asking the client. */
  readonly daemonTools: DaemonTools;
  /** Sends an answer back into the sandbox. */
  readonly send: (message: BridgeOutbound) => void;
  /** Aborted when the execution stops or ends: the daemon's tools still running give up. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** The compiled schemas of the declared tools, by name. @default none: nothing is checked */
  readonly validators?: ReadonlyMap<string, ToolValidators>;
  /** Check the client's results against the tools' outputSchema. @default true */
  readonly validateResults?: boolean;
  /** What the calls to the client may spend. @default {} (nothing beyond maxToolCalls and maxToolCallBytes) */
  readonly budgets?: ToolBudgets;
}

/** What the result reports of an execution's tool calls. */
export interface ToolCallReport {
  readonly toolCallLog: ToolCallLogEntry[];
  readonly toolCallLogTruncated: boolean;
  readonly budgetsExceeded: BudgetExceeded[];
}

/** A call on its way: what its log entry needs. */
interface CallInFlight {
  readonly call: BridgeToolCall;
  readonly startedAt: number;
  /** The id of the `tool_call` the client got, once it was sent one. */
  clientCallId?: string;
}

/** How a call ended, for its answer and its log entry. */
type Settled = { result: unknown; resultBytes: number; facts: ClientCallFacts } | { error: ToolCallError } | { stopped: true };

// The tool calls of one execution, from its bridge to whoever answers them and back.
export class ToolRouter {
  private calls = 0;
  /** Answers of daemon tools not sent yet; settled() waits for them. */
  private readonly running = new Set<Promise<void>>();
  /** Calls not answered yet; report() records those still here as cancelled. */
  private readonly inFlight = new Set<CallInFlight>();
  private readonly budgets: ToolCallBudgets;
  private readonly callLog: ToolCallLog;
  private reported = false;

  constructor(private readonly options: ToolRouterOptions) {
    this.budgets = new ToolCallBudgets(options.budgets ?? {});
    this.callLog = new ToolCallLog(performance.now(), options.log, () => performance.now());
  }

  /** Calls counted against maxToolCalls so far (all but the daemon's own tools): the result's toolCalls. */
  get toolCalls(): number {
    return this.calls;
  }

  // Answers one call of the code: a daemon tool's handler, a refusal, or the client's answer.
  route(call: BridgeToolCall): void {
    const started: CallInFlight = { call, startedAt: performance.now() };
    const handler = call.refusal === undefined ? this.options.daemonTools.get(call.name) : undefined;
    if (handler) return this.callDaemonTool(started, handler);
    this.calls += 1;
    const refusal = this.refuse(call);
    if (refusal) return void this.answer(started, Promise.reject(refusal));
    const { toolHost } = this.options;
    if (!toolHost.canAnswer) return void this.answer(started, toolHost.call(call.name, null));
    // The arguments are parsed only for a call that may go to a client (a refused one needs none of them).
    const args = call.readArgs();
    if ('problem' in args) return void this.answer(started, Promise.reject(new ToolCallError('tool_error', `the call was refused: ${args.problem}`)));
    const validate = this.options.validators?.get(call.name)?.args;
    const invalid = validate ? checkValue(validate, args.value, call.name, 'arguments') : null;
    if (invalid) return void this.answer(started, Promise.reject(new ToolCallError('invalid_arguments', invalid)));
    const over = this.budgets.admit(call.name);
    if (over) return void this.answer(started, Promise.reject(over));
    const asked = toolHost.call(call.name, args.value, (clientCallId) => (started.clientCallId = clientCallId)).finally(() => this.budgets.finish());
    void this.answer(started, asked.then((answer) => this.checkResult(call.name, answer.result, answer)));
  }

  // Settles once every daemon tool call has been answered or given up (abort the signal first to hurry them).
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  // The log and budgets for the result, once the execution is over: calls still unanswered are recorded as
  // cancelled, and calls that end later are not recorded.
  report(): ToolCallReport {
    if (!this.reported) {
      this.reported = true;
      for (const started of this.inFlight) this.record(started, { stopped: true });
      this.inFlight.clear();
    }
    return { toolCallLog: this.callLog.entries, toolCallLogTruncated: this.callLog.truncated, budgetsExceeded: this.budgets.budgetsExceeded };
  }

  private callDaemonTool(started: CallInFlight, handler: DaemonToolHandler): void {
    const { signal } = this.options;
    const { call } = started;
    // Called at once, in the order the calls came; a handler that throws synchronously fails its call too.
    const outcome = new Promise<unknown>((resolve) => resolve(handler({ name: call.name, readArgs: () => call.readArgs(), signal })));
    const answered = this.answer(started, outcome.then((result) => ({ result })));
    this.running.add(answered);
    void answered.finally(() => this.running.delete(answered));
  }

  // Why a call may not go to the client (the parser's refusal, a limit, an undeclared tool), or null when it may.
  private refuse(call: BridgeToolCall): ToolCallError | null {
    const { maxToolCalls, maxToolCallBytes, toolHost, declared } = this.options;
    if (call.refusal !== undefined) return new ToolCallError('limit_exceeded', call.refusal);
    if (this.calls > maxToolCalls) {
      return new ToolCallError('limit_exceeded', `tool call limit reached: this execution may make ${maxToolCalls} tool calls (maxToolCalls)`);
    }
    if (call.bytes > maxToolCallBytes) {
      return new ToolCallError('limit_exceeded', `the arguments of ${call.name} are ${call.bytes} bytes, over maxToolCallBytes ${maxToolCallBytes}`);
    }
    if (toolHost.canAnswer && !declared.some((tool) => tool.name === call.name)) {
      const names = declared.length ? declared.map((tool) => tool.name).join(', ') : 'no tools';
      return new ToolCallError('unknown_tool', `unknown tool ${JSON.stringify(call.name)}; this execution declared ${names}`);
    }
    return null;
  }

  // The client's result as the code gets it: checked against the tool's outputSchema (unless the request turned
  // that off) and charged to maxToolResultBytes; a failure of either fails the call.
  private checkResult(tool: string, result: unknown, facts: ClientCallFacts): { result: unknown; resultBytes: number; facts: ClientCallFacts } {
    const validate = this.options.validateResults === false ? undefined : this.options.validators?.get(tool)?.result;
    const invalid = validate ? checkValue(validate, result, tool, 'result') : null;
    if (invalid) throw new ToolCallError('invalid_result', invalid, facts);
    const resultBytes = Buffer.byteLength(JSON.stringify(result ?? null));
    const over = this.budgets.chargeResult(tool, resultBytes);
    if (over) throw new ToolCallError(over.code, over.message, facts);
    return { result, resultBytes, facts };
  }

  // Sends the outcome of a call back into the sandbox (its result, or its error as `{code, message}`) and records it.
  private answer(started: CallInFlight, outcome: Promise<{ result: unknown; resultBytes?: number; facts?: ClientCallFacts }>): Promise<void> {
    const { send, signal, log } = this.options;
    const { call } = started;
    const { callId } = call;
    this.inFlight.add(started);
    return outcome
      .then(
        (answer): Settled => ({ result: answer.result ?? null, resultBytes: answer.resultBytes ?? jsonBytes(answer.result), facts: answer.facts ?? {} }),
        (error: unknown): Settled => {
          if (error instanceof ToolCallError) return { error };
          if (signal.aborted) {
            // The code that asked is gone: nobody is left to answer.
            log.info({ tool: call.name, ms: Math.round(performance.now() - started.startedAt) }, 'tool call stopped: the execution ended');
            return { stopped: true };
          }
          log.error({ err: error, tool: call.name }, 'tool call failed unexpectedly');
          return { error: new ToolCallError('tool_error', 'the tool failed') };
        },
      )
      .then((settled) => {
        if ('result' in settled) send({ type: 'tool_result', callId, result: settled.result });
        else if ('error' in settled) send({ type: 'tool_result', callId, error: { code: settled.error.code, message: settled.error.message } });
        if (this.inFlight.delete(started)) this.record(started, settled);
      })
      .catch((error: unknown) => log.error({ err: error }, 'could not answer a tool call'));
  }

  private record(started: CallInFlight, settled: Settled): void {
    const { call } = started;
    const facts = 'result' in settled ? settled.facts : 'error' in settled ? settled.error.facts : {};
    const denied = facts.approval?.decision === 'denied';
    this.callLog.record({
      callId: facts.clientCallId ?? started.clientCallId ?? `code:${call.callId}`,
      tool: call.name,
      args: loggedArgs(call.argsText(MAX_LOGGED_ARGS_BYTES)),
      startedAt: started.startedAt,
      outcome: 'result' in settled ? 'ok' : 'error' in settled ? (denied ? 'denied' : outcomeOf(settled.error.code)) : 'cancelled',
      ...('error' in settled ? { error: settled.error.message } : {}),
      resultBytes: 'result' in settled ? settled.resultBytes : 0,
      ...(facts.approval ? { approval: facts.approval } : {}),
    });
  }
}

// Bytes of a daemon tool's result as JSON (small answers: an install's report).
function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value ?? null));
  } catch {
    return 0;
  }
}
