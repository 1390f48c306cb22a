import { EventEnvelope, TokenEventType } from '@waitpoints/contracts';

export interface TimerToSchedule {
  tokenId: string;
  environment: string;
  dueAt: string;
}

/** Why a timer is forgotten: the terminal event that made it pointless. */
export type ForgetReason = 'completed' | 'cancelled' | 'timed_out';

export interface IngestPlan {
  schedule: TimerToSchedule[];
  forget: { tokenId: string; reason: ForgetReason }[];
}

const FORGET_REASON: Partial<Record<TokenEventType, ForgetReason>> = {
  TokenCompleted: 'completed',
  TokenCancelled: 'cancelled',
  TokenTimedOut: 'timed_out',
};

/**
 * What a batch of token events means for the timer table. A token ends at most once and only
 * after it was created, so a terminal event wins over a creation in the same batch whatever
 * their order of arrival (redeliveries can reorder them). Applying a plan twice is harmless:
 * scheduling is insert-if-absent, forgetting is delete-if-present.
 */
export function planIngest(envelopes: Pick<EventEnvelope, 'type' | 'data'>[]): IngestPlan {
  const schedule = new Map<string, TimerToSchedule>();
  const forget = new Map<string, ForgetReason>();
  for (const { type, data } of envelopes) {
    const reason = FORGET_REASON[type];
    if (reason !== undefined) {
      if (!forget.has(data.tokenId)) forget.set(data.tokenId, reason);
    } else if (type === 'TokenCreated' && 'timeoutAt' in data) {
      schedule.set(data.tokenId, { tokenId: data.tokenId, environment: data.environment, dueAt: data.timeoutAt });
    }
  }
  for (const tokenId of forget.keys()) schedule.delete(tokenId);
  return {
    schedule: [...schedule.values()],
    forget: [...forget.entries()].map(([tokenId, reason]) => ({ tokenId, reason })),
  };
}
