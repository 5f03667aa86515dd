// The code tool in OpenAI's formats: a function tool for Chat Completions and for the Responses API, and the
// answers to a model's call. The shapes are written out here (no import of `openai`, not even of its types), so
// `runbox/sdk` needs nothing installed; test/sdk/adapter-types.ts checks they are assignable to openai's own types.

import type { CodeTool, CodeToolOutput, CodeToolRunOptions } from '../code-tool.js';
import { imageAttachments } from './images.js';

/** A Chat Completions function tool (`OpenAI.Chat.ChatCompletionFunctionTool`). */
export interface OpenAIChatTool {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** A Responses API function tool (`OpenAI.Responses.FunctionTool`). */
export interface OpenAIResponsesTool {
  type: 'function';
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  strict: false;
}

/** A Chat Completions tool call as the model sent it (`message.tool_calls[i]`; a custom tool call is refused). */
export interface OpenAIChatToolCall {
  id: string;
  type?: string;
  function?: { name: string; arguments: string };
}

/** A message answering a call (`OpenAI.Chat.ChatCompletionMessageParam`). */
export type OpenAIChatAnswerMessage =
  | { role: 'tool'; tool_call_id: string; content: string }
  | { role: 'user'; content: ({ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } })[] };

/** A Responses API function call item as the model sent it (`OpenAI.Responses.ResponseFunctionToolCall`). */
export interface OpenAIResponsesCall {
  call_id: string;
  name?: string;
  arguments: string;
}

/** A Responses API `function_call_output` input item, images included in its output. */
export interface OpenAIResponsesCallOutput {
  type: 'function_call_output';
  call_id: string;
  output: string | ({ type: 'input_text'; text: string } | { type: 'input_image'; image_url: string; detail: 'auto' })[];
}

// The code tool as a Chat Completions function tool.
export function toOpenAITool(codeTool: CodeTool): OpenAIChatTool {
  return { type: 'function', function: { name: codeTool.name, description: codeTool.description, parameters: codeTool.inputSchema } };
}

// The code tool as a Responses API function tool (not strict: `runtime` is optional).
export function toOpenAIResponsesTool(codeTool: CodeTool): OpenAIResponsesTool {
  return { type: 'function', name: codeTool.name, description: codeTool.description, parameters: codeTool.inputSchema, strict: false };
}

// Runs a Chat Completions tool call: the `tool` message, then (tool messages carry text only) a `user` message
// with the images the code returned, when there are any. Append both, in order, to the conversation.
export async function runOpenAIToolCall(
  codeTool: CodeTool,
  toolCall: OpenAIChatToolCall,
  options: CodeToolRunOptions = {},
): Promise<{ messages: OpenAIChatAnswerMessage[]; output: CodeToolOutput }> {
  const output = await codeTool.run(callInput(toolCall.function?.arguments, toolCall.function === undefined), options);
  const messages: OpenAIChatAnswerMessage[] = [{ role: 'tool', tool_call_id: toolCall.id, content: output.text }];
  const images = imageAttachments(output.attachments);
  if (images.length > 0) {
    messages.push({
      role: 'user',
      content: [
        { type: 'text', text: `Files from the ${codeTool.name} call ${toolCall.id}: ${images.map((image) => image.path).join(', ')}` },
        ...images.map((image) => ({ type: 'image_url' as const, image_url: { url: `data:${image.mediaType};base64,${image.base64}` } })),
      ],
    });
  }
  return { messages, output };
}

// Runs a Responses API function call: its `function_call_output` item, with the returned images in its output.
export async function runOpenAIResponsesCall(
  codeTool: CodeTool,
  item: OpenAIResponsesCall,
  options: CodeToolRunOptions = {},
): Promise<{ item: OpenAIResponsesCallOutput; output: CodeToolOutput }> {
  const output = await codeTool.run(callInput(item.arguments, false), options);
  const images = imageAttachments(output.attachments);
  const content =
    images.length === 0
      ? output.text
      : [
          { type: 'input_text' as const, text: output.text },
          ...images.map((image) => ({ type: 'input_image' as const, image_url: `data:${image.mediaType};base64,${image.base64}`, detail: 'auto' as const })),
        ];
  return { item: { type: 'function_call_output', call_id: item.call_id, output: content }, output };
}

// The arguments string as run() takes it: run() parses JSON itself and answers bad JSON as an input problem.
function callInput(args: string | undefined, notAFunctionCall: boolean): unknown {
  if (notAFunctionCall) return null;
  return typeof args === 'string' ? args : null;
}
