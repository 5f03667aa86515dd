// The JSON Schema check of arguments an approval changed (`onToolCall` answering `{decision: 'approve', args}`):
// the daemon checked the code's own arguments before the call reached this client, the changed ones reach only
// the handler, so they are checked here, with the daemon's own rules and messages (daemon/tool-schemas.ts).

import type { SchemaCompiler, checkValue } from '../daemon/tool-schemas.js';
import type { JsonSchema } from './types.js';

/** The shared checks, loaded on the first changed arguments: most clients never need ajv. */
interface Checks {
  compiler: SchemaCompiler;
  checkValue: typeof checkValue;
}

/** One client's compiled parameter schemas (cached by their text, as the daemon caches them). */
export class ArgumentChecks {
  #checks: Promise<Checks> | undefined;

  // Null when the arguments hold against the tool's parameters (or it declares none); else the message the daemon
  // gives for the same failure: `get_user: arguments.user_id must be string (type)`.
  async check(tool: string, parameters: JsonSchema | undefined, args: unknown): Promise<string | null> {
    if (parameters === undefined) return null;
    this.#checks ??= import('../daemon/tool-schemas.js').then((schemas) => ({ compiler: new schemas.SchemaCompiler(), checkValue: schemas.checkValue }));
    const { compiler, checkValue } = await this.#checks;
    let validate;
    try {
      validate = compiler.compile(parameters);
    } catch (error) {
      // The daemon refuses a request whose schema does not compile, so this is only a safety net.
      return `${tool}: its parameters schema does not compile: ${(error as Error).message}`;
    }
    return checkValue(validate, args, tool, 'arguments');
  }
}
