import { HeartbeatTokenCommand } from '@waitpoints/contracts';

/**
 * Body of `POST /api/v1/waitpoints/tokens/:id/heartbeat` (our extension): a heartbeat carries
 * nothing, so the body is empty or `{}` (an empty body reads as `{}`, see app.ts) and any field
 * is refused as unknown.
 */
export class HeartbeatTokenRequest {
  /** The command this (valid) body asks for. */
  toCommand(context: HeartbeatTokenCommand): HeartbeatTokenCommand {
    return context;
  }
}
