// A whole AudioHook call driven over a real WebSocket as Genesys drives it, inside workerd.

import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { GenesysClient, ORG_ID, pcmuStereo, ZERO_UUID } from "./genesys-client";

interface StoredSession {
  phase: string;
  clientSeq: number;
  serverSeq: number;
  positionSamples: number;
  receivedSamples: number;
  language: string | null;
  paused: boolean;
  probe: boolean;
}

function stubFor(sessionId: string) {
  return env.CALL_SESSION.get(env.CALL_SESSION.idFromName(sessionId));
}

async function storedSession(sessionId: string): Promise<StoredSession> {
  return runInDurableObject(stubFor(sessionId), (_instance, state) => {
    const row = state.storage.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = 'call'").one();
    return (JSON.parse(row.value) as { session: StoredSession }).session;
  });
}

describe("an AudioHook call", () => {
  it("runs open, audio, ping, pause/resume, update, discarded and close in order", async () => {
    const client = await GenesysClient.connect();
    client.open({ supportedLanguages: true });
    const opened = await client.expect("opened");
    expect(opened).toMatchObject({ version: "2", id: client.sessionId, seq: 1, clientseq: 1 });
    // The first supported offer, unchanged.
    expect(opened.parameters.media).toEqual([
      { type: "audio", format: "PCMU", channels: ["external", "internal"], rate: 8000 },
    ]);
    expect(opened.parameters.supportedLanguages).toContain("es-ES");
    for (const code of opened.parameters.supportedLanguages as string[])
      expect(code).toMatch(/^[a-z]{2,3}-[A-Za-z]{2,3}$/);

    for (let i = 0; i < 10; i++) client.sendAudio(pcmuStereo(100), 800);
    client.send("ping", { rtt: "PT0.05S" });
    const pong = await client.expect("pong");
    expect(pong).toMatchObject({ seq: 2, clientseq: 2, parameters: {} });

    client.send("paused");
    client.send("resumed", { start: client.position(), discarded: "PT0S" });
    client.send("update", { language: "es-ES" });
    client.sendAudio(pcmuStereo(200), 1600);
    client.send("discarded", { start: client.position(), discarded: "PT0.5S" });
    client.positionSamples += 4000;
    client.sendAudio(pcmuStereo(100), 800);
    client.send("ping");
    await client.expect("pong");

    const mid = await storedSession(client.sessionId);
    expect(mid).toMatchObject({
      phase: "open",
      clientSeq: 7,
      language: "es-ES",
      receivedSamples: 8000 + 1600 + 800,
      positionSamples: 8000 + 1600 + 4000 + 800,
      paused: false,
    });

    client.send("close", { reason: "end" });
    const closed = await client.expect("closed");
    expect(closed).toMatchObject({ clientseq: 8, parameters: {} });
    expect((await storedSession(client.sessionId)).phase).toBe("closed");
    client.ws.close(1000, "done");
  });

  it("chooses the first offer it supports and leaves it unchanged", async () => {
    const client = await GenesysClient.connect();
    const l16 = { type: "audio", format: "L16", channels: ["internal"], rate: 8000, extra: "kept" };
    client.open({
      media: [{ type: "audio", format: "OPUS", channels: ["external"], rate: 48000 }, l16],
    });
    const opened = await client.expect("opened");
    expect(opened.parameters.media).toEqual([l16]);
    expect(opened.parameters.supportedLanguages).toBeUndefined();
    const samples = new Int16Array([1000, -1000, 32767, -32768]);
    client.sendAudio(new Uint8Array(samples.buffer), 4);
    client.send("close", { reason: "end" });
    await client.expect("closed");
    expect((await storedSession(client.sessionId)).receivedSamples).toBe(4);
  });

  it("answers a probe connection with opened and closed", async () => {
    const client = await GenesysClient.connect({ path: "/api/v1/audiohook/ws" });
    client.open({ conversationId: ZERO_UUID, participant: { id: ZERO_UUID } });
    await client.expect("opened");
    expect((await storedSession(client.sessionId)).probe).toBe(true);
    client.send("close", { reason: "end" });
    await client.expect("closed");
  });

  it("continues a call after its Durable Object is evicted", async () => {
    const client = await GenesysClient.connect();
    client.open();
    await client.expect("opened");
    client.sendAudio(pcmuStereo(200), 1600);
    client.send("ping");
    await client.expect("pong");

    await evictDurableObject(stubFor(client.sessionId));

    client.sendAudio(pcmuStereo(200), 1600);
    client.send("ping");
    const pong = await client.expect("pong");
    // Sequence numbers carry on where they were: nothing restarted.
    expect(pong).toMatchObject({ seq: 3, clientseq: 3 });
    const state = await storedSession(client.sessionId);
    expect(state).toMatchObject({ phase: "open", receivedSamples: 3200, clientSeq: 3, serverSeq: 3 });
    client.send("close", { reason: "end" });
    await client.expect("closed");
  });

  it("keeps two concurrent calls apart, even when one of them misbehaves", async () => {
    const good = await GenesysClient.connect();
    const bad = await GenesysClient.connect();
    good.open({ language: "fr-FR" });
    bad.open({ language: "de-DE" });
    await good.expect("opened");
    await bad.expect("opened");
    good.sendAudio(pcmuStereo(100), 800);
    bad.sendRaw("{not json");
    good.sendAudio(pcmuStereo(100), 800);
    await bad.expectDisconnect("error", /not valid JSON/);
    good.send("ping");
    await good.expect("pong");
    const [goodState, badState] = [await storedSession(good.sessionId), await storedSession(bad.sessionId)];
    expect(goodState).toMatchObject({ phase: "open", receivedSamples: 1600, language: "fr-FR" });
    expect(badState.phase).toBe("disconnecting");
    good.send("close", { reason: "end" });
    await good.expect("closed");
  });

  it("answers close with closed after its own disconnect, then closes the socket", async () => {
    const client = await GenesysClient.connect();
    client.open({ organizationId: "11111111-2222-4333-8444-555555555555" });
    await client.expectDisconnect("unauthorized", /organizationId/);
    client.send("close", { reason: "disconnect" });
    await client.expect("closed");
    const closed = await client.expectClose();
    expect(closed.code).toBe(1000);
  });

  it("refuses a second upgrade for a session id that is in use", async () => {
    const client = await GenesysClient.connect();
    await expect(GenesysClient.connect({ sessionId: client.sessionId })).rejects.toThrow(/409/);
    client.open();
    await client.expect("opened");
    expect(ORG_ID).toBeTruthy();
  });
});
