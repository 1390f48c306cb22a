/**
 * Where a stored event stands in the order the outbox publishes events to JetStream: by the
 * transaction that stored it, then by its global position. (The global position alone is not
 * that order: a transaction that started earlier can commit later with a lower position; the
 * outbox waits for it and publishes it after the transactions that committed before it.)
 *
 * Written as text that sorts like that order: both numbers zero-padded to a fixed width. A
 * consumer can keep the position of the last event it handled in a text column and compare it,
 * or take `max()` of it, as text.
 */
export type OutboxPosition = string;

/** xid8 is an unsigned 64-bit number (20 digits); a bigint position has at most 19. */
const TRANSACTION_DIGITS = 20;
const POSITION_DIGITS = 19;
const POSITION_PATTERN = /^(\d{20})-(\d{19})$/;

export function outboxPosition(transactionId: string, globalPosition: string): OutboxPosition {
  return `${transactionId.padStart(TRANSACTION_DIGITS, '0')}-${globalPosition.padStart(POSITION_DIGITS, '0')}`;
}

/** The two numbers of a position (without leading zeros), or undefined when the text is not one. */
export function parseOutboxPosition(position: string): { transactionId: string; globalPosition: string } | undefined {
  const match = POSITION_PATTERN.exec(position);
  if (!match) return undefined;
  const bare = (digits: string) => digits.replace(/^0+(?=\d)/, '');
  return { transactionId: bare(match[1]), globalPosition: bare(match[2]) };
}

/** The position before every stored event: reading after it starts at the first one. */
export const BEFORE_FIRST_EVENT: OutboxPosition = outboxPosition('0', '0');

/** Header of every JetStream event message: the event's OutboxPosition. */
export const OUTBOX_POSITION_HEADER = 'Waitpoints-Outbox-Position';
