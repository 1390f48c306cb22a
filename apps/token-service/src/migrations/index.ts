import { EventStoreAndTokenProjection1763884800000 } from './1763884800000-EventStoreAndTokenProjection';
import { CompletedAtIndex1764720000000 } from './1764720000000-CompletedAtIndex';

/** Every migration of the token-service database, oldest first. */
export const tokenServiceMigrations = [EventStoreAndTokenProjection1763884800000, CompletedAtIndex1764720000000];
