import { BEFORE_FIRST_EVENT, outboxPosition, parseOutboxPosition } from './outbox-position';

describe('outbox positions', () => {
  it('sort as text in publish order: by transaction, then by global position', () => {
    const published = [
      outboxPosition('9', '12'),
      outboxPosition('9', '100'),
      // A transaction that started later commits with lower positions; it is published after.
      outboxPosition('10', '11'),
      outboxPosition('18446744073709551615', '9223372036854775807'),
    ];
    expect([...published].sort()).toEqual(published);
    expect(published.every((position) => position > BEFORE_FIRST_EVENT)).toBe(true);
  });

  it('read back into their two numbers, and refuse anything else', () => {
    expect(parseOutboxPosition(outboxPosition('812', '4711'))).toEqual({ transactionId: '812', globalPosition: '4711' });
    expect(parseOutboxPosition(BEFORE_FIRST_EVENT)).toEqual({ transactionId: '0', globalPosition: '0' });
    expect(parseOutboxPosition('812-4711')).toBeUndefined();
    expect(parseOutboxPosition(`${outboxPosition('1', '2')} OR 1=1`)).toBeUndefined();
  });
});
