import { safeEqual } from './secrets';

/**
 * Secret keys → environments. Lookup compares against every key in constant time, so the
 * answer's timing says nothing about how close a guess was.
 */
export class ApiKeyRegistry {
  private readonly entries: [string, string][];

  constructor(keys: Map<string, string>) {
    this.entries = [...keys.entries()];
  }

  environmentOf(presentedKey: string): string | undefined {
    let found: string | undefined;
    for (const [key, environment] of this.entries) {
      if (safeEqual(key, presentedKey)) found = environment;
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
