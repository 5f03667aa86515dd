// The one error type of package installs: a stable code saying what went wrong and a message meant for the code
// that asked for the packages (the installer's own explanation included when it failed).
import type { CodeErrorCode } from '../errors.js';

/** The codes of the CODE_ERRORS registry an install fails with (the install limit is `limit_exceeded`). */
export type InstallErrorCode = Extract<CodeErrorCode, 'invalid_package' | 'package_not_allowed' | 'install_failed' | 'install_timeout' | 'install_too_large'>;

/** Characters of an installer's stderr kept in an install_failed message: its end, where the reason is. */
export const INSTALLER_MESSAGE_MAX_CHARS = 2000;

// A package install that was refused or did not succeed; `code` says which, `message` says why.
export class InstallError extends Error {
  readonly code: InstallErrorCode;
  constructor(code: InstallErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InstallError';
    this.code = code;
  }
}

// The install_failed error for an installer that exited unsuccessfully, carrying the end of what it printed.
export function installFailedError(installer: string, specifiers: readonly string[], exit: string, output: string): InstallError {
  const tail = tailOf(output, INSTALLER_MESSAGE_MAX_CHARS);
  const detail = tail ? `:\n${tail}` : ' and printed nothing';
  return new InstallError('install_failed', `${installer} could not install ${specifiers.join(' ')} (${exit})${detail}`);
}

// The last maxChars characters of text, trimmed, starting at a line boundary when one is near.
export function tailOf(text: string, maxChars: number): string {
  const trimmed = text.trim();
  if (trimmed.length <= maxChars) return trimmed;
  const cut = trimmed.slice(-maxChars);
  const newline = cut.indexOf('\n');
  return `…${newline !== -1 && newline < 200 ? cut.slice(newline) : cut}`.trim();
}
