// A whole call's Analytics Engine points, written when it ends (CallSession hands its CallSummary to
// writeCallMetrics): read back through the recording CALL_METRICS binding.

import { beforeEach, describe, expect, it } from "vitest";
import { GenesysClient, ORG_ID, pcmuStereo } from "../workers/genesys-client";
import { field, recorder, written } from "./recorder";

beforeEach(async () => {
  await recorder.clear();
});

describe("a call's metrics", () => {
  it("writes one call point and one ack-latency point when the call ends, in the documented columns", async () => {
    const client = await GenesysClient.connect();
    client.open();
    await client.expect("opened");
    for (let i = 0; i < 10; i++) client.sendAudio(pcmuStereo(100), 800);
    client.send("close", { reason: "end" });
    await client.expect("closed", 10_000);
    client.ws.close(1000, "done");

    const calls = await written("call", 1, 5000);
    expect(calls).toHaveLength(1);
    const call = calls[0];
    expect(call?.indexes).toEqual([ORG_ID]);
    expect(field(call, "call", "session")).toBe(client.sessionId);
    expect(field(call, "call", "endpoint")).toBe("transcription");
    expect(field(call, "call", "organization")).toBe(ORG_ID);
    expect(field(call, "call", "end_reason")).toBe("closed");
    expect(field(call, "call", "channels")).toBe(2);
    // Ten 100 ms stereo frames: 2 channel-seconds, all acknowledged by the development transcriber.
    expect(field(call, "call", "audio_s")).toBe(2);
    expect(field(call, "call", "acknowledged_s")).toBe(2);
    expect(field(call, "call", "requests")).toBeGreaterThan(0);
    expect(field(call, "call", "rows_written")).toBeGreaterThan(0);
    const acks = field(call, "call", "ack_count") as number;
    expect(acks).toBeGreaterThan(0);
    expect(field(call, "call", "ack_p99_ms")).toBeGreaterThanOrEqual(
      field(call, "call", "ack_p50_ms") as number,
    );

    const [latency] = await written("ack-latency", 1);
    expect(field(latency, "ack-latency", "session")).toBe(client.sessionId);
    expect(field(latency, "ack-latency", "ack_count")).toBe(acks);
    const cumulative = latency?.doubles?.slice(0, -1) ?? [];
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b));
    expect(cumulative.at(-1)).toBeLessThanOrEqual(acks);

    // Once: nothing more is written for the call afterwards.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await recorder.points()).map((p) => p.blobs?.[0])).toEqual(["call", "ack-latency"]);
  });
});
