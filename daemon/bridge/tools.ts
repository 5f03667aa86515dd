// Who answers an execution's tool calls, and the error a failed call carries back into the code.

export class ToolCallError extends Error {
  constructor(
    readonly code: 'tool_error' | 'unknown_tool' | 'no_client' | 'limit_exceeded',
    message: string,
  ) {
    super(message);
    this.name = 'ToolCallError';
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
