import { CreateToken, decide, foldToken } from './token.decider';
import { createdTokenView } from '../projections/token-projection';
import type { TokenCreated } from '@waitpoints/contracts';

const now = new Date('2030-01-01T00:00:00.000Z');
const create = (extra: Partial<CreateToken> = {}): CreateToken => ({
  type: 'CreateToken',
  tokenId: '01jd0000000000000000000000',
  environment: 'dev',
  idempotencyKeyTTLMs: 3_600_000,
  timeout: { afterMs: 60_000 },
  tags: [],
  now,
  ...extra,
});

describe('decide: a create with an approval page', () => {
  it('records the approval texts in TokenCreated, and the created view carries them', () => {
    const approval = { title: 'Ship?', commentRequired: true };
    const [event] = decide(create({ approval }), foldToken([])) as TokenCreated[];
    expect(event.data.approval).toEqual(approval);
    expect(createdTokenView(event, 1).approval).toEqual(approval);
  });

  it('records nothing about approval without one (events stay as they were)', () => {
    const [event] = decide(create(), foldToken([])) as TokenCreated[];
    expect(event.data).not.toHaveProperty('approval');
    expect(createdTokenView(event, 1)).not.toHaveProperty('approval');
  });
});
