// Bad input on an open call: each case ends that call with a disconnect naming the problem, then a close.

import { describe, expect, it } from "vitest";
import { GenesysClient, pcmuStereo } from "./genesys-client";

async function openedCall(parameters: Record<string, unknown> = {}): Promise<GenesysClient> {
  const client = await GenesysClient.connect();
  client.open(parameters);
  await client.expect("opened");
  return client;
}

async function expectErrorAndClose(client: GenesysClient, info: RegExp): Promise<void> {
  await client.expectDisconnect("error", info);
  const closed = await client.expectClose();
  expect(closed.code).toBe(1008);
}

describe("bad input", () => {
  it("malformed JSON", async () => {
    const client = await openedCall();
    client.sendRaw('{"version": "2",');
    await expectErrorAndClose(client, /not valid JSON/);
  });

  it("an unknown message type", async () => {
    const client = await openedCall();
    client.send("dance");
    await expectErrorAndClose(client, /unknown message type "dance"/);
  });

  it("a wrong version", async () => {
    const client = await GenesysClient.connect();
    client.send("open", {}, { version: "1" });
    await expectErrorAndClose(client, /unsupported protocol version "1"/);
  });

  it("a wrong session id", async () => {
    const client = await openedCall();
    client.send("ping", {}, { id: crypto.randomUUID() });
    await expectErrorAndClose(client, /is not this session's id/);
  });

  it("an out-of-order seq", async () => {
    const client = await openedCall();
    client.seq += 1;
    client.send("ping");
    await expectErrorAndClose(client, /out-of-order seq: expected 2, got 3/);
  });

  it("a serverseq ahead of what the server sent", async () => {
    const client = await openedCall();
    client.send("ping", {}, { serverseq: 9 });
    await expectErrorAndClose(client, /serverseq 9 is ahead/);
  });

  it("missing parameters", async () => {
    const client = await GenesysClient.connect();
    client.send("open", { organizationId: "d7934305-0972-4844-938e-9060eef73d05" });
    await expectErrorAndClose(client, /open\.parameters\.conversationId/);
  });

  it("mistyped parameters", async () => {
    const client = await GenesysClient.connect();
    client.open({ media: [{ type: "audio", format: "PCMU", channels: ["external"], rate: "8000" }] });
    await expectErrorAndClose(client, /open\.parameters\.media\[0\]\.rate/);
  });

  it("a malformed duration", async () => {
    const client = await openedCall();
    client.send("ping", {}, { position: "12 seconds" });
    await expectErrorAndClose(client, /message\.position: expected a duration/);
  });

  it("an infinite position (PT + 400 nines + S)", async () => {
    const client = await openedCall();
    client.send("ping", {}, { position: `PT${"9".repeat(400)}S` });
    await expectErrorAndClose(client, /message\.position: expected a duration of at most PT86400S \(24 h\)/);
  });

  it("a discarded span no call can have (PT3000000000000000S)", async () => {
    const client = await openedCall();
    client.send("discarded", { start: "PT0S", discarded: "PT3000000000000000S" });
    await expectErrorAndClose(
      client,
      /discarded\.parameters\.discarded: expected a duration of at most PT86400S/,
    );
  });

  it("a discarded span that ends past 24 h of timeline", async () => {
    const client = await openedCall();
    client.send("discarded", { start: "PT80000S", discarded: "PT10000S" });
    await expectErrorAndClose(client, /discarded reaches 90000 s, past the 24 h maximum/);
  });

  it("no supported media offered", async () => {
    const client = await GenesysClient.connect();
    client.open({ media: [{ type: "audio", format: "OPUS", channels: ["external"], rate: 48000 }] });
    await expectErrorAndClose(client, /no supported media/);
  });

  it("audio before open", async () => {
    const client = await GenesysClient.connect();
    client.sendAudio(pcmuStereo(20), 160);
    await expectErrorAndClose(client, /audio received before open/);
  });

  it("audio after closed: no disconnect after closed, the socket just closes", async () => {
    const client = await openedCall();
    client.send("close", { reason: "end" });
    await client.expect("closed");
    client.sendAudio(pcmuStereo(20), 160);
    client.send("ping");
    // The call is over and answered: nothing more is sent, not a disconnect, not a pong.
    const next = await client.next();
    expect(next).toEqual({ kind: "close", code: 1000, reason: "closed" });
  });

  it("a frame whose length does not fit the format", async () => {
    const client = await openedCall();
    client.sendAudio(new Uint8Array(161), 80);
    await expectErrorAndClose(client, /161 bytes is not a whole number of PCMU 2-channel samples/);
  });

  it("an odd-length L16 frame", async () => {
    const client = await openedCall({
      media: [{ type: "audio", format: "L16", channels: ["external"], rate: 8000 }],
    });
    client.sendAudio(new Uint8Array(3), 1);
    await expectErrorAndClose(client, /not a whole number of L16 1-channel samples/);
  });

  it("an oversize frame (more than 1 s of audio)", async () => {
    const client = await openedCall();
    client.sendAudio(pcmuStereo(1100), 8800);
    await expectErrorAndClose(client, /8800 samples per channel; the limit is 8000/);
  });

  it("an oversize text message (over 64 KiB)", async () => {
    const client = await openedCall();
    client.send("ping", { padding: "x".repeat(70 * 1024) });
    await expectErrorAndClose(client, /exceeds the 64 KiB limit/);
  });

  it("audio while paused", async () => {
    const client = await openedCall();
    client.send("paused");
    client.sendAudio(pcmuStereo(20), 160);
    await expectErrorAndClose(client, /while the stream is paused/);
  });

  it("a position that goes backwards", async () => {
    const client = await openedCall();
    client.sendAudio(pcmuStereo(500), 4000);
    client.send("ping", {}, { position: "PT0.1S" });
    await expectErrorAndClose(client, /position PT0.1S is behind the PT0.5S of audio received/);
  });

  it("a second open", async () => {
    const client = await openedCall();
    client.open();
    await expectErrorAndClose(client, /second open/);
  });
});
