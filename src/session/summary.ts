// The one line a call ends with, as a value: what an operator needs to see how it went. CallSession logs
// it (event "call-summary") and hands it to the metrics writer (Workers Analytics Engine, when bound).

import type { LatencySummary } from "../forward/latency";

export interface ChannelLanguageSummary {
  /** BCP-47 tag the channel's audio was last tagged with ("und" when never known). */
  language: string;
  confidence: number;
  provisional: boolean;
  /** What decided it: "engine", "text", "configured", "acoustic" or "none". */
  source: string;
  /** Seconds of the channel's audio before the tag first stopped being provisional (null: never). */
  confidentAfterSeconds: number | null;
}

export interface CallSummary {
  sessionId: string;
  conversationId: string | null;
  organizationId: string | null;
  /** "transcription" or "monitor" (AudioHook), "media-api", or null before the call said. */
  endpoint: string | null;
  durationMs: number;
  channels: number;
  /** Channel-audio seconds received (both channels of a stereo second count two). */
  audioSeconds: number;
  /** Channel-audio seconds the transcription service acknowledged. */
  acknowledgedSeconds: number;
  /** Per channel name ("external", "internal"); null when nothing was forwarded. */
  languages: Record<string, ChannelLanguageSummary> | null;
  /** Transcript results received from the service (sent to Genesys on the Transcription Connector). */
  transcripts: number;
  requests: number;
  retries: number;
  /** Most channel-audio seconds held unacknowledged at once. */
  outboxPeakSeconds: number;
  rowsWritten: number;
  /** closed, socket-closed, orphaned, disconnect:<reason>, forwarding:<ERR_CODE> */
  endReason: string;
  /** Frame arrival to acknowledgement by the service; null when nothing was forwarded. */
  ackLatencyMs: LatencySummary | null;
  /** Session ids this call continues (AudioHook `continuedSessions` that were accepted). */
  continues: string[];
}
