// With a 1 s outbox and the service down, a call that keeps streaming is ended with a reason, and the
// audio accepted before the bound is still delivered once the service is back: nothing is dropped silently.

import { describe, expect, it } from "vitest";
import { GenesysClient, pcmuStereo } from "../workers/genesys-client";
import { injectFault, sessionStats } from "../workers/transcriber";

describe("the outbox bound", () => {
  it("ends the call with a clear reason instead of dropping audio, and delivers what it accepted", async () => {
    const client = await GenesysClient.connect();
    client.open();
    await client.expect("opened");
    await injectFault({ kind: "unavailable", forMs: 1500, sessions: [client.sessionId] });
    for (let i = 0; i < 30; i++) client.sendAudio(pcmuStereo(100), 800);
    await client.expectDisconnect("error", /too far behind: buffered audio reached its limit/);
    client.send("close", { reason: "disconnect" });
    await client.expect("closed", 10_000);

    // Once the outage is over the accepted second of each channel arrives, in order, without gaps.
    let external: { samples: number; gaps: number } | undefined;
    for (let tries = 0; tries < 40 && (external?.samples ?? 0) < 8000; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const stats = await sessionStats(client.sessionId);
      external = stats?.channels.EXTERNAL ?? stats?.channels.external;
    }
    expect(external?.samples).toBe(8000);
    expect(external?.gaps).toBe(0);
  }, 20_000);
});
