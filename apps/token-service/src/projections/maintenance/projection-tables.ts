import type { Sql } from '../../database/database';

/**
 * The read tables TokenProjection writes, in the order it first touches them in a transaction
 * (the swap locks them in this order too). `es_events` and `es_checkpoints` are not projections.
 */
export const PROJECTION_TABLES = ['waitpoint_tokens', 'waitpoint_idempotency_keys', 'waitpoint_request_keys'] as const;
export type ProjectionTable = (typeof PROJECTION_TABLES)[number];

/**
 * Columns of the read tables that no event sets alone: a heartbeat token's heartbeat deadline
 * starts at what TokenCreated says and is then moved by heartbeats, which are not events. A
 * replay cannot know them, so projections:verify leaves them out and projections:rebuild carries
 * the live values over into the rebuilt tables.
 */
export const LIVE_ONLY_COLUMNS: Record<ProjectionTable, string[]> = {
  waitpoint_tokens: ['heartbeat_deadline'],
  waitpoint_idempotency_keys: [],
  waitpoint_request_keys: [],
};

/**
 * Rows (alias given) whose live-only columns can still move: a heartbeat moves only the
 * deadline of a WAITING token created with a heartbeat timeout (found through the partial index
 * of WAITING tokens). A token that heartbeats and then finishes during a rebuild's last seconds
 * keeps the deadline carried over before the lock; a finished token's deadline times nothing out.
 */
export const LIVE_ONLY_ROWS_STILL_MOVING: Record<ProjectionTable, (alias: string) => string> = {
  waitpoint_tokens: (alias) => `${alias}.status = 'WAITING' AND ${alias}.heartbeat_timeout_ms IS NOT NULL`,
  waitpoint_idempotency_keys: () => 'FALSE',
  waitpoint_request_keys: () => 'FALSE',
};

export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
export const qualified = (schema: string, table: string) => `${ident(schema)}.${ident(table)}`;

/** The schema the token-service's unqualified table names resolve to (normally `public`). */
export async function liveSchemaOf(sql: Sql): Promise<string> {
  const [row]: { schema: string | null }[] = await sql.query(
    `SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1)`,
    [PROJECTION_TABLES[0]],
  );
  if (!row?.schema) throw new Error(`table ${PROJECTION_TABLES[0]} not found: are the token-service migrations applied?`);
  return row.schema;
}

/**
 * Columns, types, nullability, defaults, constraints and indexes of the live tables, as text:
 * a rebuild refuses to swap in tables made from a definition that changed meanwhile (a migration).
 */
export async function definitionOf(sql: Sql, schema: string): Promise<string> {
  const [row]: { definition: string }[] = await sql.query(
    `SELECT concat_ws(E'\\n',
       (SELECT string_agg(format('%s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                                 a.attnotnull, pg_get_expr(d.adbin, d.adrelid)), E'\\n' ORDER BY c.relname, a.attnum)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = $1::text::regnamespace AND c.relname = ANY($2::text[]) AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT string_agg(format('%s %s %s', c.relname, k.conname, pg_get_constraintdef(k.oid)), E'\\n' ORDER BY c.relname, k.conname)
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
         WHERE c.relnamespace = $1::text::regnamespace AND c.relname = ANY($2::text[])),
       (SELECT string_agg(format('%s %s', i.indexname, regexp_replace(i.indexdef, ' ON \\S+ ', ' ON ')), E'\\n' ORDER BY i.indexname)
          FROM pg_indexes i WHERE i.schemaname = $1::text AND i.tablename = ANY($2::text[]))
     ) AS definition`,
    [schema, [...PROJECTION_TABLES]],
  );
  return row.definition;
}

/**
 * Empty copies of the live tables in `target`, with the same column definitions, constraint
 * and index names, but without the indexes that back no constraint (build them after a bulk
 * load with `createSecondaryIndexes`). `unlogged`: for tables that are thrown away, not
 * swapped in (they skip the WAL, and a crash empties them).
 */
