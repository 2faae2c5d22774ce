// The caller of the transcription-path bench (tools/bench/paths.ts): inside workerd, times the Worker's own
// client (src/forward/client.ts) sending PushAudio, 100 ms of both channels a call, over the public fetch or
// the TRANSCRIPTION_SERVICE binding, in Connect or gRPC-web.
import { create } from "@bufbuild/protobuf";
import { createTranscriptionClient, type TranscriptionProtocol } from "../../src/forward/client";
import { serviceFetch } from "../../src/forward/service-fetch";
import {
  AudioFormat,
  Channel,
  PushAudioRequestSchema,
} from "../../src/gen/langhook/transcription/v1/transcription_pb";

const AUDIO = new Uint8Array(1600); // 100 ms of L16 at 8 kHz

export default {
  async fetch(request: Request, env: object): Promise<Response> {
    const q = new URL(request.url).searchParams;
    const protocol = (q.get("protocol") ?? "connect") as TranscriptionProtocol;
    const samples = Number(q.get("samples") ?? 50);
    const perSample = Number(q.get("per") ?? 10);
    const warmup = Number(q.get("warmup") ?? 20);
    const client = createTranscriptionClient({
      baseUrl: q.get("url") ?? "",
      fetch: serviceFetch(q.get("via") === "binding" ? env : {}),
      protocol,
    });
    const sessionId = crypto.randomUUID();
    let sequence = 0;
    const push = () => {
      sequence += 1;
      return client.pushAudio(
        create(PushAudioRequestSchema, {
          sessionId,
          chunks: [Channel.EXTERNAL, Channel.INTERNAL].map((channel) => ({
            sessionId,
            conversationId: `bench-${sessionId}`,
            participantId: "bench",
            channel,
            sequenceNumber: BigInt(sequence),
            position: BigInt((sequence - 1) * 800),
            sampleRate: 8000,
            audioFormat: AudioFormat.L16,
            audioData: AUDIO,
            languageCode: "en-US",
          })),
        }),
      );
    };
    for (let i = 0; i < warmup; i++) await push();
    // workerd's clock moves with I/O, at 1 ms steps locally: each sample averages `perSample` calls.
    const out: number[] = [];
    for (let s = 0; s < samples; s++) {
      const started = performance.now();
      for (let i = 0; i < perSample; i++) {
        const res = await push();
        if (res.acks.length !== 2 || res.acks.some((a) => Number(a.sequenceNumber) !== sequence)) {
          return new Response(`call ${sequence} not acknowledged: ${JSON.stringify(res.acks)}`, {
            status: 500,
          });
        }
      }
      out.push((performance.now() - started) / perSample);
    }
    await client.flushSession({ sessionId, reason: 4, endSession: true });
    return Response.json(out);
  },
};
