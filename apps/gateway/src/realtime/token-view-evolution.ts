import { EventEnvelope, JSON_OUTPUT_TYPE, TokenEvent, TokenView } from '@waitpoints/contracts';

/**
 * The read model's view of a token after one more event: the same rules as the
 * token-service's projection (`projections/token-projection.ts`), applied in memory so the
 * gateway can follow a token from its JetStream events without asking PostgreSQL again.
 *
 * Returns undefined when the event does not follow the view directly (a gap, or an event
 * of another token); the caller then reads the token afresh.
 */
export function evolveTokenView(view: TokenView, envelope: EventEnvelope): TokenView | undefined {
  const event = { type: envelope.type, data: envelope.data } as TokenEvent;
  if (event.data.tokenId !== view.id || envelope.streamVersion !== view.version + 1) return undefined;
  const version = envelope.streamVersion;
  switch (event.type) {
    case 'TokenCreated':
      return undefined;
    case 'TokenCompleted': {
      const d = event.data;
      // An output too large for a NATS message is only referenced; the caller reads it afresh.
      if (d.outputRef !== undefined) return undefined;
      return finished(view, {
        status: 'COMPLETED',
        completedAt: d.completedAt,
        output: d.output,
        outputType: d.outputType,
        outputIsError: false,
        completedBy: d.channel,
        version,
      });
    }
    case 'TokenTimedOut': {
      const d = event.data;
      return finished(view, {
        status: 'TIMED_OUT',
        completedAt: d.timedOutAt,
        output: d.output,
        outputType: JSON_OUTPUT_TYPE,
        outputIsError: true,
        completedBy: d.forced ? 'operator' : 'scheduler',
        version,
      });
    }
    case 'TokenCancelled': {
      const d = event.data;
      return finished(view, {
        status: 'CANCELLED',
        completedAt: d.cancelledAt,
        output: d.output,
        outputType: JSON_OUTPUT_TYPE,
        outputIsError: true,
        completedBy: 'operator',
        version,
      });
    }
  }
}

type Ending = Required<Pick<TokenView, 'status' | 'completedAt' | 'outputType' | 'outputIsError' | 'completedBy' | 'version'>> & {
  output?: string;
};

function finished(view: TokenView, ending: Ending): TokenView {
  const next: TokenView = { ...view, ...ending };
  if (ending.output === undefined) delete next.output;
  delete next.outputChars;
  return next;
}
