import { EventEnvelope, TokenCreated, TokenEventType } from '@waitpoints/contracts';

export interface TimerToSchedule {
  tokenId: string;
  environment: string;
  dueAt: string;
  /** Stream version of the event that set this deadline: a timer only ever moves to a newer one. */
  version: number;
}

/** Why a timer is forgotten: the terminal event that made it pointless. */
export type ForgetReason = 'completed' | 'cancelled' | 'timed_out' | 'rejected';

export interface IngestPlan {
  schedule: TimerToSchedule[];
  forget: { tokenId: string; reason: ForgetReason }[];
}

const FORGET_REASON: Partial<Record<TokenEventType, ForgetReason>> = {
  TokenCompleted: 'completed',
  TokenCancelled: 'cancelled',
  TokenTimedOut: 'timed_out',
  TokenRejected: 'rejected',
};

/** When a created token times out if nothing happens: its timeout, or its first heartbeat deadline when earlier. */
function firstDeadline(data: TokenCreated['data']): string {
  if (data.heartbeatTimeoutMs === undefined) return data.timeoutAt;
  const heartbeatDeadline = Date.parse(data.createdAt) + data.heartbeatTimeoutMs;
  return heartbeatDeadline < Date.parse(data.timeoutAt) ? new Date(heartbeatDeadline).toISOString() : data.timeoutAt;
}

/**
 * What a batch of token events means for the timer table. A token ends at most once and only
 * after it was created, so a terminal event wins over a creation or an extension in the same
 * batch whatever their order of arrival (redeliveries can reorder them); of a token's deadlines,
 * the one set by the latest event (highest stream version) wins. Applying a plan twice is
 * harmless: scheduling moves a timer only to a newer version, forgetting is delete-if-present.
 */
export function planIngest(envelopes: Pick<EventEnvelope, 'type' | 'data' | 'streamVersion'>[]): IngestPlan {
  const schedule = new Map<string, TimerToSchedule>();
  const forget = new Map<string, ForgetReason>();
  const plan = (timer: TimerToSchedule) => {
    const known = schedule.get(timer.tokenId);
    if (!known || known.version < timer.version) schedule.set(timer.tokenId, timer);
  };
  for (const envelope of envelopes) {
    const { data } = envelope;
    const reason = FORGET_REASON[envelope.type];
    if (reason !== undefined) {
      if (!forget.has(data.tokenId)) forget.set(data.tokenId, reason);
    } else if (envelope.type === 'TokenCreated') {
      const created = data as TokenCreated['data'];
      plan({ tokenId: data.tokenId, environment: data.environment, dueAt: firstDeadline(created), version: envelope.streamVersion ?? 1 });
    } else if (envelope.type === 'TokenDeadlineExtended' && 'deadline' in data) {
      plan({ tokenId: data.tokenId, environment: data.environment, dueAt: data.deadline, version: envelope.streamVersion });
    }
  }
  for (const tokenId of forget.keys()) schedule.delete(tokenId);
  return {
    schedule: [...schedule.values()],
    forget: [...forget.entries()].map(([tokenId, reason]) => ({ tokenId, reason })),
  };
}
