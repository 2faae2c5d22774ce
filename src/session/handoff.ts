// What the worker tells a CallSession about an authenticated upgrade.

import type { Endpoint } from "../audiohook/session";

export const CALL_HEADER = "x-langhook-call";

export type CallHandoff =
  | {
      protocol: "audiohook";
      sessionId: string;
      organizationId: string;
      correlationId: string;
      endpoint: Endpoint;
      /** The signature's nonce and until when (Unix seconds) a second use of it must be refused. */
      nonce: { value: string; expiresAt: number } | null;
    }
  | {
      protocol: "media-api";
      conversationId: string;
      participantId: string;
      /** Configured language of the stream (query `language`), if any. */
      language: string | null;
    };

/** The name a media-api stream has (its object's key, and its session id downstream). */
export function mediaApiSessionId(conversationId: string, participantId: string): string {
  return `media-api:${conversationId}:${participantId}`;
}
