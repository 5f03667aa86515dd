// Whether Python code may use what the fork server preloads (pythonPreload: numpy, pandas, matplotlib by
// default). Code that surely does not is forked from a server with nothing preloaded, whose children are a
// fraction of the size and so cost less to fork and to tear down; a wrong guess costs only time, never a result.

// Pure: false only when no top-level package of the preload appears in the code as a word, and the code has no
// dynamic import (importlib, __import__, exec, eval, compile), which could reach one by a name built at run time.
export function mayUsePreload(code: string, preload: readonly string[]): boolean {
  if (preload.length === 0) return false;
  if (/\b(importlib|__import__|exec|eval|compile)\b/.test(code)) return true;
  return preload.some((module) => new RegExp(`\\b${escapeRegExp(module.split('.')[0])}\\b`).test(code));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
