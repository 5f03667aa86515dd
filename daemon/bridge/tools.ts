// Who answers an execution's tool calls, and the error a failed call carries back into the code.
import { CODE_ERRORS, type CodeErrorCode } from '../errors.js';

// A tool call's failure as the code sees it: a code of the CODE_ERRORS registry and a message the code may read.
export class ToolCallError extends Error {
  readonly code: CodeErrorCode;
  constructor(code: CodeErrorCode, message?: string) {
    super(message ?? CODE_ERRORS[code].message);
    this.name = 'ToolCallError';
    this.code = code;
  }
}

/** Answers tool calls for one execution (over the WebSocket: by asking the client that owns the tools). */
export interface ToolHost {
  /** False when nobody can answer (plain HTTP): every call then fails with `no_client`, declared or not. */
  readonly canAnswer: boolean;
  call(name: string, args: unknown): Promise<unknown>;
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
