// worker → bridge → seed-contract gRPC service, end to end: a Genesys-like client streams a call into the
// worker (inside workerd), whose TRANSCRIPTION_URL is tools/bridge, which forwards each channel to an
// independent @grpc/grpc-js server of the seed's contract. Each chunk must reach the service once and in
// order, and the transcripts must come back as AudioHook events, whatever the service does mid-call.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/audiohook/duration";
import { GenesysClient, pcmuStereo } from "../workers/genesys-client";

const control = () => (env as unknown as { SEED_CONTROL_URL: string }).SEED_CONTROL_URL;

async function post(path: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${control()}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
}

async function processed(
  conversationId: string,
): Promise<Record<string, { processed: number[]; duplicates: number }>> {
  const all = (await (await fetch(`${control()}/streams`)).json()) as Record<
    string,
    { processed: number[]; duplicates: number }
  >;
  return Object.fromEntries(
    Object.entries(all)
      .filter(([key]) => key.startsWith(`${conversationId}/`))
      .map(([key, v]) => [key.slice(conversationId.length + 1), v]),
  );
}

interface Transcript {
  channelId: number;
  text: string;
  offset: number;
}

/** A call of `frames` 100 ms frames; `during(frame)` runs before each frame is sent. */
async function call(
  frames: number,
  during: (frame: number, client: GenesysClient) => Promise<void> = async () => {},
) {
  const conversationId = crypto.randomUUID();
  const customer = crypto.randomUUID();
  const client = await GenesysClient.connect();
  client.open({ conversationId, participant: { id: customer, ani: "+1555", aniName: "C", dnis: "+1555" } });
  await client.expect("opened");
  for (let frame = 0; frame < frames; frame++) {
    await during(frame, client);
    client.sendAudio(pcmuStereo(100), 800);
  }
  client.send("close", { reason: "end" });
  const transcripts: Transcript[] = [];
  for (;;) {
    const item = await client.next(20_000);
    if (item.kind === "close") throw new Error(`closed early: ${item.code} ${item.reason}`);
    if (item.message.type === "closed") break;
    if (item.message.type === "disconnect")
      throw new Error(`disconnect: ${JSON.stringify(item.message.parameters)}`);
    if (item.message.type !== "event") continue;
    for (const entity of item.message.parameters.entities as { data: Record<string, unknown> }[]) {
      const alternatives = entity.data.alternatives as { interpretations: { transcript: string }[] }[];
      transcripts.push({
        channelId: entity.data.channelId as number,
        text: alternatives[0]?.interpretations[0]?.transcript ?? "",
        offset: parseDuration(entity.data.offset as string) ?? Number.NaN,
      });
    }
  }
  return { sessionId: client.sessionId, conversationId, customer, transcripts };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Both streams processed 1..n exactly once, and each channel's transcripts cover 1..n once, in order. */
async function expectComplete(result: Awaited<ReturnType<typeof call>>, n: number) {
  const streams = await processed(result.conversationId);
  expect(Object.keys(streams).sort()).toEqual(["agent", result.customer].sort());
  for (const s of Object.values(streams)) expect(s.processed).toEqual(range(n));
  for (const channelId of [0, 1]) {
    const texts = result.transcripts.filter((t) => t.channelId === channelId).map((t) => t.text);
    expect(texts).toEqual(
      range(Math.ceil(n / 5)).map((i) => `words ${(i - 1) * 5 + 1}-${Math.min(i * 5, n)}`),
    );
  }
}

describe("worker → bridge → seed service", () => {
  it("carries a call complete and in order and returns the transcripts as AudioHook events", async () => {
    const result = await call(20);
    await expectComplete(result, 20);
    // "words 6-10" covers chunks 6..10 of 100 ms: it starts 0.5 s into the call.
    expect(result.transcripts.find((t) => t.channelId === 0 && t.text === "words 6-10")?.offset).toBeCloseTo(
      0.5,
      3,
    );
  }, 30_000);

  it("loses and duplicates nothing when the service breaks a stream, refuses, and is down for 2 s", async () => {
    const result = await call(40, async (frame, client) => {
      if (frame === 5) await post("/break", { participant: "agent", sequence: 8 });
      if (frame === 15) await post("/refuse", { calls: 2, retryAfterMs: 200 });
      if (frame === 16) await post("/break", { participant: "agent", sequence: 17 });
      if (frame === 25) {
        await post("/down", { ms: 2000 });
        // Real time passes while the service is down, as in a live call.
        for (let i = 0; i < 5; i++) {
          client.send("ping");
          await client.expect("pong");
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    });
    await expectComplete(result, 40);
    // The bridge did reopen: the agent's stream after each break, after the refusals and after the outage.
    const stats = (await (await fetch(`${control()}/bridge`)).json()) as {
      sessions: Record<string, { channels: Record<string, { streams: number; retries: number }> }>;
    };
    const agent = stats.sessions[result.sessionId]?.channels.INTERNAL;
    expect(agent?.streams).toBeGreaterThanOrEqual(4);
    expect(agent?.retries).toBeGreaterThanOrEqual(4);
  }, 40_000);
});
