import { assertSubjectPrefix, DEFAULT_SUBJECT_PREFIX } from './subjects';

/**
 * Reading configuration from the environment. Each app collects every problem first and
 * refuses to start with one message listing them all, naming the variable and the fix.
 */
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const value = this.env[name]?.trim();
    return value ? value : fallback;
  }

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}="${raw}" must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  url(name: string, fallback: string, protocols: string[]): string {
    const value = this.string(name, fallback);
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name}="${value}" must use ${protocols.join(' or ')}`);
      }
    } catch {
      this.problems.push(`${name}="${value}" is not a valid URL`);
    }
    return value;
  }

  check(condition: boolean, problem: string): void {
    if (!condition) this.problems.push(problem);
  }

  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/waitpoints';

export interface NatsConfig {
  /** Comma-separated list of servers is accepted (a cluster). */
  servers: string[];
  subjectPrefix: string;
  /** How long a request waits for the token-service before the caller gives up. */
  requestTimeoutMs: number;
}

export function readNatsConfig(reader: EnvReader): NatsConfig {
  const servers = reader
    .string('NATS_URL', DEFAULT_NATS_URL)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const server of servers) {
    try {
      const parsed = new URL(server);
      reader.check(['nats:', 'tls:', 'ws:', 'wss:'].includes(parsed.protocol), `NATS_URL entry "${server}" must start with nats://`);
    } catch {
      reader.problems.push(`NATS_URL entry "${server}" is not a valid URL (e.g. nats://127.0.0.1:4222)`);
    }
  }
  const subjectPrefix = reader.string('NATS_SUBJECT_PREFIX', DEFAULT_SUBJECT_PREFIX);
  try {
    assertSubjectPrefix(subjectPrefix);
  } catch (error) {
    reader.problems.push(`NATS_SUBJECT_PREFIX: ${(error as Error).message}`);
  }
  return {
    servers,
    subjectPrefix,
    requestTimeoutMs: reader.integer('NATS_REQUEST_TIMEOUT_MS', 5000, 100, 120_000),
  };
}
