// Comparing secrets (the daemon's bearer token, a bridge's token) in constant time: how long a comparison takes
// tells a client nothing about how much of its guess was right, nor how long the secret is.
import { createHash, timingSafeEqual } from 'node:crypto';

// True when `given` equals `expected`, compared in time that depends on neither (both are hashed to one length).
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

// True when an Authorization header is exactly `Bearer <token>`.
export function bearerTokenMatches(header: string | undefined, token: string): boolean {
  return secretsEqual(header ?? '', `Bearer ${token}`);
}
