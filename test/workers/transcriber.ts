// Talks to the development transcription server started by global-setup: its stats and fault controls.

import { env } from "cloudflare:test";
import type { ChannelStats } from "../../tools/dev-transcriber/session";

const base = () => (env as unknown as { TRANSCRIPTION_URL: string }).TRANSCRIPTION_URL;

export interface SessionStats {
  ended: boolean;
  results: number;
  continues: string[];
  channels: Record<string, ChannelStats>;
}

export async function sessionStats(sessionId: string): Promise<SessionStats | undefined> {
  const stats = (await (await fetch(`${base()}/dev/stats`)).json()) as {
    sessions: Record<string, SessionStats>;
  };
  return stats.sessions[sessionId];
}

export async function injectFault(fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${base()}/dev/faults`, { method: "POST", body: JSON.stringify(fault) });
  if (!response.ok) throw new Error(`fault refused: ${await response.text()}`);
}
