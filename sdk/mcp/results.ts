// What an MCP tool's answer (a CallToolResult) becomes for the sandboxed code. Pure.
//
// - `structuredContent`, when the server sent it, is the result as it is (what the tool's outputSchema describes).
// - Else the content blocks: no block gives null, one block its value, several a list of their values. A text
//   block is its text (a string: text that looks like JSON is not parsed, so a tool's "42" stays "42"); an image
//   or audio block `{type, mimeType, data}` (data base64); an embedded resource `{type: 'resource', uri,
//   mimeType, text}` or `{..., blob}`; a resource link `{type: 'resource_link', uri, name, mimeType?, description?}`.
//   Annotations and `_meta` are left out.
// - `isError: true` is a failure: its text blocks, joined, become the message of the ToolError the code gets.

/** One content block as the MCP SDK returns it (only the fields read here). */
interface ContentBlock {
  type: string;
  text?: unknown;
  data?: unknown;
  mimeType?: unknown;
  resource?: { uri?: unknown; mimeType?: unknown; text?: unknown; blob?: unknown };
  uri?: unknown;
  name?: unknown;
  title?: unknown;
  description?: unknown;
}

/** A CallToolResult, as far as it is read here. */
export interface McpCallAnswer {
  content?: unknown;
  structuredContent?: unknown;
  isError?: unknown;
  /** The pre-2025 answer of some servers: `{toolResult}` instead of content. */
  toolResult?: unknown;
}

/** What mapMcpAnswer gives: the value for the code, or the failure's message. */
export type McpMappedAnswer = { ok: true; value: unknown } | { ok: false; message: string };

// Turns a tool's answer into the JSON value the code gets, or the message of its failure (see above).
export function mapMcpAnswer(answer: McpCallAnswer): McpMappedAnswer {
  const blocks = Array.isArray(answer.content) ? (answer.content as ContentBlock[]) : [];
  if (answer.isError === true) {
    const text = blocks.filter((block) => block?.type === 'text' && typeof block.text === 'string').map((block) => block.text as string).join('\n');
    return { ok: false, message: text.trim() === '' ? 'the tool reported an error without a message' : text };
  }
  if (answer.structuredContent !== undefined && answer.structuredContent !== null) return { ok: true, value: answer.structuredContent };
  if (!Array.isArray(answer.content) && 'toolResult' in answer) return { ok: true, value: answer.toolResult ?? null };
  const values = blocks.map(blockValue);
  if (values.length === 0) return { ok: true, value: null };
  return { ok: true, value: values.length === 1 ? values[0] : values };
}

// One content block as a JSON value the code can read.
function blockValue(block: ContentBlock): unknown {
  if (typeof block !== 'object' || block === null) return block ?? null;
  switch (block.type) {
    case 'text':
      return typeof block.text === 'string' ? block.text : '';
    case 'image':
    case 'audio':
      return { type: block.type, mimeType: block.mimeType ?? null, data: block.data ?? '' };
    case 'resource': {
      const resource = block.resource ?? {};
      const value: Record<string, unknown> = { type: 'resource', uri: resource.uri ?? null, mimeType: resource.mimeType ?? null };
      if (typeof resource.text === 'string') value.text = resource.text;
      if (typeof resource.blob === 'string') value.blob = resource.blob;
      return value;
    }
    case 'resource_link': {
      const value: Record<string, unknown> = { type: 'resource_link', uri: block.uri ?? null, name: block.name ?? null };
      for (const key of ['title', 'mimeType', 'description'] as const) if (block[key] !== undefined) value[key] = block[key];
      return value;
    }
    default:
      return { ...block };
  }
}
