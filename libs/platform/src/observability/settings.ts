import { EnvReader } from '@waitpoints/contracts';

/** pino's levels, quietest last; `silent` turns logging off (the tests run with it). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const isLogLevel = (value: string): value is LogLevel => (LOG_LEVELS as readonly string[]).includes(value);

/** `LOG_LEVEL`, validated; undefined when unset (see resolveLogLevel). */
export function readLogLevel(read: EnvReader): LogLevel | undefined {
  const raw = read.optional('LOG_LEVEL')?.toLowerCase();
  if (raw === undefined) return undefined;
  if (!isLogLevel(raw)) {
    read.problems.push(`LOG_LEVEL="${raw}" must be one of ${LOG_LEVELS.join(', ')}`);
    return undefined;
  }
  return raw;
}

/**
 * The level an app logs at: its configuration, else the process's LOG_LEVEL (tests build
 * configurations from their own variables but silence logs through process.env), else info.
 */
export function resolveLogLevel(configured: LogLevel | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  if (configured !== undefined) return configured;
  const fromProcess = env.LOG_LEVEL?.trim().toLowerCase();
  return fromProcess && isLogLevel(fromProcess) ? fromProcess : 'info';
}

/** Where a service without an API serves /metrics, /health and /ready; `port: undefined` = off. */
export interface OpsEndpointConfig {
  port?: number;
  host: string;
}

/**
 * Reads `<prefix>METRICS_PORT` (0 = any free port, `off` = no HTTP listener) and
 * `<prefix>METRICS_HOST`.
 */
export function readOpsEndpoint(read: EnvReader, prefix: string, defaultPort: number): OpsEndpointConfig {
  const portName = `${prefix}METRICS_PORT`;
  const raw = read.optional(portName);
  const host = read.string(`${prefix}METRICS_HOST`, '0.0.0.0');
  if (raw !== undefined && ['off', 'false', 'none', 'disabled'].includes(raw.toLowerCase())) return { host };
  return { port: read.integer(portName, defaultPort, 0, 65535), host };
}
