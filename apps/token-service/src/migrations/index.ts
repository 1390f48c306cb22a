import { EventStoreAndTokenProjection1763884800000 } from './1763884800000-EventStoreAndTokenProjection';
import { CompletedAtIndex1764720000000 } from './1764720000000-CompletedAtIndex';
import { ProjectionKeyCheck1764979200000 } from './1764979200000-ProjectionKeyCheck';
import { ApprovalPage1765238400000 } from './1765238400000-ApprovalPage';
import { LongRunningTokens1765584000000 } from './1765584000000-LongRunningTokens';
import { TokenRetention1766016000000 } from './1766016000000-TokenRetention';

/** Every migration of the token-service database, oldest first. */
export const tokenServiceMigrations = [
  EventStoreAndTokenProjection1763884800000,
  CompletedAtIndex1764720000000,
  ProjectionKeyCheck1764979200000,
  ApprovalPage1765238400000,
  LongRunningTokens1765584000000,
  TokenRetention1766016000000,
];
