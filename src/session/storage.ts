// A call object's SQLite, counted: every statement goes through `exec`, which adds up the rows it wrote,
// because rows written are what a deployed call pays for storage (and what the load bench reports).

/** The state of a call is one JSON row: written at most about once a second, and at every control message. */
const STATE_KEY = "call";

export class CallStorage {
  /** Rows written by this object since it was (re)constructed; the call record carries the running total. */
  rowsWritten = 0;
  /** Every table's definition, to create them again after `deleteAll` (which drops the tables too). */
  private readonly schema: string[] = [];

  constructor(private readonly sql: SqlStorage) {
    this.define(`CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);`);
  }

  /** Creates tables (`CREATE TABLE IF NOT EXISTS`), remembered for `recreate`. */
  define(ddl: string): void {
    this.schema.push(ddl);
    this.exec(ddl);
  }

  /** The tables again, after `deleteAll` erased them with the rest: the object may take another call. */
  recreate(): void {
    for (const ddl of this.schema) this.exec(ddl);
  }

  exec<T extends Record<string, SqlStorageValue>>(
    query: string,
    ...bindings: unknown[]
  ): SqlStorageCursor<T> {
    const cursor = this.sql.exec<T>(query, ...bindings);
    // rowsWritten is final once the cursor is consumed; writes here are never left unconsumed.
    if (!/^\s*SELECT/i.test(query)) {
      cursor.toArray();
      this.rowsWritten += cursor.rowsWritten;
    }
    return cursor;
  }

  loadState<T>(): T | null {
    return this.get<T>(STATE_KEY);
  }

  saveState(value: unknown): void {
    this.put(STATE_KEY, value);
  }

  get<T>(key: string): T | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : null;
  }

  put(key: string, value: unknown): void {
    // An upsert, not INSERT OR REPLACE: replacing rewrites the row and its key index (2 rows written),
    // updating the value of an existing row is 1.
    this.exec(
      "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      JSON.stringify(value),
    );
  }

  remove(key: string): void {
    this.exec("DELETE FROM kv WHERE key = ?", key);
  }

  /** Records a signature nonce; false when it was seen before (a replayed upgrade). */
  rememberNonce(nonce: string, expiresAt: number, now: number): boolean {
    this.exec("DELETE FROM nonces WHERE expires_at < ?", Math.floor(now / 1000));
    const seen = this.sql.exec("SELECT 1 FROM nonces WHERE nonce = ?", nonce).toArray().length > 0;
    if (seen) return false;
    this.exec("INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)", nonce, expiresAt);
    return true;
  }
}
