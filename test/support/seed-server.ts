// An independent server of the seed's contract (transcription.TranscriptionService/StreamAudio), written with
// @grpc/grpc-js: a different gRPC implementation from the bridge's connect-node client, as a user's service
// would be. It acknowledges every chunk it processes (a result with empty text), sends a text result every
// `textEvery` chunks and at the end of a stream, deduplicates by sequence across streams (resume), and can
// refuse, break streams and go down on request.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

interface Chunk {
  conversation_id: string;
  participant_id: string;
  audio_data: Buffer;
  language_code: string;
  sequence_number: number;
  sample_rate: number;
  audio_format: string;
}

interface Result {
  conversation_id: string;
  text: string;
  language_confidence: string;
  sequence_number: number;
}

export interface SeedStreamState {
  /** Sequences processed, in the order processed (each at most once). */
  processed: number[];
  /** Chunks received again after being processed (resends after a break), ignored. */
  duplicates: number;
  bytes: number;
  formats: Set<string>;
  languages: Set<string>;
  /** First processed chunk not yet covered by a text result: kept across streams, as a resuming service would. */
  since: number | undefined;
}

export interface SeedServer {
  url: string;
  port: number;
  /** Per "conversation/participant". */
  streams: Map<string, SeedStreamState>;
  /** Streams opened (refused ones included). */
  opened: number;
  /** The next `n` streams are refused with RESOURCE_EXHAUSTED and retry-after-ms. */
  refuse(n: number, retryAfterMs: number): void;
  /** The next `n` streams are refused with this code (e.g. UNAUTHENTICATED). */
  reject(n: number, code: grpc.status): void;
  /** The stream fails with UNAVAILABLE when it receives this sequence of this participant (once). */
  breakAt(participant: string, sequence: number): void;
  /** This participant's next stream fails with UNAVAILABLE when the client half-closes it, before its last text. */
  breakAtEnd(participant: string): void;
  /** Stops listening and kills open streams; `start()` listens again on the same port with the same state. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const PROTO = fileURLToPath(new URL("../../proto/seed/transcription.proto", import.meta.url));

export async function startSeedServer(
  options: {
    port?: number;
    textEvery?: number;
    language?: string;
    /** PEM certificate and key: serve gRPC over TLS (the URL is then https://). */
    tls?: { cert: Buffer; key: Buffer };
  } = {},
): Promise<SeedServer> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    transcription: { TranscriptionService: grpc.ServiceClientConstructor };
  };
  const textEvery = options.textEvery ?? 5;
  const streams = new Map<string, SeedStreamState>();
  const refusals: { code: grpc.status; retryAfterMs?: number }[] = [];
  const breaks = new Set<string>();
  let opened = 0;

  const streamAudio = (call: grpc.ServerDuplexStream<Chunk, Result>) => {
    opened += 1;
    const refusal = refusals.shift();
    if (refusal !== undefined) {
      const metadata = new grpc.Metadata();
      if (refusal.retryAfterMs !== undefined) metadata.set("retry-after-ms", String(refusal.retryAfterMs));
      call.emit("error", { code: refusal.code, details: "refused by the test", metadata });
      return;
    }
    let state: SeedStreamState | undefined;
    let conversation = "";
    let failed = false;
    let participant: string | undefined;
    const text = (to: number) => {
      if (state?.since === undefined) return;
      call.write({
        conversation_id: conversation,
        text: `words ${state.since}-${to}`,
        language_confidence: options.language ?? "",
        sequence_number: to,
      });
      state.since = undefined;
    };
    call.on("data", (chunk: Chunk) => {
      if (failed) return;
      const key = `${chunk.conversation_id}/${chunk.participant_id}`;
      conversation = chunk.conversation_id;
      participant = chunk.participant_id;
      state ??= streams.get(key);
      if (state === undefined) {
        state = {
          processed: [],
          duplicates: 0,
          bytes: 0,
          formats: new Set(),
          languages: new Set(),
          since: undefined,
        };
        streams.set(key, state);
      }
      const seq = chunk.sequence_number;
      const done = state.processed.at(-1) ?? 0;
      if (seq <= done) {
        state.duplicates += 1;
        call.write({
          conversation_id: conversation,
          text: "",
          language_confidence: "",
          sequence_number: done,
        });
        return;
      }
      const breakKey = `${chunk.participant_id}/${seq}`;
      if (breaks.delete(breakKey)) {
        failed = true;
        call.emit("error", { code: grpc.status.UNAVAILABLE, details: "stream broken by the test" });
        return;
      }
      state.processed.push(seq);
      state.bytes += chunk.audio_data.length;
      state.formats.add(chunk.audio_format);
      state.languages.add(chunk.language_code);
      state.since ??= seq;
      if (seq - state.since + 1 >= textEvery) text(seq);
      else
        call.write({
          conversation_id: conversation,
          text: "",
          language_confidence: "",
          sequence_number: seq,
        });
    });
    call.on("end", () => {
      if (failed) return;
      if (participant !== undefined && breaks.delete(`${participant}/end`)) {
        call.emit("error", {
          code: grpc.status.UNAVAILABLE,
          details: "stream broken at its end by the test",
        });
        return;
      }
      // The text of the utterance in progress covers up to the last chunk processed, on this stream or before.
      const last = state?.processed.at(-1);
      if (last !== undefined) text(last);
      call.end();
    });
    call.on("error", () => {});
  };

  const credentials =
    options.tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(null, [
          { cert_chain: options.tls.cert, private_key: options.tls.key },
        ]);
  let server: grpc.Server | null = null;
  let port = options.port ?? 0;
  const start = async () => {
    const s = new grpc.Server();
    s.addService(proto.transcription.TranscriptionService.service, { StreamAudio: streamAudio });
    port = await new Promise<number>((resolve, reject) =>
      s.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    server = s;
  };
  const stop = async () => {
    server?.forceShutdown();
    server = null;
  };
  await start();
  return {
    url: `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
    port,
    streams,
    get opened() {
      return opened;
    },
    refuse: (n, retryAfterMs) => {
      for (let i = 0; i < n; i++) refusals.push({ code: grpc.status.RESOURCE_EXHAUSTED, retryAfterMs });
    },
    reject: (n, code) => {
      for (let i = 0; i < n; i++) refusals.push({ code });
    },
    breakAt: (participant, sequence) => {
      breaks.add(`${participant}/${sequence}`);
    },
    breakAtEnd: (participant) => {
      breaks.add(`${participant}/end`);
    },
    stop,
    start,
    close: stop,
  };
}
