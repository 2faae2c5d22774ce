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
import { GenesysClient, pcmuStereo } from "../workers/genesys-client";

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

  // End to end: a real call whose audio goes out through the binding. Needs CallSession's pipeline host to
  // use `fetch: serviceFetch(this.env)` instead of the global fetch (the lead wires it; then drop `.skip`).
  it.skip("delivers a real call's audio through the binding and returns its transcripts", async () => {
    const client = await GenesysClient.connect();
    client.open();
    await client.expect("opened");
    for (let i = 0; i < 20; i++) client.sendAudio(pcmuStereo(100), 800);
    client.send("close", { reason: "end" });
    await client.expect("closed", 10_000);
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
