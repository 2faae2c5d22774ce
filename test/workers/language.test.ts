// Language tagging through a real call: synthesized Spanish, then French, on the customer channel.
// The chunks' tags reach the dev transcriber, whose results echo them back as each utterance's language.

import { describe, expect, inject, it } from "vitest";
import { GenesysClient } from "./genesys-client";

const clips = inject("speechClips");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** Stereo PCMU frames: the clip on the customer channel, silence (0xff) on the agent channel. */
function stereo(mono: Uint8Array): Uint8Array {
  const out = new Uint8Array(mono.length * 2).fill(0xff);
  mono.forEach((b, i) => {
    out[2 * i] = b;
  });
  return out;
}

function sendClip(client: GenesysClient, mono: Uint8Array, times: number): void {
  const pause = new Uint8Array(2400).fill(0xff); // 0.3 s between repetitions
  for (let t = 0; t < times; t++) {
    for (const part of [mono, pause]) {
      const frame = stereo(part);
      for (let at = 0; at < part.length; at += 800) {
        const n = Math.min(800, part.length - at);
        client.sendAudio(frame.subarray(2 * at, 2 * (at + n)), n);
      }
    }
  }
}

describe("language tagging in a call", () => {
  it("tags Spanish speech es-ES, then French speech fr-FR", async () => {
    const client = await GenesysClient.connect();
    // No configured language: the acoustic detector decides, among the languages customConfig allows.
    client.open({ language: undefined, customConfig: { languages: ["es-ES", "fr-FR"] } });
    await client.expect("opened");
    sendClip(client, bytes(clips.es), 3);
    sendClip(client, bytes(clips.fr), 5);
    client.send("close", { reason: "end" });
    const languages: string[] = [];
    for (;;) {
      const item = await client.next(10_000);
      if (item.kind === "close") throw new Error(`closed early: ${item.reason}`);
      if (item.message.type === "closed") break;
      if (item.message.type !== "event") continue;
      for (const entity of item.message.parameters.entities as {
        data: { channelId: number; alternatives: { languages: string[] }[] };
      }[]) {
        if (entity.data.channelId === 0) languages.push(entity.data.alternatives[0]?.languages[0] ?? "");
      }
    }
    const firm = languages.filter((l) => l !== "und");
    expect(firm[0]).toBe("es-ES");
    expect(firm.at(-1)).toBe("fr-FR");
    // One switch: Spanish utterances first, French after, never back.
    expect(firm.join(" ")).toMatch(/^(es-ES )*es-ES( fr-FR)+$/);
  }, 30_000);
});
