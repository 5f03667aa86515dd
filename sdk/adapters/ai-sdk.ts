// The code tool as a Vercel AI SDK (`ai` 6.x) tool: execute() runs the model's code, toModelOutput() gives the
// model the answer text and the returned images. It needs `ai` at run time, so it is reached only through
// `runbox/sdk/ai` (sdk/ai.ts), never from `runbox/sdk`.

import { jsonSchema, tool, type JSONSchema7, type Tool } from 'ai';
import type { CodeTool, CodeToolInput, CodeToolOutput } from '../code-tool.js';
import { imageAttachments } from './images.js';

// The code tool as an AI SDK tool for generateText/streamText({tools: {[codeTool.name]: ...}}).
export function toAISdkTool(codeTool: CodeTool): Tool<CodeToolInput, CodeToolOutput> {
  return tool<CodeToolInput, CodeToolOutput>({
    description: codeTool.description,
    inputSchema: jsonSchema<CodeToolInput>(codeTool.inputSchema as JSONSchema7),
    execute: (input, { abortSignal }) => codeTool.run(input, { signal: abortSignal }),
    toModelOutput: ({ output }) => ({
      type: 'content',
      value: [
        { type: 'text', text: output.text },
        ...imageAttachments(output.attachments).map((image) => ({ type: 'image-data' as const, data: image.base64, mediaType: image.mediaType })),
      ],
    }),
  });
}
