import { ApiPropertyOptional } from '@nestjs/swagger';
import { CompleteTokenCommand, JSON_OUTPUT_TYPE } from '@waitpoints/contracts';
import { Rule } from '../../http/request-validation';
import { MAX_OUTPUT_DEPTH, outputProblem, toOutputText } from '../token-output';

/**
 * Body of `POST /api/v1/waitpoints/tokens/:id/complete` (Trigger.dev's
 * CompleteWaitpointTokenRequestBody): the output under `data`, any JSON value (null included),
 * or nothing. The body itself must be a JSON object of at most 3 MiB (see app.ts).
 */
export class CompleteTokenRequest {
  // The published schema leaves `data` without a type ("any JSON value"); see api-docs.ts.
  @ApiPropertyOptional({
    description: `Any JSON value, nested at most ${MAX_OUTPUT_DEPTH} levels: becomes the output. Leave it out ({}) to complete without output.`,
    example: { approved: true },
  })
  @Rule('isOutput', (value) => (value === undefined ? undefined : outputProblem(value)))
  data?: unknown;

  /** The command this (valid) body asks for. */
  toCommand(context: Pick<CompleteTokenCommand, 'environment' | 'tokenId' | 'channel' | 'metadata'>): CompleteTokenCommand {
    return {
      ...context,
      output: this.data === undefined ? undefined : toOutputText(this.data),
      outputType: JSON_OUTPUT_TYPE,
    };
  }
}
