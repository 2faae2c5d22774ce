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
      /** Null when the upgrade did not name the stream: its first frame will. */
      conversationId: string | null;
      participantId: string | null;
      /** Configured language of the stream (query `language`), if any. */
      language: string | null;
      /** Set for a connection whose stream is named by its frames (its own object). */
      connectionId?: string;
    };

/**
 * The name a media-api stream has (its object's key, and its session id downstream). A stream named by
 * its frames lives in an object per connection, so its downstream session is per connection too.
 */
export function mediaApiSessionId(
  conversationId: string,
  participantId: string,
  connectionId?: string,
): string {
  const id = `media-api:${conversationId}:${participantId}`;
  return connectionId ? `${id}:${connectionId}` : id;
}
