/**
 * @waitpoints/sdk/events: for internal services that react to token events straight from
 * JetStream (durable, at least once), rather than through the HTTP API.
 */
export { consumeTokenEvents } from './token-event-consumer';
export type { TokenEventConsumer, TokenEventConsumerOptions, TokenEventDelivery, TokenEventEnvelope } from './token-event-consumer';
export type {
  EventEnvelope,
  OutboxPosition,
  TokenCancelled,
  TokenCompleted,
  TokenCreated,
  TokenDeadlineExtended,
  TokenEvent,
  TokenEventKind,
  TokenRejected,
  TokenTimedOut,
} from '@waitpoints/contracts';