export async function cloneTables(sql: Sql, liveSchema: string, target: string, options: { unlogged?: boolean } = {}): Promise<void> {
  for (const table of PROJECTION_TABLES) {
    await sql.query(
      `CREATE ${options.unlogged ? 'UNLOGGED ' : ''}TABLE ${qualified(target, table)} (LIKE ${qualified(liveSchema, table)}
         INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS)`,
    );
    // Primary keys and unique constraints: the projection's ON CONFLICT clauses need them during the replay.
    const constraints: { name: string; definition: string }[] = await sql.query(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
        WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname`,
      [qualified(liveSchema, table)],
    );
    for (const { name, definition } of constraints) {
      await sql.query(`ALTER TABLE ${qualified(target, table)} ADD CONSTRAINT ${ident(name)} ${definition}`);
    }
  }
}

export async function createSecondaryIndexes(sql: Sql, liveSchema: string, target: string): Promise<void> {
  for (const table of PROJECTION_TABLES) {
    const indexes: { definition: string }[] = await sql.query(
      `SELECT pg_get_indexdef(i.indexrelid) AS definition FROM pg_index i
        WHERE i.indrelid = $1::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
        ORDER BY i.indexrelid`,
      [qualified(liveSchema, table)],
    );
    for (const { definition } of indexes) {
      // The index keeps its name; only the table it is built on changes (an index lives in its table's schema).
      const retargeted = definition.replace(/ ON (ONLY )?\S+ USING /, ` ON $1${qualified(target, table)} USING `);
      if (retargeted === definition) throw new Error(`cannot re-create index: ${definition}`);
      await sql.query(retargeted);
    }
  }
}

/** The owner and the grants of each live table, given to its copy (dashboards keep their SELECT). */
export async function copyOwnerAndGrants(sql: Sql, liveSchema: string, target: string): Promise<void> {
  for (const table of PROJECTION_TABLES) {
    const [{ owner, me }]: { owner: string; me: string }[] = await sql.query(
      `SELECT pg_get_userbyid(relowner) AS owner, current_user AS me FROM pg_class WHERE oid = $1::regclass`,
      [qualified(liveSchema, table)],
    );
    if (owner !== me) await sql.query(`ALTER TABLE ${qualified(target, table)} OWNER TO ${ident(owner)}`);
    const grants: { grantee: string; privilege: string; grantable: boolean }[] = await sql.query(
      `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
              a.privilege_type AS privilege, a.is_grantable AS grantable
         FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = $1::regclass AND a.grantee <> c.relowner`,
      [qualified(liveSchema, table)],
    );
    for (const { grantee, privilege, grantable } of grants) {
      await sql.query(
        `GRANT ${privilege} ON ${qualified(target, table)} TO ${grantee === 'PUBLIC' ? 'PUBLIC' : ident(grantee)}${grantable ? ' WITH GRANT OPTION' : ''}`,
      );
    }
  }
}

/** The columns a row can be copied by (INSERT … SELECT): all but generated and dropped ones, in table order. */
export async function copiedColumnsOf(sql: Sql, schema: string, table: string): Promise<string[]> {
  const rows: { column: string }[] = await sql.query(
    `SELECT attname AS column FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [qualified(schema, table)],
  );
  return rows.map((r) => r.column);
}

/** The primary key columns of a table, in key order. */
export async function primaryKeyOf(
  query: (sql: string, parameters: unknown[]) => Promise<{ column: string }[]>,
  schema: string,
  table: string,
): Promise<string[]> {
  const rows = await query(
    `SELECT a.attname AS column FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = $1::regclass AND i.indisprimary
      ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [qualified(schema, table)],
  );
  if (rows.length === 0) throw new Error(`${table} has no primary key to compare rows by`);
  return rows.map((r) => r.column);
}
