import { EventEnvelope, TokenView } from '@waitpoints/contracts';

/** A token and its completion as the token-service reports them, for unit specs of what shows or follows tokens. */
export const FIXTURE_TOKEN_ID = '01jd0000000000000000000000';

export const waitingToken: TokenView = {
  id: FIXTURE_TOKEN_ID,
  environment: 'dev',
  status: 'WAITING',
  timeoutAt: '2030-01-01T00:00:00.000Z',
  outputIsError: false,
  tags: ['a'],
  createdAt: '2029-12-31T00:00:00.000Z',
  version: 1,
};

/** The waiting token completed through the API (version 2), with `output`. */
export function completedToken(output = '{"approved":true}'): TokenView {
  return {
    ...waitingToken,
    status: 'COMPLETED',
    completedAt: '2029-12-31T01:00:00.000Z',
    output,
    outputType: 'application/json',
    completedBy: 'api',
    version: 2,
  };
}

/** The event that completed `token` (see completedToken). */
export function completionOf(token: TokenView): EventEnvelope {
  return {
    eventId: '6b8f2f6e-0000-4000-8000-000000000002',
    type: 'TokenCompleted',
    schemaVersion: 1,
    streamId: `token-${token.id}`,
    streamVersion: token.version,
    globalPosition: String(token.version),
    data: {
      tokenId: token.id,
      environment: token.environment,
      output: token.output,
      outputType: 'application/json',
      channel: 'api',
      completedAt: token.completedAt!,
    },
    metadata: { correlationId: 'c', actor: { type: 'api_key', id: 'dev' } },
    recordedAt: token.completedAt!,
  };
}
