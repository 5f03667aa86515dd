// The compact text a model reads back from one execution: status, the budgets the code went past and the calls
// that were denied (a line each), result (JSON, cut), stdout and stderr (start and end kept when cut), the error
// with its traceback, and the files. Pure.

import type { BudgetExceeded, ExecutionResult } from '../types.js';

/** A denial's reason is cut here in the answer: the code got it whole, the model needs the gist. */
const MAX_REASON_CHARS = 200;

/** How much of each part the answer keeps. */
export interface AnswerLimits {
  maxResultChars: number;
  maxOutputChars: number;
}

// The answer text of a finished execution.
export function describeExecution(result: ExecutionResult, limits: AnswerLimits): string {
  const head = `status: ${result.status}${result.exitCode !== null && result.exitCode !== 0 ? ` (exit code ${result.exitCode})` : ''}; ` +
    `${result.toolCalls} tool call${result.toolCalls === 1 ? '' : 's'}; ${Math.round(result.durationMs)} ms`;
  const sections = [head];
  if (result.budgetsExceeded.length > 0) sections.push(`budgets exceeded: ${result.budgetsExceeded.map(describeBudget).join(', ')}`);
  const denied = describeDenied(result);
  if (denied !== null) sections.push(denied);
  if (result.result !== null) sections.push(`result:\n${cutEnd(jsonText(result.result), limits.maxResultChars, 'result')}`);
  if (result.stdout !== '') sections.push(`stdout:\n${cutMiddle(result.stdout.replace(/\n$/, ''), limits.maxOutputChars, 'stdout')}`);
  // stderr repeats the traceback of an uncaught exception; it is shown only when it says something else.
  const stderr = result.stderr.replace(/\n$/, '');
  const traceback = result.error?.traceback.trim() ?? '';
  if (stderr !== '' && !(traceback !== '' && stderr.trim().endsWith(traceback))) {
    sections.push(`stderr:\n${cutMiddle(stderr, Math.ceil(limits.maxOutputChars / 2), 'stderr')}`);
  }
  if (result.error !== null) {
    sections.push(`error: ${result.error.type}: ${cutEnd(result.error.message, 1000, 'message')}`);
    if (traceback !== '') sections.push(`traceback:\n${cutMiddle(traceback, limits.maxOutputChars, 'traceback')}`);
  }
  if (result.files.length > 0) {
    sections.push(`files:\n${result.files.map((file) => `- ${file.path} (${file.mimeType}, ${file.size} bytes)`).join('\n')}`);
  }
  if (result.fileErrors.length > 0) {
    sections.push(`files not returned:\n${result.fileErrors.map((file) => `- ${file.path}: ${file.message}`).join('\n')}`);
  }
  return sections.join('\n');
}

// One exceeded budget as the code's error names it: `maxCallsPerTool for get_sales (20 calls)`.
function describeBudget({ budget, tool, limit }: BudgetExceeded): string {
  if (budget === 'maxCallsPerTool') return `${budget}${tool === undefined ? '' : ` for ${tool}`} (${limit} call${limit === 1 ? '' : 's'})`;
  if (budget === 'maxConcurrentToolCalls') return `${budget} (${limit} call${limit === 1 ? '' : 's'} at once)`;
  return `${budget} (${limit} bytes)`;
}

// The calls the client or its policy denied, in one line: how many, of which tools, and the first reason
// (`denied tool calls: 3 (send_email ×2, delete_user): only internal mail`); null when none was.
function describeDenied(result: ExecutionResult): string | null {
  const denied = result.toolCallLog.filter((entry) => entry.outcome === 'denied');
  if (denied.length === 0) return null;
  const perTool = new Map<string, number>();
  for (const entry of denied) perTool.set(entry.tool, (perTool.get(entry.tool) ?? 0) + 1);
  const tools = [...perTool].map(([tool, count]) => (count === 1 ? tool : `${tool} ×${count}`)).join(', ');
  const reason = denied[0].error ?? denied[0].approval?.reason;
  const shown = reason === undefined ? '' : `: ${reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason}`;
  return `denied tool calls: ${denied.length} (${tools})${shown}`;
}

// The text of an input the model got wrong, naming what to fix.
export function describeBadInput(problem: string): string {
  return `status: not run\nerror: InvalidInput: ${problem}`;
}

// A result as one line of JSON (values JSON cannot hold as their String()).
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// Text cut to maxChars from its start, with a marker saying how much is gone.
export function cutEnd(text: string, maxChars: number, what: string): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}\n[runbox: ${what} cut: first ${maxChars} of ${text.length} characters shown]`;
}

// Text cut to maxChars keeping its start and its end (where output and tracebacks say the most), with a marker between.
export function cutMiddle(text: string, maxChars: number, what: string): string {
  if (text.length <= maxChars) return text;
  const headChars = Math.ceil(maxChars * 0.4);
  const tailChars = maxChars - headChars;
  const omitted = text.length - headChars - tailChars;
  return `${text.slice(0, headChars)}\n[runbox: ${omitted} characters of ${what} cut]\n${text.slice(text.length - tailChars)}`;
}
