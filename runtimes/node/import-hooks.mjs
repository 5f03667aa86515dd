// Module hooks for installOnImport, on Node's module-hooks thread: registered by the prelude (namespace.cjs,
// ToolCalls.hookImports) only when the operator enabled installOnImport and the code has an import. A bare package
// that an import() of main.js cannot find is handed to the prelude's main thread, which installs it (at most once per
// name, as for require()) or says why it cannot; then the resolution is tried once more, or the error gets the
// reason. Node built-ins only, and of the prelude only imports.cjs's appendNote.
import { appendNote } from './prelude/imports.cjs';

/** The channel to the main thread, main.js's URL, and the questions waiting for their answer, by id. */
let port;
let mainUrl;
let lastId = 0;
const waiting = new Map();

// Called by module.register() with its `data`.
export function initialize(data) {
  ({ port, mainUrl } = data);
  port.on('message', ({ id, outcome }) => {
    waiting.get(id)?.(outcome);
    waiting.delete(id);
  });
}

// Node's own resolution; on a module main.js imports and Node cannot find, the main thread's outcome
// (imports.cjs missingPackageOutcome): try again once it was installed, or add the note to the error.
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || context.parentURL !== mainUrl) throw error;
    const outcome = await askMainThread(specifier);
    if (outcome?.retry === true) return nextResolve(specifier, context);
    if (typeof outcome?.note === 'string') appendNote(error, outcome.note);
    throw error;
  }
}

function askMainThread(specifier) {
  const id = ++lastId;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    port.postMessage({ id, specifier });
  });
}
