// Text helpers both stub renderers share: the options they have in common, cutting descriptions, hint text.

import type { ToolDeclaration } from '../../daemon/wire-types.js';
import type { ToolSet } from '../types.js';
import { declareTools } from '../wire.js';
import type { Field } from './schema.js';

/** Options of pythonStubs() and typescriptStubs(). */
export interface StubOptions {
  /**
   * Also show each tool's `<Name>Input` model (Python class / TypeScript interface) and use it in the
   * function's signature, instead of listing the parameters inline only.
   * @default false
   */
  inputModels?: boolean;
  /**
   * Show the prelude's own functions first (`call_tool`, `call_tools_parallel`, `set_result`, `install_package` /
   * their Node names), so the stubs alone describe everything the code can call.
   * @default true
   */
  prelude?: boolean;
  /**
   * Descriptions (of tools and of fields) longer than this are cut, ending in `…`.
   * @default 400
   */
  maxDescriptionChars?: number;
}

export const DEFAULT_MAX_DESCRIPTION_CHARS = 400;

// The tools as declarations, whether given as a ToolSet (by name) or already declared.
export function toDeclarations(tools: ToolSet | readonly ToolDeclaration[]): readonly ToolDeclaration[] {
  return Array.isArray(tools) ? (tools as readonly ToolDeclaration[]) : declareTools(tools as ToolSet);
}

// A description trimmed and cut to maxChars (keeping its line breaks).
export function cutDescription(text: string | undefined, maxChars: number): string {
  const trimmed = (text ?? '').trim().replace(/\r\n?/g, '\n');
  return trimmed.length > maxChars ? `${trimmed.slice(0, Math.max(0, maxChars - 1)).trimEnd()}…` : trimmed;
}

// A field's description with its format and default as hints, on one line (for comments).
export function fieldHint(field: Field, maxChars: number, defaultText?: string): string {
  const parts = [cutDescription(field.description, maxChars).replace(/\s+/g, ' ')];
  const extras = [field.format === undefined ? '' : `format: ${field.format}`, defaultText === undefined ? '' : `default: ${defaultText}`].filter(Boolean);
  if (extras.length > 0) parts.push(parts[0] === '' ? extras.join(', ') : `(${extras.join(', ')})`);
  return parts.filter(Boolean).join(' ');
}
