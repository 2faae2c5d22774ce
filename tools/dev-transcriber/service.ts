// The TranscriptionService implementation of the development server: auth and faults first, then the
// sessions do the work. Every RPC of the contract is served.
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  type AudioChunk,
  Channel,
  FlushReason,
  TranscriptionService,
} from "../../src/gen/langhook/transcription/v1/transcription_pb.js";
import type { FaultPlan } from "./faults.js";
import { DevSession, type SessionOptions } from "./session.js";

export type Log = (event: string, fields?: Record<string, unknown>) => void;

/** Per-call language override: the session reports this language whatever the audio's tag. */
export const reportLanguageHeader = "x-dev-report-language";

export interface ServiceState {
  sessions: Map<string, DevSession>;
  faults: FaultPlan;
  log: Log;
  sessionOptions: SessionOptions;
  /** Per session, set through the control endpoint before or during the session. */
  languageOverrides: Map<string, string>;
  calls: Record<string, number>;
  /** Calls by wire protocol ("connect", "grpc", "grpc-web"), told apart by content type. */
  protocols: Record<string, number>;
  /** Expected bearer token; undefined accepts any call. */
  token: string | undefined;
  /** Called when a session ends (records it, schedules forgetting it). */
  onSessionEnd: (session: DevSession) => void;
}

export function transcriptionRoutes(state: ServiceState) {
  return (router: ConnectRouter) =>
    router.service(TranscriptionService, {
      async pushAudio(req, ctx) {
        guard(state, "PushAudio", ctx, req.sessionId);
        for (const chunk of req.chunks) validateChunk(chunk, req.sessionId);
        const session = sessionFor(state, req.sessionId, ctx);
        if (session.ended)
          throw new ConnectError(`session ${req.sessionId} has ended`, Code.FailedPrecondition);
        if (req.continuedSessionIds.length > 0) session.continues = [...req.continuedSessionIds];
        const touched = new Set<Channel>();
        for (const chunk of req.chunks) {
          touched.add(chunk.channel);
          accept(state, session, chunk);
        }
        if (req.endOfUtterance) session.flush(touched);
        const results = session.resultsAfter(Number(req.lastResultSequenceNumber));
        state.log("push", { session: session.id, chunks: req.chunks.length, results: results.length });
        state.faults.checkAfter("PushAudio", req.sessionId);
        return { acks: session.acks(), results };
      },

      async flushSession(req, ctx) {
        guard(state, "FlushSession", ctx, req.sessionId);
        if (req.sessionId === "") throw new ConnectError("session_id is required", Code.InvalidArgument);
        const session = state.sessions.get(req.sessionId);
        // An unknown (or forgotten) session has nothing left to report: answering keeps a retry harmless.
        if (session === undefined) return { acks: [], results: [] };
        if (req.continuedSessionIds.length > 0) session.continues = [...req.continuedSessionIds];
        session.flush();
        const results = session.resultsAfter(Number(req.lastResultSequenceNumber));
        state.log("flush", {
          session: session.id,
          reason: FlushReason[req.reason],
          end: req.endSession,
          results: results.length,
        });
        if (req.endSession && !session.ended) {
          session.ended = true;
          state.onSessionEnd(session);
        }
        return { acks: session.acks(), results };
      },

      async *streamAudio(requests, ctx) {
        guard(state, "StreamAudio", ctx);
        let session: DevSession | undefined;
        for await (const chunk of requests) {
          validateChunk(chunk, session?.id ?? chunk.sessionId);
          session ??= sessionFor(state, chunk.sessionId, ctx);
          accept(state, session, chunk);
          yield* session.takeForStream();
        }
        if (session === undefined) return;
        // The client closed its side: the call is over, its last utterances are final.
        session.flush();
        state.log("stream-end", { session: session.id });
        yield* session.takeForStream();
      },
    });
}

/** application/grpc-web[+proto|+json], application/grpc[+...], else Connect (application/proto, /json, /connect+...). */
function protocolOf(contentType: string): "connect" | "grpc" | "grpc-web" {
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

function guard(state: ServiceState, method: string, ctx: HandlerContext, sessionId?: string): void {
  state.calls[method] = (state.calls[method] ?? 0) + 1;
  const protocol = protocolOf(ctx.requestHeader.get("content-type") ?? "");
  state.protocols[protocol] = (state.protocols[protocol] ?? 0) + 1;
  if (state.token !== undefined && ctx.requestHeader.get("authorization") !== `Bearer ${state.token}`) {
    state.log("unauthenticated", { method });
    throw new ConnectError("missing or wrong bearer token", Code.Unauthenticated);
  }
  try {
    state.faults.check(method, sessionId);
  } catch (err) {
    state.log("fault", { method, code: Code[ConnectError.from(err).code] });
    throw err;
  }
}

function validateChunk(chunk: AudioChunk, sessionId: string): void {
  if (sessionId === "") throw new ConnectError("session_id is required", Code.InvalidArgument);
  if (chunk.sessionId !== "" && chunk.sessionId !== sessionId) {
    throw new ConnectError("chunks of one call must belong to one session", Code.InvalidArgument);
  }
  if (chunk.channel === Channel.UNSPECIFIED)
    throw new ConnectError("channel is required", Code.InvalidArgument);
  if (chunk.sequenceNumber < 1n) throw new ConnectError("sequence_number starts at 1", Code.InvalidArgument);
}

function sessionFor(state: ServiceState, id: string, ctx: HandlerContext): DevSession {
  let session = state.sessions.get(id);
  if (session === undefined) {
    session = new DevSession(id, state.sessionOptions);
    state.sessions.set(id, session);
    state.log("session-start", { session: id });
  }
  const override = ctx.requestHeader.get(reportLanguageHeader) ?? state.languageOverrides.get(id);
  if (override) session.reportLanguage = override;
  return session;
}

function accept(state: ServiceState, session: DevSession, chunk: AudioChunk): void {
  const { outcome, missing } = session.accept(chunk);
  if (outcome === "processed") return;
  state.log(outcome, {
    session: session.id,
    channel: Channel[chunk.channel],
    sequence: Number(chunk.sequenceNumber),
    ...(outcome === "gap" ? { missing } : {}),
  });
}
