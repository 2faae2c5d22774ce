// A transcription service that is another Worker in the same account, reached through the TRANSCRIPTION_SERVICE
// service binding (see vitest.config.ts: the binding points at transcription-worker.js, which relays to the
// development transcriber). TRANSCRIPTION_URL is unset in this project.

import { env } from "cloudflare:test";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { parseConfig, SERVICE_BINDING_URL } from "../../src/config";
import {
  createTranscriptionClient,
  type FetchLike,
  type TranscriptionProtocol,
} from "../../src/forward/client";
import { buildFlushRequest } from "../../src/forward/messages";
import { serviceFetch, usesServiceBinding } from "../../src/forward/service-fetch";
import {
  AudioFormat,
  Channel,
  PushAudioRequestSchema,
} from "../../src/gen/langhook/transcription/v1/transcription_pb";
import { encodeMulawSample } from "../../src/media/pcmu";
import { GenesysClient } from "../workers/genesys-client";

interface Relayed {
  calls: Record<string, number>;
  hosts: string[];
}

const binding = () => (env as unknown as { TRANSCRIPTION_SERVICE: Fetcher }).TRANSCRIPTION_SERVICE;

/** What the second worker relayed so far (asked through the binding itself). */
async function relayed(): Promise<Relayed> {
  return (await binding().fetch("https://transcription-service/binding/stats")).json();
}

/** The dev transcriber's counters for a session, reached through the relay like everything else. */
async function devStats(sessionId: string): Promise<{ ended: boolean; channels: Record<string, unknown> }> {
  const stats = (await (await binding().fetch("https://transcription-service/dev/stats")).json()) as {
    sessions: Record<string, { ended: boolean; channels: Record<string, unknown> }>;
  };
  const session = stats.sessions[sessionId];
  if (session === undefined) throw new Error(`the dev transcriber never saw ${sessionId}`);
  return session;
}

/** Stereo PCMU samples [from, from + count): a 200 Hz tone between `onSec` and `offSec` on both channels. */
function toneFrame(from: number, count: number, onSec: number, offSec: number): Uint8Array {
  const out = new Uint8Array(count * 2);
  for (let i = 0; i < count; i++) {
    const t = (from + i) / 8000;
    const s = t >= onSec && t < offSec ? Math.round(9000 * Math.sin(2 * Math.PI * 200 * t)) : 0;
    out[2 * i] = encodeMulawSample(s);
    out[2 * i + 1] = encodeMulawSample(s);
  }
  return out;
}

describe("the TRANSCRIPTION_SERVICE binding", () => {
  it("is found in the worker's env and makes forwarding configured without a URL", () => {
    expect(usesServiceBinding(env)).toBe(true);
    const config = parseConfig(env as unknown as Record<string, unknown>);
    expect(config).toMatchObject({ ok: true, config: { transcriptionUrl: SERVICE_BINDING_URL } });
  });

  it.each(["connect", "grpc-web"] as TranscriptionProtocol[])(
    "carries %s calls to the bound worker, never to the public URL",
    async (protocol) => {
      const servedBy: (string | null)[] = [];
      const viaBinding = serviceFetch(env);
      const recording: FetchLike = async (url, init) => {
        const res = await viaBinding(url, init);
        servedBy.push(res.headers.get("x-served-by"));
        return res;
      };
      const client = createTranscriptionClient({ baseUrl: SERVICE_BINDING_URL, fetch: recording, protocol });
      const sessionId = `binding-${protocol}-${crypto.randomUUID()}`;
      const before = await relayed();
      const pushed = await client.pushAudio(
        create(PushAudioRequestSchema, {
          sessionId,
          chunks: [
            {
              sessionId,
              channel: Channel.EXTERNAL,
              sequenceNumber: 1n,
              sampleRate: 8000,
              audioFormat: AudioFormat.L16,
              audioData: new Uint8Array(1600),
              languageCode: "es-ES",
            },
          ],
        }),
      );
      expect(pushed.acks.map((a) => [a.channel, a.sequenceNumber])).toEqual([[Channel.EXTERNAL, 1n]]);
      await client.flushSession(buildFlushRequest(sessionId, "closed", { endSession: true }));
      expect(servedBy).toEqual(["transcription-worker", "transcription-worker"]);
      const after = await relayed();
      const path = "/langhook.transcription.v1.TranscriptionService/PushAudio";
      expect((after.calls[path] ?? 0) - (before.calls[path] ?? 0)).toBe(1);
      expect(after.hosts).toContain("transcription-service");
      expect(await devStats(sessionId)).toMatchObject({
        ended: true,
        channels: { EXTERNAL: { samples: 800 } },
      });
    },
  );

  // End to end: a real call whose audio goes out through the binding (CallSession's client uses serviceFetch).
  it("delivers a real call's audio through the binding and returns its transcripts", async () => {
    const client = await GenesysClient.connect();
    client.open();
    await client.expect("opened");
    // 2 s of both channels, a speech-level tone from 0.3 to 1.5 s on each.
    for (let frame = 0; frame < 20; frame++) client.sendAudio(toneFrame(frame * 800, 800, 0.3, 1.5), 800);
    client.send("close", { reason: "end" });
    const transcripts: { channelId: number; transcript: string }[] = [];
    for (;;) {
      const item = await client.next(10_000);
      if (item.kind === "close") throw new Error(`closed early: ${item.code} ${item.reason}`);
      if (item.message.type === "closed") break;
      if (item.message.type !== "event") continue;
      for (const entity of item.message.parameters.entities as { data: Record<string, unknown> }[]) {
        const alternatives = entity.data.alternatives as { interpretations: { transcript: string }[] }[];
        transcripts.push({
          channelId: entity.data.channelId as number,
          transcript: alternatives[0]?.interpretations[0]?.transcript ?? "",
        });
      }
    }
    expect(transcripts.map((t) => t.channelId).sort()).toEqual([0, 1]);
    for (const t of transcripts) expect(t.transcript).toMatch(/^\[en-US speech 1\.\d\d s\]$/);
    const stats = await devStats(client.sessionId);
    expect(stats).toMatchObject({
      ended: true,
      channels: { EXTERNAL: { samples: 16_000, gaps: 0 }, INTERNAL: { samples: 16_000, gaps: 0 } },
    });
    expect(
      (await relayed()).calls["/langhook.transcription.v1.TranscriptionService/PushAudio"],
    ).toBeGreaterThan(0);
  });
});
