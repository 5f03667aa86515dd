// The JSON Schemas of the MCP tools Runbox serves (execute_code and the session tools): what `tools/list` shows a
// client, what arguments are checked against, and what `structuredContent` matches. Pure.

import type { JsonSchema, Runtime } from '../types.js';

/** One tool as `tools/list` describes it. */
export interface McpToolSchemas {
  inputSchema: JsonSchema & { type: 'object' };
  outputSchema: JsonSchema & { type: 'object' };
}

const SESSION_ID = { type: 'string', minLength: 1, description: 'The id create_session returned (`ses_...`).' } as const;
const FILE_PATH = { type: 'string', minLength: 1, description: 'Path relative to the workspace, `/` between directories.' } as const;
const ENCODING = {
  type: 'string',
  enum: ['utf8', 'base64'],
  description: 'How `content` is written: `utf8` text (the default) or `base64` bytes.',
} as const;

// execute_code's input: the program, its language, an optional session, and files written before it runs.
export function executeCodeInputSchema(runtimes: readonly Runtime[]): McpToolSchemas['inputSchema'] {
  return {
    type: 'object',
    properties: {
      code: { type: 'string', minLength: 1, description: 'The program to run.' },
      runtime: { type: 'string', enum: [...runtimes], description: `Which language the code is in (default ${runtimes[0]}).` },
      sessionId: { ...SESSION_ID, description: 'Run in this session\'s workspace (files persist across calls); from create_session.' },
      files: {
        type: 'array',
        description: 'Files written into the workspace before the code runs.',
        items: {
          type: 'object',
          properties: { path: FILE_PATH, content: { type: 'string', description: 'The file\'s content.' }, encoding: ENCODING },
          required: ['path', 'content'],
          additionalProperties: false,
        },
      },
    },
    required: ['code'],
    additionalProperties: false,
  };
}

const ERROR_SCHEMA = {
  type: ['object', 'null'],
  description: 'Why the code did not end `ok`; null when it did.',
  properties: { type: { type: 'string' }, message: { type: 'string' }, traceback: { type: 'string' } },
  required: ['type', 'message', 'traceback'],
} as const;

const FILE_INFO = {
  type: 'object',
  properties: { path: { type: 'string' }, mimeType: { type: 'string' }, size: { type: 'integer', minimum: 0 } },
  required: ['path', 'mimeType', 'size'],
} as const;

/** execute_code's structured answer (stdout and stderr cut like the text; the files' bytes are in `content`). */
export const EXECUTE_CODE_OUTPUT_SCHEMA: McpToolSchemas['outputSchema'] = {
  type: 'object',
  properties: {
    status: { type: 'string', description: '`ok`, `error`, `timeout`, `cancelled`, `output_limit`, `memory_limit`...' },
    result: { description: 'The value the code returned (any JSON); null when none.' },
    stdout: { type: 'string' },
    stderr: { type: 'string' },
    exitCode: { type: ['integer', 'null'] },
    durationMs: { type: 'number' },
    toolCalls: { type: 'integer', minimum: 0 },
    error: ERROR_SCHEMA,
    files: { type: 'array', items: FILE_INFO },
  },
  required: ['status', 'result', 'stdout', 'stderr', 'error', 'files'],
};

// The schemas of each session tool, by name.
export const SESSION_TOOL_SCHEMAS: Readonly<Record<'create_session' | 'list_files' | 'read_file' | 'write_file' | 'close_session', McpToolSchemas>> = {
  create_session: {
    inputSchema: {
      type: 'object',
      properties: { ttlMs: { type: 'integer', minimum: 1, description: 'Idle time after which the daemon removes the session (default: the daemon\'s sessionTtlMs).' } },
      additionalProperties: false,
    },
    outputSchema: {
      type: 'object',
      properties: { sessionId: { type: 'string' }, expiresAt: { type: 'string', description: 'ISO 8601; pushed back by every use.' } },
      required: ['sessionId', 'expiresAt'],
    },
  },
  list_files: {
    inputSchema: { type: 'object', properties: { sessionId: SESSION_ID }, required: ['sessionId'], additionalProperties: false },
    outputSchema: {
      type: 'object',
      properties: {
        files: { type: 'array', items: { ...FILE_INFO, properties: { ...FILE_INFO.properties, type: { type: 'string' }, modified: { type: 'string' } } } },
        truncated: { type: 'boolean' },
      },
      required: ['files', 'truncated'],
    },
  },
  read_file: {
    inputSchema: { type: 'object', properties: { sessionId: SESSION_ID, path: FILE_PATH }, required: ['sessionId', 'path'], additionalProperties: false },
    outputSchema: FILE_INFO,
  },
  write_file: {
    inputSchema: {
      type: 'object',
      properties: { sessionId: SESSION_ID, path: FILE_PATH, content: { type: 'string' }, encoding: ENCODING },
      required: ['sessionId', 'path', 'content'],
      additionalProperties: false,
    },
    outputSchema: { type: 'object', properties: { path: { type: 'string' }, size: { type: 'integer', minimum: 0 } }, required: ['path', 'size'] },
  },
  close_session: {
    inputSchema: { type: 'object', properties: { sessionId: SESSION_ID }, required: ['sessionId'], additionalProperties: false },
    outputSchema: { type: 'object', properties: { sessionId: { type: 'string' }, closed: { type: 'boolean' } }, required: ['sessionId', 'closed'] },
  },
};
