// The public surface of `runbox/sdk`: everything a client may import, listed by name.

export { RunboxClient } from './client.js';
export { RunboxSession } from './session.js';
export { SessionFiles } from './session-files.js';
export {
  RunboxError,
  RunboxConnectionError,
  RunboxTimeoutError,
  RunboxAPIError,
  RunboxAbortError,
  RunboxHookError,
} from './errors.js';
export { ExecutionStream } from './stream.js';
export { DEFAULT_APPROVAL_TIMEOUT_MS } from './approvals.js';
export {
  DEFAULT_URL,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_CANCEL_TIMEOUT_MS,
  type RunboxClientOptions,
} from './options.js';
export type {
  Runtime,
  ExecutionStatus,
  ExecuteOptions,
  ExecutionResult,
  ExecutionError,
  InputFile,
  OutputFile,
  FileError,
  JsonSchema,
  ToolDefinition,
  ToolSet,
  ToolCallContext,
  ToolCallRequest,
  ToolCallDecision,
  ToolCallApproval,
  ToolCallRecord,
  ExecutionEvent,
  ToolCallLogEntry,
  ToolCallOutcome,
  ToolBudgets,
  BudgetExceeded,
  RequestOptions,
  RuntimeInfo,
  HealthStatus,
} from './types.js';
export type {
  CreateSessionOptions,
  SessionExecuteOptions,
  SessionInfo,
  SessionWorkspaceUsage,
  SessionFile,
  SessionFileList,
  UploadedFile,
  DownloadedFile,
  FileContent,
} from './session-types.js';
export { pythonStubs } from './stubs/python.js';
export { renderToolStub, renderToolStubs } from './stubs/tool-stubs.js';
export { typescriptStubs } from './stubs/typescript.js';
export type { StubOptions } from './stubs/text.js';
export type { ToolDeclaration } from '../daemon/wire-types.js';
export {
  createCodeTool,
  DEFAULT_CODE_TOOL_NAME,
  DEFAULT_MAX_RESULT_CHARS,
  DEFAULT_MAX_OUTPUT_CHARS,
  type CodeTool,
  type CodeToolOptions,
  type CodeToolExecuteOptions,
  type CodeToolInput,
  type CodeToolOutput,
  type CodeToolRunOptions,
} from './code-tool.js';
export { DISCOVERY_MIN_TOOLS, DISCOVERY_MIN_STUB_BYTES, type DiscoveryOption } from './code-tool/discovery.js';
export {
  toOpenAITool,
  toOpenAIResponsesTool,
  runOpenAIToolCall,
  runOpenAIResponsesCall,
  type OpenAIChatTool,
  type OpenAIResponsesTool,
  type OpenAIChatToolCall,
  type OpenAIChatAnswerMessage,
  type OpenAIResponsesCall,
  type OpenAIResponsesCallOutput,
} from './adapters/openai.js';
export { toAnthropicTool, runAnthropicToolUse, type AnthropicTool, type AnthropicToolUse, type AnthropicToolResult } from './adapters/anthropic.js';
export type { ImageMediaType } from './adapters/images.js';
