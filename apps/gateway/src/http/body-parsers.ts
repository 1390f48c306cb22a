import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { raw } from 'express';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export type BodyMode =
  /** The body must be a JSON object (create, complete). */
  | 'json-object'
  /** An empty body means `{}`; otherwise a JSON object (cancel). */
  | 'optional-json-object'
  /** Anything goes: invalid or empty JSON becomes `{}` (callback URLs, per the seeds). */
  | 'lenient-json';

export interface JsonBodyOptions {
  /**
   * Deepest nesting of arrays and objects accepted. Routes whose fields are flat say so: a
   * validator walking a body nested thousands deep would run out of stack (a 500), so such a
   * body is refused up front with a 400.
   */
  maxDepth?: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the body whatever its Content-Type (curl's default is form-encoded), enforces the
 * route's size limit, and parses JSON with messages a caller can act on. The bytes must be
 * UTF-8 (JSON's encoding): invalid sequences are refused, never silently replaced.
 */
export function jsonBody(mode: BodyMode, limitBytes: number, options: JsonBodyOptions = {}): RequestHandler {
  const readRaw = raw({ type: () => true, limit: limitBytes });
  return (req: Request, res: Response, next: NextFunction) => {
    readRaw(req, res, (error?: unknown) => {
      if (error) return sendParserError(res, error, limitBytes);
      const buffer: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let text: string;
      try {
        text = strictUtf8.decode(buffer).trim();
      } catch {
        if (mode === 'lenient-json') {
          req.body = {};
          return next();
        }
        return sendError(res, 400, 'Request body is not valid UTF-8: send JSON encoded as UTF-8');
      }
      if (text === '') {
        if (mode === 'json-object') {
          return sendError(res, 400, 'Request body is empty: send a JSON object (for example {})');
        }
        req.body = {};
        return next();
      }
      if (options.maxDepth !== undefined && nestingDeeperThan(text, options.maxDepth)) {
        return sendError(res, 400, `Request body is nested too deeply: this route accepts at most ${options.maxDepth} levels`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (parseError) {
        if (mode === 'lenient-json') {
          req.body = {};
          return next();
        }
        return sendError(res, 400, `Request body is not valid JSON: ${(parseError as Error).message}`);
      }
      if (mode !== 'lenient-json' && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) {
        return sendError(res, 400, 'Request body must be a JSON object');
      }
      req.body = parsed;
      next();
    });
  };
}

const [QUOTE, BACKSLASH, OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT] = ['"', '\\', '[', ']', '{', '}'].map((c) => c.charCodeAt(0));

/** Whether arrays/objects in a JSON text nest deeper than `max` (brackets inside strings ignored). */
export function nestingDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}

function sendParserError(res: Response, error: unknown, limitBytes: number) {
  const { type, status } = error as { type?: string; status?: number };
  if (type === 'entity.too.large') {
    return sendError(res, 413, `Request body too large: this route accepts at most ${formatBytes(limitBytes)}`);
  }
  if (type === 'encoding.unsupported' || status === 415) {
    return sendError(res, 415, 'Unsupported content encoding: send an uncompressed UTF-8 JSON body');
  }
  if (type === 'request.aborted') return sendError(res, 400, 'Request aborted by the client');
  return sendError(res, status && status >= 400 && status < 500 ? status : 400, 'Could not read the request body');
}

export function sendError(res: Response, status: number, message: string) {
  res.status(status).json({ error: message });
}

function formatBytes(bytes: number): string {
  return bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}
