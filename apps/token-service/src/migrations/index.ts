import { EventStoreAndTokenProjection1763884800000 } from './1763884800000-EventStoreAndTokenProjection';

/** Every migration of the token-service database, oldest first. */
export const tokenServiceMigrations = [EventStoreAndTokenProjection1763884800000];
