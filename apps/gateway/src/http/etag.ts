import { hash } from 'node:crypto';

/**
 * Express's default ETag (a weak tag: the body's length in hex and the first 27 base64 characters
 * of its SHA-1, as the `etag` package makes it), computed with one-shot hashing: the Hash object
 * that `etag` creates per response cost more than the hashing itself, on every JSON answer.
 * The tags are the same, so a client's If-None-Match keeps matching.
 */
export function weakEtag(body: string | Buffer, encoding?: BufferEncoding): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, encoding) : body;
  if (bytes.length === 0) return 'W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"';
  return `W/"${bytes.length.toString(16)}-${hash('sha1', bytes, 'base64').substring(0, 27)}"`;
}
