/**
 * What a create with an idempotency key does, given the key's current reservation.
 * A live reservation returns the original token (even a finished one); an expired one
 * is taken over by the new token, as the seeds describe.
 */
export interface IdempotencyReservation {
  tokenId: string;
  expiresAt: Date;
}

export type IdempotencyDecision = { kind: 'reuse'; tokenId: string } | { kind: 'create' };

export function decideIdempotency(reservation: IdempotencyReservation | undefined, now: Date): IdempotencyDecision {
  if (reservation && reservation.expiresAt.getTime() > now.getTime()) {
    return { kind: 'reuse', tokenId: reservation.tokenId };
  }
  return { kind: 'create' };
}
