// With TRANSCRIPTION_PROTOCOL=grpc-web the worker's calls reach the service as gRPC-web, none as Connect
// (this project also runs test/workers/forwarding.test.ts in that mode: outage, backoff, refused token).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { GenesysClient, pcmuStereo } from "../workers/genesys-client";
import { sessionStats } from "../workers/transcriber";

async function protocols(): Promise<Record<string, number>> {
  const url = (env as unknown as { TRANSCRIPTION_URL: string }).TRANSCRIPTION_URL;
  return ((await (await fetch(`${url}/dev/stats`)).json()) as { protocols: Record<string, number> })
    .protocols;
}

describe("TRANSCRIPTION_PROTOCOL=grpc-web", () => {
  it("sends a call's audio as gRPC-web and gets it all acknowledged", async () => {
    const before = await protocols();
    const client = await GenesysClient.connect();
    client.open();
    await client.expect("opened");
    for (let i = 0; i < 10; i++) client.sendAudio(pcmuStereo(100), 800);
    client.send("close", { reason: "end" });
    await client.expect("closed", 10_000);
    const after = await protocols();
    expect((after["grpc-web"] ?? 0) - (before["grpc-web"] ?? 0)).toBeGreaterThan(0);
    expect(after.connect ?? 0).toBe(before.connect ?? 0);
    const stats = await sessionStats(client.sessionId);
    expect(stats).toMatchObject({ ended: true, channels: { EXTERNAL: { samples: 8000, gaps: 0 } } });
  });
});
