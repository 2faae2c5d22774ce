// What the worker tells a CallSession about an authenticated upgrade.

import type { Endpoint } from "../audiohook/session";

export const CALL_HEADER = "x-langhook-call";

export interface CallHandoff {
  sessionId: string;
  organizationId: string;
  correlationId: string;
  endpoint: Endpoint;
  /** The signature's nonce and until when (Unix seconds) a second use of it must be refused. */
  nonce: { value: string; expiresAt: number } | null;
}
