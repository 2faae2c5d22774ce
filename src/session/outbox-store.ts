// The durable side of a call's outbox: batches the service did not acknowledge promptly, in SQLite, so an
// outage, an eviction or a restart loses nothing. A healthy call writes nothing here (see forward/outbox).

import type { ForwardChannel } from "../forward/batcher";
import type { OutboxEntry } from "../forward/outbox";
import type { CallStorage } from "./storage";

type Row = {
  id: number;
  channel: string;
  sequence: number;
  start_sample: number;
  since: number;
  samples: ArrayBuffer;
  language: string;
  confidence: number;
  provisional: number;
};

export class SpillStore {
  constructor(private readonly storage: CallStorage) {
    storage.define(`CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY, channel TEXT NOT NULL, sequence INTEGER NOT NULL, start_sample INTEGER NOT NULL,
        since INTEGER NOT NULL, samples BLOB NOT NULL, language TEXT NOT NULL, confidence REAL NOT NULL,
        provisional INTEGER NOT NULL)`);
  }

  write(entries: readonly OutboxEntry[]): void {
    for (const { id, batch, since } of entries) {
      const s = batch.samples;
      this.storage.exec(
        "INSERT OR REPLACE INTO outbox (id, channel, sequence, start_sample, since, samples, language, confidence, provisional) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        id,
        batch.channel,
        batch.sequence,
        batch.startSample,
        since,
        s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength),
        batch.language.code,
        batch.language.confidence,
        batch.language.provisional ? 1 : 0,
      );
    }
  }

  /** The service acknowledged these channels up to these sequences: their durable copies go. */
  remove(upTo: Partial<Record<ForwardChannel, number>>): void {
    for (const [channel, sequence] of Object.entries(upTo)) {
      this.storage.exec("DELETE FROM outbox WHERE channel = ? AND sequence <= ?", channel, sequence);
    }
  }

  load(): OutboxEntry[] {
    return this.storage
      .exec<Row>(
        "SELECT id, channel, sequence, start_sample, since, samples, language, confidence, provisional FROM outbox ORDER BY id",
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        since: r.since,
        spilled: true,
        sentAt: null,
        batch: {
          channel: r.channel as ForwardChannel,
          sequence: r.sequence,
          startSample: r.start_sample,
          since: r.since,
          samples: new Int16Array(r.samples.slice(0)),
          language: { code: r.language, confidence: r.confidence, provisional: r.provisional === 1 },
        },
      }));
  }
}
