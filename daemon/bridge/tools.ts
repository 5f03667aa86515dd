// Who answers an execution's tool calls, and the error a failed call carries back into the code.
import { CODE_ERRORS, type CodeErrorCode } from '../errors.js';
import type { ToolApproval } from '../wire-types.js';

/** What the client said about a call besides its result or error: its id there, and its approval decision. */
export interface ClientCallFacts {
  /** The `callId` of the `tool_call` the client got. */
  readonly clientCallId?: string;
  readonly approval?: ToolApproval;
}

// A tool call's failure as the code sees it: a code of the CODE_ERRORS registry and a message the code may read.
export class ToolCallError extends Error {
  readonly code: CodeErrorCode;
  /** Set when the failure came from a client's answer. */
  readonly facts: ClientCallFacts;
  constructor(code: CodeErrorCode, message?: string, facts: ClientCallFacts = {}) {
    super(message ?? CODE_ERRORS[code].message);
    this.name = 'ToolCallError';
    this.code = code;
    this.facts = facts;
  }
}

/** A client's answer to a call: the result, with what the client said about the call. */
export interface ToolAnswer extends ClientCallFacts {
  readonly result: unknown;
}

/** Answers tool calls for one execution (over the WebSocket: by asking the client that owns the tools). */
export interface ToolHost {
  /** False when nobody can answer (plain HTTP): every call then fails with `no_client`, declared or not. */
  readonly canAnswer: boolean;
  /** Resolves with the client's answer, or rejects with a ToolCallError (a client's error, a refusal); `onAsked`
   * gets the id of the `tool_call` the client was sent, as it is sent. */
  call(name: string, args: unknown, onAsked?: (clientCallId: string) => void): Promise<ToolAnswer>;
  /** Drops the calls still waiting; their answers, if they come, are refused. */
  dispose(): void;
}

// The tool host of executions that no client can answer (plain HTTP): every call fails at once, clearly.
export const NO_CLIENT_TOOL_HOST: ToolHost = {
  canAnswer: false,
  call: async () => {
    throw new ToolCallError('no_client', 'no client is connected to answer tool calls: this execution came over plain HTTP; use the WebSocket API (/v1/ws) or the SDK to give code tools');
  },
  dispose: () => undefined,
};
