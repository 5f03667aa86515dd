// The public surface of `runbox/sdk/ai`: the code tool for the Vercel AI SDK. Apart from `runbox/sdk` because it
// loads `ai` (an optional peer dependency) at run time.

export { toAISdkTool } from './adapters/ai-sdk.js';
