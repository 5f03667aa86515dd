// MCP content blocks for what Runbox hands back: an execution's answer (its compact text, images as image
// content, other files as embedded resources, and the structured result), a file read from a session, and
// errors as tool errors (`isError`) that name their code. Pure.

import { cutMiddle, describeExecution, type AnswerLimits } from '../code-tool/answer.js';
import type { ExecutionResult } from '../types.js';

/** One MCP content block, as `tools/call` answers carry them. */
export type McpContent =
  | { type: 'text'; text: string }
  | { type: 'image'; data: string; mimeType: string }
  | { type: 'resource'; resource: { uri: string; mimeType: string; text: string } | { uri: string; mimeType: string; blob: string } };

/** What a tool handler answers: MCP's CallToolResult. */
export interface McpToolAnswer {
  [key: string]: unknown;
  content: McpContent[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** A file's bytes with their path and type, from an execution or a session. */
export interface McpFileBytes {
  path: string;
  mimeType: string;
  content: Buffer;
}

/** The image types MCP clients show inline (the ones the model APIs accept). */
const IMAGE_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
/** Types sent as text in an embedded resource (besides text/*), when the bytes are valid UTF-8. */
const TEXT_TYPES: readonly string[] = ['application/json', 'application/xml', 'application/javascript', 'application/x-ndjson', 'application/yaml'];

// The answer of an execution: the compact text, one block per returned file, and the structured result.
export function executionAnswer(result: ExecutionResult, limits: AnswerLimits, uriBase: string): McpToolAnswer {
  const content: McpContent[] = [{ type: 'text', text: describeExecution(result, limits) }];
  for (const file of result.files) content.push(fileContent(file, `${uriBase}${encodeUriPath(file.path)}`));
  const structuredContent = {
    status: result.status,
    result: result.result ?? null,
    stdout: cutMiddle(result.stdout, limits.maxOutputChars, 'stdout'),
    stderr: cutMiddle(result.stderr, Math.ceil(limits.maxOutputChars / 2), 'stderr'),
    exitCode: result.exitCode,
    durationMs: result.durationMs,
    toolCalls: result.toolCalls,
    error: result.error === null ? null : { type: result.error.type, message: result.error.message, traceback: result.error.traceback },
    files: result.files.map((file) => ({ path: file.path, mimeType: file.mimeType, size: file.size })),
  };
  return { content, structuredContent, isError: result.status !== 'ok' };
}

// One file as MCP content: an image block for the images clients show, else an embedded resource (text when it
// is text and valid UTF-8, else base64 bytes).
export function fileContent(file: McpFileBytes, uri: string): McpContent {
  if (IMAGE_TYPES.includes(file.mimeType)) return { type: 'image', data: file.content.toString('base64'), mimeType: file.mimeType };
  const text = isTextType(file.mimeType) ? utf8Text(file.content) : null;
  if (text !== null) return { type: 'resource', resource: { uri, mimeType: file.mimeType, text } };
  return { type: 'resource', resource: { uri, mimeType: file.mimeType, blob: file.content.toString('base64') } };
}

// read_file's answer: a text block for a text file, an image block for an image, an embedded resource otherwise.
export function readFileAnswer(file: McpFileBytes, uri: string): McpToolAnswer {
  const text = IMAGE_TYPES.includes(file.mimeType) || !isTextType(file.mimeType) ? null : utf8Text(file.content);
  const content: McpContent = text !== null ? { type: 'text', text } : fileContent(file, uri);
  return { content: [content], structuredContent: { path: file.path, mimeType: file.mimeType, size: file.content.byteLength } };
}

// A successful answer whose text is its structured content as JSON (for clients that read only the text).
export function jsonAnswer(structuredContent: Record<string, unknown>): McpToolAnswer {
  return { content: [{ type: 'text', text: JSON.stringify(structuredContent) }], structuredContent };
}

// A tool error: the text a model reads, `isError` set, no structured content.
export function errorAnswer(text: string): McpToolAnswer {
  return { content: [{ type: 'text', text }], isError: true };
}

// A path as the tail of a `runbox://` URI: each segment percent-encoded, the `/` between them kept.
export function encodeUriPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function isTextType(mimeType: string): boolean {
  const bare = mimeType.split(';')[0].trim().toLowerCase();
  return bare.startsWith('text/') || TEXT_TYPES.includes(bare) || bare.endsWith('+json') || bare.endsWith('+xml');
}

// The bytes as text when they are valid UTF-8, else null.
function utf8Text(bytes: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
