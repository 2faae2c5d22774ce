// The outbox in the Durable Object's SQLite: audio stays here until the transcription service
// acknowledges it, so an evicted or restarted object still delivers what it received.
// Boundary marks (pause, update, discarded, close) sit between batches: audio after a mark is not sent
// until the service has flushed the utterances before it.

import type { AudioBatch, ForwardChannel } from "../forward/batcher";
import type { FlushCause } from "../forward/messages";
import type { OutboxStore } from "../forward/outbox";

export interface BoundaryMark {
  id: number;
  /** Every batch with an id up to this one precedes the boundary. */
  afterId: number;
  cause: FlushCause;
}

type Row = {
  channel: string;
  sequence: number;
  start_sample: number;
  samples: ArrayBuffer;
  language: string;
  confidence: number;
  provisional: number;
};

export class SqlOutboxStore implements OutboxStore {
  constructor(private readonly sql: SqlStorage) {
    // AUTOINCREMENT: ids never go back, even when the table empties, so marks keep their place.
    sql.exec(`CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, sequence INTEGER NOT NULL,
        start_sample INTEGER NOT NULL, samples BLOB NOT NULL, language TEXT NOT NULL,
        confidence REAL NOT NULL, provisional INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox_marks (
        id INTEGER PRIMARY KEY AUTOINCREMENT, after_id INTEGER NOT NULL, cause TEXT NOT NULL);`);
  }

  append(batch: AudioBatch): void {
    const s = batch.samples;
    this.sql.exec(
      "INSERT INTO outbox (channel, sequence, start_sample, samples, language, confidence, provisional) VALUES (?, ?, ?, ?, ?, ?, ?)",
      batch.channel,
      batch.sequence,
      batch.startSample,
      s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength),
      batch.language.code,
      batch.language.confidence,
      batch.language.provisional ? 1 : 0,
    );
  }

  /** The oldest batches, stopping at the first boundary mark. */
  peek(limit: number): AudioBatch[] {
    const mark = this.nextMark();
    const rows = this.sql
      .exec<Row>(
        `SELECT channel, sequence, start_sample, samples, language, confidence, provisional FROM outbox
         WHERE id <= ? ORDER BY id LIMIT ?`,
        mark ? mark.afterId : Number.MAX_SAFE_INTEGER,
        Math.max(0, limit),
      )
      .toArray();
    return rows.map((r) => ({
      channel: r.channel as ForwardChannel,
      sequence: r.sequence,
      startSample: r.start_sample,
      samples: new Int16Array(r.samples.slice(0)),
      language: { code: r.language, confidence: r.confidence, provisional: r.provisional === 1 },
    }));
  }

  ackUpTo(channel: ForwardChannel, sequence: number): number {
    return this.sql.exec("DELETE FROM outbox WHERE channel = ? AND sequence <= ?", channel, sequence)
      .rowsWritten;
  }

  sizeInSamples(): number {
    return this.sql.exec<{ n: number }>("SELECT COALESCE(SUM(length(samples)), 0) / 2 AS n FROM outbox").one()
      .n;
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }

  addMark(cause: FlushCause): void {
    this.sql.exec(
      "INSERT INTO outbox_marks (after_id, cause) VALUES ((SELECT COALESCE(MAX(id), 0) FROM outbox), ?)",
      cause,
    );
  }

  nextMark(): BoundaryMark | null {
    const row = this.sql
      .exec<{ id: number; after_id: number; cause: string }>(
        "SELECT id, after_id, cause FROM outbox_marks ORDER BY id LIMIT 1",
      )
      .toArray()[0];
    return row ? { id: row.id, afterId: row.after_id, cause: row.cause as FlushCause } : null;
  }

  /** True when every batch before the mark has been acknowledged. */
  reached(mark: BoundaryMark): boolean {
    return (
      this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE id <= ?", mark.afterId).one().n ===
      0
    );
  }

  removeMark(id: number): void {
    this.sql.exec("DELETE FROM outbox_marks WHERE id = ?", id);
  }

  /** Forgets everything held (only when delivery has been given up, see ForwardingPipeline). */
  clear(): void {
    this.sql.exec("DELETE FROM outbox; DELETE FROM outbox_marks;");
  }

  /** Nothing left to deliver: no audio and no boundary to announce. */
  drained(): boolean {
    return this.count() === 0 && this.nextMark() === null;
  }
}
