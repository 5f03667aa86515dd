// Finds the trailing expression of Node code (`x + y`, `await main()` as the last statement), which becomes the
// result as in a notebook. The Node prelude has no parser (its start-up counts), so the daemon parses the code
// once here and sends the range in the `run` message (docs/protocol.md, "The bridge"). Pure; never throws.
import { parse, type Node, type Statement, type ModuleDeclaration } from 'acorn';

/**
 * Where the prelude turns the last statement into the code's return value: it inserts `;return (` at `start`
 * (the end of the statement before, over the blank lines and comments between, or 0 for the first statement, when
 * it goes on the wrapper's own line) and `)` at `end` (the end of the expression). So no line of the code moves,
 * and no column of the expression's lines either. Offsets are UTF-16 code units of the code.
 */
export interface ResultExpression {
  readonly start: number;
  readonly end: number;
}

/**
 * Code longer than this (in UTF-16 code units) is not searched: the parse runs on the daemon's main thread over
 * untrusted code. Measured (bench/result-expression.ts): typical code of 0.5 KiB under 1 ms; at 1 MiB (the default
 * maxCodeBytes) the worst shapes (many statements, a long array, a long template) take 0.3-0.8 s; at this cap
 * they take 30 ms at most (a loaded two-core machine). Code that long is rarely written by an agent.
 */
export const MAX_RESULT_EXPRESSION_SEARCH = 64 * 1024;

// The trailing expression of the code, or null: none, an assignment (a statement in Python, so no result there
// either), a directive ('use strict'), code the parser refuses (the prelude reports its SyntaxError as before),
// nesting too deep to parse, or code over MAX_RESULT_EXPRESSION_SEARCH.
export function findResultExpression(code: string, maxLength = MAX_RESULT_EXPRESSION_SEARCH): ResultExpression | null {
  if (code.length > maxLength) return null;
  let body: (Statement | ModuleDeclaration)[];
  try {
    body = parse(code, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      allowAwaitOutsideFunction: true,
      allowReturnOutsideFunction: true,
      allowHashBang: true,
    }).body;
  } catch {
    return null; // a SyntaxError, or a RangeError from nesting deeper than the parser's stack
  }
  const last = body.at(-1);
  if (last?.type !== 'ExpressionStatement' || last.directive !== undefined) return null;
  const { expression } = last;
  if (expression.type === 'AssignmentExpression' || expression.type === 'UpdateExpression') return null;
  const before: Node | undefined = body.at(-2);
  return { start: before?.end ?? 0, end: expression.end };
}
