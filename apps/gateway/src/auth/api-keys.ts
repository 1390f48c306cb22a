import { hash, timingSafeEqual } from 'node:crypto';

/** One-shot hashing: a Hash object per call costs several times the hashing itself. */
const digestOf = (key: string) => hash('sha256', key, 'buffer');

/**
 * Secret keys → environments. Lookup compares against every key in constant time, so the
 * answer's timing says nothing about how close a guess was: each side is a SHA-256 digest (equal
 * length whatever the key's), the configured keys' digests made once here, the presented key's
 * once per request.
 */
export class ApiKeyRegistry {
  private readonly entries: [string, string][];
  private readonly digests: [Buffer, string][];

  constructor(keys: Map<string, string>) {
    this.entries = [...keys.entries()];
    this.digests = this.entries.map(([key, environment]) => [digestOf(key), environment]);
  }

  environmentOf(presentedKey: string): string | undefined {
    const presented = digestOf(presentedKey);
    let found: string | undefined;
    for (const [digest, environment] of this.digests) {
      if (timingSafeEqual(digest, presented)) found = environment;
    }
    return found;
  }

  get environments(): string[] {
    return [...new Set(this.entries.map(([, environment]) => environment))];
  }

  /** Every secret key of an environment (public access tokens signed by the SDK use one). */
  keysOf(environment: string): string[] {
    return this.entries.filter(([, env]) => env === environment).map(([key]) => key);
  }
}
