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
]
