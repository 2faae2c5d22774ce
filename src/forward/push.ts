// One round of unary forwarding: send what the outbox holds, drop what the server acknowledged, return
// the new results. Retries are the caller's (withRetry here, or an alarm with decideRetry in the object).
import type { TranscriptResult } from "../gen/langhook/transcription/v1/transcription_pb.js";
import type { TranscriptionClient } from "./client.js";
import { acksFromProto, buildPushRequest, type SessionContext } from "./messages.js";
import type { Outbox } from "./outbox.js";

export interface PushRound {
  /** New results, in order (none already received). */
  results: TranscriptResult[];
  /** Batches dropped from the outbox. */
  acknowledged: number;
  /** The cursor to send next time (persist it with the session). */
  lastResultSequence: number;
}

export interface PushRoundOptions {
  /** Batches per call, default 10 (one second of both channels at 100 ms). */
  maxBatches?: number;
  endOfUtterance?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Sends up to `maxBatches` batches (possibly none, to collect results) and applies the answer. */
export async function pushRound(
  client: TranscriptionClient,
  outbox: Outbox,
  session: SessionContext,
  lastResultSequence: number,
  options: PushRoundOptions = {},
): Promise<PushRound> {
  const batches = outbox.next(options.maxBatches ?? 10);
  const request = buildPushRequest(session, batches, {
    endOfUtterance: options.endOfUtterance,
    lastResultSequence,
  });
  const response = await client.pushAudio(request, { signal: options.signal, timeoutMs: options.timeoutMs });
  const acknowledged = outbox.acknowledge(acksFromProto(response.acks)).removed.length;
  // A result at or below the cursor can only come from a server that ignored the cursor: skip it.
  const results = response.results.filter((r) => Number(r.sequenceNumber) > lastResultSequence);
  const last = results.at(-1);
  return {
    results,
    acknowledged,
    lastResultSequence: last === undefined ? lastResultSequence : Number(last.sequenceNumber),
  };
}
