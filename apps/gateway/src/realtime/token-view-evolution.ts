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
    case 'TokenDeadlineExtended':
      return { ...view, timeoutAt: event.data.timeoutAt, version };
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
    case 'TokenTimedOut':
      return endedWithError(
        view,
        'TIMED_OUT',
        event.data.timedOutAt,
        event.data.output,
        event.data.forced ? 'operator' : 'scheduler',
        version,
      );
    case 'TokenRejected':
      return endedWithError(view, 'REJECTED', event.data.rejectedAt, event.data.output, event.data.channel, version);
    case 'TokenCancelled':
      return endedWithError(view, 'CANCELLED', event.data.cancelledAt, event.data.output, 'operator', version);
  }
}

type Ending = Required<Pick<TokenView, 'status' | 'completedAt' | 'outputType' | 'outputIsError' | 'completedBy' | 'version'>> & {
  output?: string;
};

/** A token that ended without a completion: its output is the JSON error `{ code, message }`. */
function endedWithError(
  view: TokenView,
  status: Ending['status'],
  completedAt: string,
  output: string,
  completedBy: Ending['completedBy'],
  version: number,
): TokenView {
  return finished(view, { status, completedAt, output, outputType: JSON_OUTPUT_TYPE, outputIsError: true, completedBy, version });
}

function finished(view: TokenView, ending: Ending): TokenView {
  const next: TokenView = { ...view, ...ending };
  if (ending.output === undefined) delete next.output;
  delete next.outputChars;
  delete next.heartbeatDeadline; // a finished token has no deadline to keep
  return next;
}
