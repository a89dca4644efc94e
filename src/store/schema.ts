/**
 * SQLite schema, one entry per version (PRAGMA user_version counts the applied ones).
 * Forward only: a change is a new entry at the end, never an edit of a shipped one.
 */
export const MIGRATIONS: string[] = [
  `
  -- Key/value settings of the deployment, such as the generated token signing key.
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  -- Measure definitions, as loaded by insert-definitions-json. The validated definition is kept
  -- whole as JSON (camelCase keys of the file format), so a new definition field needs no migration.
  CREATE TABLE definitions (
    name          TEXT PRIMARY KEY,
    body          TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    last_purge_at TEXT
  );

  CREATE TABLE orgs (
    name       TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
  );

  -- One row per token ever issued; the token itself is a signed JWT and is never stored.
  -- A token is valid while its row has no revoked_at (and its JWT has not expired).
  CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    org        TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
  );
  CREATE INDEX tokens_by_org ON tokens (org);
  `,
  `
  -- Wildcard rollups registered per measure (dacc compute-wildcard-aggregate): every /aggregate
  -- answer for the measure also holds, computed at read time, the rows where these groups read "*".
  CREATE TABLE wildcard_sets (
    measure_name TEXT NOT NULL,
    groups       TEXT NOT NULL, -- the rolled-up groups, canonical: in column order, comma-separated ('group1,group3')
    from_date    TEXT,          -- 'YYYY-MM-DD hh:mm:ss': "*" rows start at buckets from here (inclusive); NULL: no lower bound
    to_date      TEXT,          -- ...up to here (exclusive); NULL: no upper bound
    created_at   TEXT NOT NULL,
    PRIMARY KEY (measure_name, groups)
  );
  `,
  `
  -- Tokens imported from the original service (dacc import-original): its producers keep sending
  -- them as they were, plain strings rather than JWTs. Such a row keeps the hex SHA-256 of its token
  -- (never the token) to recognise it; NULL for the JWTs issued here.
  ALTER TABLE tokens ADD COLUMN hash TEXT;
  CREATE UNIQUE INDEX tokens_by_hash ON tokens (hash) WHERE hash IS NOT NULL;

  -- What dacc import-original did per measure, so that running it again imports only what is new
  -- (src/import/records.ts).
  CREATE TABLE original_imports (
    measure_name       TEXT PRIMARY KEY,
    aggregated_through TEXT,              -- the original's last_aggregated_measure_date when its aggregation rows were imported: its raw measures received later are counted here; NULL: none aggregated
    buckets_done_at    TEXT,              -- when its aggregation rows were all imported (ISO-8601); NULL until then
    raw_mark           INTEGER NOT NULL,  -- its raw_measure rows with an id up to this one are imported
    updated_at         TEXT NOT NULL
  );
  `,
]
