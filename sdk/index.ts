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
