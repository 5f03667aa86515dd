// Routes one execution's tool calls from its bridge: applies the policy (a refusal from the parser, maxToolCalls,
// maxToolCallBytes, undeclared tools), hands each call to one of the daemon's own tools (by name) or to the
// client's ToolHost, and sends the answer back into the sandbox as a tool_result, a failure as `{code, message}`.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { PROTOCOL } from '../protocol.js';
import type { ToolDeclaration } from '../wire-types.js';
import type { BridgeInbound, BridgeOutbound, Payload } from './messages.js';
import { ToolCallError, type ToolHost } from './tools.js';

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
}

// The tool calls of one execution, from its bridge to whoever answers them and back.
export class ToolRouter {
  private calls = 0;
  /** Answers of daemon tools not sent yet; settled() waits for them. */
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly options: ToolRouterOptions) {}

  /** Calls counted against maxToolCalls so far (all but the daemon's own tools): the result's toolCalls. */
  get toolCalls(): number {
    return this.calls;
  }

  // Answers one call of the code: a daemon tool's handler, a refusal, or the client's answer.
  route(call: BridgeToolCall): void {
    const handler = call.refusal === undefined ? this.options.daemonTools.get(call.name) : undefined;
    if (handler) return this.callDaemonTool(call, handler);
    this.calls += 1;
    const { toolHost } = this.options;
    const refusal = this.refuse(call);
    // The arguments are parsed only for a call that goes to a client (a refused one, or one nobody can answer,
    // needs none of them).
    const args = refusal === null && toolHost.canAnswer ? call.readArgs() : { value: null };
    const answer = refusal
      ? Promise.reject(refusal)
      : 'problem' in args
        ? Promise.reject(new ToolCallError('tool_error', `the call was refused: ${args.problem}`))
        : toolHost.call(call.name, args.value);
    void this.answer(call, answer);
  }

  // Settles once every daemon tool call has been answered or given up (abort the signal first to hurry them).
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private callDaemonTool(call: BridgeToolCall, handler: DaemonToolHandler): void {
    const { signal } = this.options;
    // Called at once, in the order the calls came; a handler that throws synchronously fails its call too.
    const outcome = new Promise<unknown>((resolve) => resolve(handler({ name: call.name, readArgs: () => call.readArgs(), signal })));
    const answered = this.answer(call, outcome);
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

  // Sends the outcome of a call back into the sandbox: its result, or its error as `{code, message}`.
  private answer(call: BridgeToolCall, outcome: Promise<unknown>): Promise<void> {
    const { send, signal, log } = this.options;
    const { callId } = call;
    const startedAt = performance.now();
    return outcome
      .then(
        (result) => send({ type: 'tool_result', callId, result: result ?? null }),
        (error: unknown) => {
          if (error instanceof ToolCallError) return send({ type: 'tool_result', callId, error: { code: error.code, message: error.message } });
          if (signal.aborted) {
            // The code that asked is gone: nobody is left to answer.
            log.info({ tool: call.name, ms: Math.round(performance.now() - startedAt) }, 'tool call stopped: the execution ended');
            return;
          }
          log.error({ err: error, tool: call.name }, 'tool call failed unexpectedly');
          const failure = new ToolCallError('tool_error', 'the tool failed');
          send({ type: 'tool_result', callId, error: { code: failure.code, message: failure.message } });
        },
      )
      .catch((error: unknown) => log.error({ err: error }, 'could not answer a tool call'));
  }
}
