// Session ids: made by the daemon from 130 random bits, and checked strictly before one is ever looked up, so
// an id can never be a path or anything but a key.
import { randomInt } from 'node:crypto';

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
