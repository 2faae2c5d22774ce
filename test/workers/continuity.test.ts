// A call Genesys reconnects (open with continuedSessions) continues its predecessor: the channel's
// confident language carries over to the first chunks, the predecessor is finished, and the service is
// told which session this one continues. A continued session of another conversation is ignored.

import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { GenesysClient, type ServerMessage } from "./genesys-client";
import { sessionStats } from "./transcriber";

const clips = inject("speechClips");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const stubFor = (id: string) => env.CALL_SESSION.get(env.CALL_SESSION.idFromName(id));

/** Stereo PCMU frames of 100 ms: the clip on the customer channel, silence on the agent's. */
function sendMono(client: GenesysClient, mono: Uint8Array): void {
  for (let at = 0; at < mono.length; at += 800) {
    const part = mono.subarray(at, Math.min(at + 800, mono.length));
    const frame = new Uint8Array(part.length * 2).fill(0xff);
    part.forEach((b, i) => {
      frame[2 * i] = b;
    });
    client.sendAudio(frame, part.length);
  }
}

/** The next message of `type`, skipping the transcript events that may come first. */
async function awaitType(client: GenesysClient, type: string): Promise<ServerMessage> {
  for (;;) {
    const item = await client.next(10_000);
    if (item.kind === "close") throw new Error(`closed early: ${item.reason}`);
    if (item.message.type === type) return item.message;
    if (item.message.type !== "event") throw new Error(`expected ${type}, got ${item.message.type}`);
  }
}

async function closeCall(client: GenesysClient): Promise<ServerMessage[]> {
  client.send("close", { reason: "end" });
  const seen: ServerMessage[] = [];
  for (;;) {
    const item = await client.next(10_000);
    if (item.kind === "close") throw new Error(`closed early: ${item.reason}`);
    seen.push(item.message);
    if (item.message.type === "closed") return seen;
  }
}

type Summary = Record<string, { language: string; provisional: boolean }> | null;
const languagesOf = (id: string) =>
  runInDurableObject(stubFor(id), (instance) => {
    const f = (instance as unknown as { forwarderInstance?: { languageSummary(): Summary } })
      .forwarderInstance;
    return f?.languageSummary() ?? null;
  });

describe("a call that continues another (Genesys reconnected it)", () => {
  it("carries the confident language over, finishes the predecessor and names it downstream", async () => {
    const conversationId = crypto.randomUUID();
    const config = { language: undefined, customConfig: { languages: ["es-ES", "fr-FR"] }, conversationId };
    const first = await GenesysClient.connect();
    first.open(config);
    await first.expect("opened");
    const spanish = bytes(clips.es);
    for (let i = 0; i < 4; i++) sendMono(first, spanish);
    first.send("ping");
    await awaitType(first, "pong");
    expect((await languagesOf(first.sessionId))?.external).toMatchObject({
      language: "es-ES",
      provisional: false,
    });

    // A deploy restarts the object: the socket is gone without a close event, mid-utterance.
    await runInDurableObject(stubFor(first.sessionId), (_i, state) => {
      for (const ws of state.getWebSockets()) ws.close(1012, "restart");
    });

    const second = await GenesysClient.connect();
    second.open({
      ...config,
      continuedSessions: [{ id: first.sessionId, serverseq: first.serverseq, clientseq: first.seq }],
    });
    await second.expect("opened");
    sendMono(second, spanish.subarray(0, 4000));
    await closeCall(second);

    const stats = await sessionStats(second.sessionId);
    expect(stats?.channels.EXTERNAL?.firstLanguage ?? stats?.channels.external?.firstLanguage).toBe("es-ES");
    expect(stats?.continues).toEqual([first.sessionId]);
    // The predecessor was finished as if its client had gone: its session downstream has ended.
    expect((await sessionStats(first.sessionId))?.ended).toBe(true);
    const phase = await runInDurableObject(
      stubFor(first.sessionId),
      (instance) => (instance as unknown as { record: { session: { phase: string } } }).record.session.phase,
    );
    expect(phase).toBe("closed");
  }, 30_000);

  it("ignores a continued session of another conversation, without failing the call", async () => {
    const first = await GenesysClient.connect();
    first.open({ language: undefined, customConfig: { languages: ["es-ES", "fr-FR"] } });
    await first.expect("opened");
    sendMono(first, bytes(clips.es));
    first.send("ping");
    await awaitType(first, "pong");

    const other = await GenesysClient.connect();
    other.open({ continuedSessions: [{ id: first.sessionId, serverseq: 1, clientseq: 1 }] });
    await other.expect("opened");
    sendMono(other, bytes(clips.es).subarray(0, 4000));
    const messages = await closeCall(other);
    expect(messages.map((m) => m.type)).not.toContain("disconnect");
    expect((await sessionStats(other.sessionId))?.continues).toEqual([]);
    // The other conversation's call goes on untouched.
    first.send("ping");
    await awaitType(first, "pong");
    await closeCall(first);
  }, 30_000);
});
