// One media-api participant stream in plain Node: what an absurd sequence number, late and duplicate
// frames do to the audio and to the bad-frame count (issue 13, item 6).

import { describe, expect, it } from "vitest";
import { MediaApiStream, type StreamOutput } from "../../../src/mediaapi/stream";

const ID = { conversationId: "c-1", participantId: "p-1" };

/** A valid 20 ms PCMU frame numbered `sequenceNumber`. */
function frame(sequenceNumber: number, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ...ID,
    audio: btoa(String.fromCharCode(...new Uint8Array(160).fill(0x7f))),
    format: "PCMU",
    sampleRate: 8000,
    sequenceNumber,
    timestamp: "2026-12-01T12:00:00.000Z",
    ...overrides,
  });
}

const audio = (out: StreamOutput[]) => out.flatMap((o) => (o.type === "audio" ? [o.sequence] : []));
const errors = (out: StreamOutput[]) =>
  out.flatMap((o) => (o.type === "reply" ? [`${o.frame.code} ${o.frame.sequenceNumber ?? ""}`.trim()] : []));

describe("MediaApiStream sequence numbers", () => {
  it("takes a number far past the window as one bad frame, not a jump: the audio after it is kept", () => {
    const stream = new MediaApiStream(ID);
    const out: StreamOutput[] = [];
    for (let n = 1; n <= 5; n++) out.push(...stream.receive(frame(n)));
    const absurd = stream.receive(frame(9e15));
    for (let n = 6; n <= 30; n++) out.push(...stream.receive(frame(n)));
    out.push(...stream.flush());

    expect(errors(absurd)).toEqual(["ERR_FRAME_BAD_SEQUENCE 9000000000000000"]);
    expect(absurd.some((o) => o.type === "gap" || o.type === "close")).toBe(false);
    expect(audio(out)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(errors(out)).toEqual([]);
    expect(out.some((o) => o.type === "gap")).toBe(false);
    expect(stream.state()).toMatchObject({ next: 31, gaps: 0, missing: 0, duplicates: 0 });
  });

  it("still reports a real jump within the bound as a gap", () => {
    const stream = new MediaApiStream(ID);
    stream.receive(frame(1));
    const out = stream.receive(frame(1001));
    expect(out).toContainEqual({ type: "gap", from: 2, to: 993, samples: 992 * 160 });
  });

  it("counts far-off numbers towards the 20 bad frames that close the stream", () => {
    const stream = new MediaApiStream(ID);
    stream.receive(frame(1));
    let last: StreamOutput[] = [];
    for (let i = 0; i < 20; i++) last = stream.receive(frame(1e9 + i));
    expect(last).toContainEqual({ type: "close", code: 1008, reason: "20 invalid frames in a row" });
  });

  it("answers late and duplicate frames without counting them as bad, and without forgiving bad ones", () => {
    const stream = new MediaApiStream(ID);
    stream.receive(frame(1));
    stream.receive(frame(2));
    for (let i = 0; i < 19; i++)
      expect(stream.receive("not json").some((o) => o.type === "close")).toBe(false);
    // A duplicate is answered, and is neither the 20th bad frame nor a good one that resets the run.
    const duplicate = stream.receive(frame(2));
    expect(errors(duplicate)).toEqual(["ERR_FRAME_DUPLICATE 2"]);
    expect(duplicate.some((o) => o.type === "close")).toBe(false);
    expect(stream.receive("not json")).toContainEqual({
      type: "close",
      code: 1008,
      reason: "20 invalid frames in a row",
    });
  });

  it("a good frame forgives the run", () => {
    const stream = new MediaApiStream(ID);
    stream.receive(frame(1));
    for (let i = 0; i < 19; i++) stream.receive("not json");
    stream.receive(frame(2));
    expect(stream.receive("not json").some((o) => o.type === "close")).toBe(false);
  });
});
