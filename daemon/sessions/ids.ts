// Session ids: made by the daemon from 130 random bits, and checked strictly before one is ever looked up, so
// an id can never be a path or anything but a key.
import { createHash, randomInt } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** `ses_` and 26 base32 characters. */
export const SESSION_ID = /^ses_[a-z2-7]{26}$/;

// A new, unguessable session id.
export function newSessionId(): string {
  let text = '';
  for (let i = 0; i < 26; i++) text += ALPHABET[randomInt(32)];
  return `ses_${text}`;
}

// True for strings shaped like a session id (whether or not such a session exists).
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}

// The name of a session's directory under <workDir>/sessions: a digest of its id, never the id itself. The
// directory's path shows in the sandbox's mountinfo (bind mounts name their host path), and the id is the key to
// the session's file API; the digest tells nothing of it.
export function sessionDirName(id: string): string {
  return `s-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}
