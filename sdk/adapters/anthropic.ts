// The code tool in Anthropic's Messages format: a tool, and a `tool_result` block answering a `tool_use` (text,
// then the returned images as image blocks, so a multimodal model sees its chart). The shapes are written out
// here (no import of `@anthropic-ai/sdk`); test/sdk/adapter-types.ts checks them against the SDK's own types.

import type { CodeTool, CodeToolOutput, CodeToolRunOptions } from '../code-tool.js';
import { imageAttachments, type ImageMediaType } from './images.js';

/** A tool as `messages.create({tools})` takes it (`Anthropic.Tool`). */
export interface AnthropicTool {
  name: string;
  description: string;
  input_schema: { type: 'object'; [key: string]: unknown };
}

/** A `tool_use` block of the model's message (`Anthropic.ToolUseBlock`). */
export interface AnthropicToolUse {
  id: string;
  name?: string;
  input: unknown;
}

/** A `tool_result` block for the next user message (`Anthropic.ToolResultBlockParam`). */
export interface AnthropicToolResult {
  type: 'tool_result';
  tool_use_id: string;
  content: ({ type: 'text'; text: string } | { type: 'image'; source: { type: 'base64'; media_type: ImageMediaType; data: string } })[];
  is_error: boolean;
}

// The code tool as an Anthropic tool.
export function toAnthropicTool(codeTool: CodeTool): AnthropicTool {
  return { name: codeTool.name, description: codeTool.description, input_schema: { ...codeTool.inputSchema, type: 'object' } };
}

// Runs a tool_use block: the tool_result block to send back, and the full output.
export async function runAnthropicToolUse(
  codeTool: CodeTool,
  block: AnthropicToolUse,
  options: CodeToolRunOptions = {},
): Promise<{ block: AnthropicToolResult; output: CodeToolOutput }> {
  const output = await codeTool.run(block.input, options);
  const content: AnthropicToolResult['content'] = [{ type: 'text', text: output.text }];
  for (const image of imageAttachments(output.attachments)) {
    content.push({ type: 'image', source: { type: 'base64', media_type: image.mediaType, data: image.base64 } });
  }
  return { block: { type: 'tool_result', tool_use_id: block.id, content, is_error: output.isError }, output };
}
