// Compiled by the normal build, so the build fails if an adapter's output stops fitting the provider SDK's own
// types (openai 6.x, @anthropic-ai/sdk, ai 6.x). code-tool.test.ts calls checkAdapterTypes with real values.
// Each @ts-expect-error proves the provider types are real (were they `any`, the expected error would not come).
import type Anthropic from '@anthropic-ai/sdk';
import type { ToolSet as AIToolSet } from 'ai';
import type OpenAI from 'openai';
import {
  runAnthropicToolUse,
  runOpenAIResponsesCall,
  runOpenAIToolCall,
  toAnthropicTool,
  toOpenAIResponsesTool,
  toOpenAITool,
  type CodeTool,
} from 'runbox/sdk';
import { toAISdkTool } from 'runbox/sdk/ai';

/** What each adapter gave, typed as the provider SDKs type it. */
export interface ProviderValues {
  chatTool: OpenAI.Chat.ChatCompletionTool;
  chatMessages: OpenAI.Chat.ChatCompletionMessageParam[];
  responsesTool: OpenAI.Responses.Tool;
  responsesItem: OpenAI.Responses.ResponseInputItem;
  anthropicTool: Anthropic.Tool;
  anthropicResult: Anthropic.ToolResultBlockParam;
  anthropicMessage: Anthropic.MessageParam;
  aiTools: AIToolSet;
}

// Runs every adapter on calls shaped as the provider SDKs type them, and returns the answers as their types.
export async function checkAdapterTypes(
  codeTool: CodeTool,
  chatCall: OpenAI.Chat.ChatCompletionMessageToolCall,
  responsesCall: OpenAI.Responses.ResponseFunctionToolCall,
  toolUse: Anthropic.ToolUseBlock,
): Promise<ProviderValues> {
  const chatTool: OpenAI.Chat.ChatCompletionTool = toOpenAITool(codeTool);
  const chatMessages: OpenAI.Chat.ChatCompletionMessageParam[] = (await runOpenAIToolCall(codeTool, chatCall)).messages;
  const responsesTool: OpenAI.Responses.Tool = toOpenAIResponsesTool(codeTool);
  const responsesItem: OpenAI.Responses.ResponseInputItem = (await runOpenAIResponsesCall(codeTool, responsesCall)).item;
  const anthropicTool: Anthropic.Tool = toAnthropicTool(codeTool);
  const anthropicResult: Anthropic.ToolResultBlockParam = (await runAnthropicToolUse(codeTool, toolUse)).block;
  const anthropicMessage: Anthropic.MessageParam = { role: 'user', content: [anthropicResult] };
  const aiTools: AIToolSet = { [codeTool.name]: toAISdkTool(codeTool) };
  // @ts-expect-error a tool message is no tool definition
  const notATool: OpenAI.Chat.ChatCompletionTool = chatMessages[0];
  // @ts-expect-error a tool_result block is no tool definition
  const notAnAnthropicTool: Anthropic.Tool = anthropicResult;
  void notATool;
  void notAnAnthropicTool;
  return { chatTool, chatMessages, responsesTool, responsesItem, anthropicTool, anthropicResult, anthropicMessage, aiTools };
}
