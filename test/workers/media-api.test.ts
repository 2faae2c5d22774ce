// The media-api endpoint: Bearer JWT before the upgrade, JSON audio frames through the same pipeline.

import { env, evictDurableObject, runInDurableObject, SELF } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { encodeMulawSample } from "../../src/media/pcmu";
import { sessionStats } from "./transcriber";

const SECRET = new TextEncoder().encode("langhook-development-media-api-secret-0123456789");

async function token(claims: Record<string, unknown> = { scope: "media:websocket:read" }, expiresIn = "5m") {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(SECRET);
}

function upgrade(
  headers: Record<string, string>,
  query = `conversationId=${crypto.randomUUID()}&participantId=p1`,
) {
  return SELF.fetch(`https://langhook.test/media-api${query ? `?${query}` : ""}`, {
    headers: { upgrade: "websocket", "sec-websocket-protocol": "media-api", ...headers },
  });
}

class MediaClient {
  readonly frames: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly conversationId: string,
  ) {
    ws.addEventListener("message", (e) => this.push(() => this.frames.push(JSON.parse(e.data as string))));
    ws.addEventListener("close", (e) => this.push(() => (this.closed = { code: e.code, reason: e.reason })));
  }

  private push(apply: () => void): void {
    apply();
    for (const wake of this.waiters.splice(0)) wake();
  }

  static async open(
    language = "fr-FR",
    conversationId = crypto.randomUUID(),
    named = true,
  ): Promise<MediaClient> {
    const response = await upgrade(
      { authorization: `Bearer ${await token()}` },
      named ? `conversationId=${conversationId}&participantId=agent-7&language=${language}` : "",
    );
    expect(response.status).toBe(101);
    expect(response.headers.get("sec-websocket-protocol")).toBe("media-api");
    response.webSocket?.accept();
    return new MediaClient(response.webSocket as WebSocket, conversationId);
  }

  send(sequenceNumber: number, pcm: Int16Array, overrides: Record<string, unknown> = {}): void {
    const bytes = Uint8Array.from(pcm, (s) => encodeMulawSample(s));
    this.ws.send(
      JSON.stringify({
        conversationId: this.conversationId,
        participantId: "agent-7",
        audio: btoa(String.fromCharCode(...bytes)),
        format: "audio/PCMU",
        sampleRate: 8000,
        sequenceNumber,
        timestamp: new Date().toISOString(),
        ...overrides,
      }),
    );
  }

  async until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline)
        throw new Error(`timed out; frames: ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** 100 ms frames: a tone for `speech` of them, then silence. */
function frame(index: number, speechFrames: number): Int16Array {
  const pcm = new Int16Array(800);
  if (index < speechFrames)
    for (let i = 0; i < pcm.length; i++)
      pcm[i] = Math.round(9000 * Math.sin((2 * Math.PI * 200 * (index * 800 + i)) / 8000));
  return pcm;
}

describe("media-api authentication", () => {
  it("refuses a missing, malformed, badly signed or expired token with 401, and a token without the scope with 403", async () => {
    expect((await upgrade({})).status).toBe(401);
    expect((await upgrade({ authorization: "Basic abc" })).status).toBe(401);
    const forged = await new SignJWT({ scope: "media:websocket:read" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("some-other-secret-that-is-long-enough-to-use"));
    const bad = await upgrade({ authorization: `Bearer ${forged}` });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const expired = await new SignJWT({ scope: "media:websocket:read" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(SECRET);
    expect((await upgrade({ authorization: `Bearer ${expired}` })).status).toBe(401);
    const noScope = await upgrade({ authorization: `Bearer ${await token({ scope: "other" })}` });
    expect(noScope.status).toBe(403);
    expect(await noScope.text()).toMatch(/scope/);
  });

  it("asks for the subprotocol and the stream ids", async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    const noProtocol = await SELF.fetch("https://langhook.test/media-api?conversationId=c&participantId=p", {
      headers: { upgrade: "websocket", ...auth },
    });
    expect(noProtocol.status).toBe(400);
    expect((await upgrade(auth, "participantId=p")).status).toBe(400);
  });
});

describe("media-api frames", () => {
  it("puts out-of-order frames back in order and returns transcripts as JSON frames", async () => {
    const client = await MediaClient.open("fr-FR");
    const order = [0, 2, 1, 3, 5, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    for (const seq of order) client.send(seq, frame(seq, 10));
    await client.until(() => client.frames.some((f) => f.type === "transcript"));
    const transcript = client.frames.find((f) => f.type === "transcript");
    expect(transcript).toMatchObject({
      type: "transcript",
      language: "fr-FR",
      channel: "external",
      isFinal: true,
    });
    expect(Math.abs((transcript?.offset as number) - 0)).toBeLessThanOrEqual(0.25);
    expect(Math.abs((transcript?.duration as number) - 1.0)).toBeLessThanOrEqual(0.25);
    expect(client.frames.filter((f) => f.type === "error" || f.type === "gap")).toEqual([]);
    client.ws.close(1000);
  });

  it("reports a gap, drops duplicates, and answers bad frames without ending the stream", async () => {
    const client = await MediaClient.open();
    client.send(0, frame(0, 0));
    client.send(0, frame(0, 0));
    client.ws.send("{not json");
    client.send(1, frame(1, 0), { sampleRate: 44100 });
    for (let seq = 2; seq < 14; seq++) if (seq !== 3) client.send(seq, frame(seq, 0));
    await client.until(() => client.frames.filter((f) => f.type === "gap").length >= 2);
    expect(client.frames).toContainEqual({ type: "gap", from: 1, to: 1 });
    expect(client.frames).toContainEqual({ type: "gap", from: 3, to: 3 });
    const codes = client.frames.filter((f) => f.type === "error").map((f) => f.code);
    expect(codes).toEqual([
      "ERR_FRAME_DUPLICATE",
      "ERR_FRAME_MALFORMED_JSON",
      "ERR_FRAME_UNSUPPORTED_SAMPLE_RATE",
    ]);
    expect(client.closed).toBeNull();
    client.ws.close(1000);
  });

  it("closes the stream with 1008 after 20 bad frames in a row", async () => {
    const client = await MediaClient.open();
    for (let i = 0; i < 20; i++) client.ws.send(JSON.stringify({ hello: i }));
    await client.until(() => client.closed !== null);
    expect(client.closed?.code).toBe(1008);
    expect(client.frames.filter((f) => f.type === "error")).toHaveLength(20);
  });
});

describe("media-api streams as Genesys' Media API opens them", () => {
  it("accepts an upgrade without query parameters (the frames name the stream), after the token", async () => {
    // Without a token the answer is 401, whatever else is missing.
    expect((await upgrade({}, "")).status).toBe(401);
    const client = await MediaClient.open("fr-FR", crypto.randomUUID(), false);
    for (let seq = 0; seq < 16; seq++) client.send(seq, frame(seq, 10));
    await client.until(() => client.frames.some((f) => f.type === "transcript"));
    expect(client.frames.find((f) => f.type === "transcript")).toMatchObject({
      channel: "external",
      isFinal: true,
    });
    expect(client.frames.filter((f) => f.type === "error" || f.type === "gap")).toEqual([]);
    client.ws.close(1000);
  });

  it("lets a client reconnect to its stream: sequence numbers carry on, frames already received are not delivered twice", async () => {
    const conversationId = crypto.randomUUID();
    const first = await MediaClient.open("en-US", conversationId);
    for (let seq = 0; seq < 5; seq++) first.send(seq, frame(seq, 0));
    first.ws.close(1000);
    await first.until(() => first.closed !== null).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await MediaClient.open("en-US", conversationId);
    // The client resends the last two frames it is unsure of, then carries on.
    for (let seq = 3; seq < 10; seq++) second.send(seq, frame(seq, 0));
    await second.until(() => second.frames.filter((f) => f.type === "error").length >= 2);
    expect(second.frames.filter((f) => f.type === "error").map((f) => [f.code, f.sequenceNumber])).toEqual([
      ["ERR_FRAME_DUPLICATE", 3],
      ["ERR_FRAME_DUPLICATE", 4],
    ]);
    expect(second.frames.filter((f) => f.type === "gap")).toEqual([]);
    second.ws.close(1000);
    // Downstream: ten frames of audio on one session, none twice, no gap.
    let external: { samples: number; duplicates: number; gaps: number } | undefined;
    for (let tries = 0; tries < 30 && (external?.samples ?? 0) < 8000; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stats = await sessionStats(`media-api:${conversationId}:agent-7`);
      external = stats?.channels.EXTERNAL ?? stats?.channels.external;
    }
    expect(external).toMatchObject({ samples: 8000, duplicates: 0, gaps: 0 });
  });

  it("writes where the stream starts as soon as its first frame is taken, not a second later", async () => {
    const conversationId = crypto.randomUUID();
    const stub = env.CALL_SESSION.get(env.CALL_SESSION.idFromName(`media-api:${conversationId}:agent-7`));
    const client = await MediaClient.open("en-US", conversationId);
    client.send(7, frame(0, 0));
    let seen: { inMemory: boolean; stored: unknown } = { inMemory: false, stored: undefined };
    for (let tries = 0; tries < 50 && !seen.inMemory; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      // In one turn of the object: once it has taken the frame, storage must already say so.
      seen = await runInDurableObject(stub, (instance, state) => ({
        inMemory: (instance as unknown as { mediaApi: { started: boolean } }).mediaApi.started,
        stored: JSON.parse(
          state.storage.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = 'call'").one().value,
        ).mediaApi.checkpoint?.next,
      }));
    }
    expect(seen).toEqual({ inMemory: true, stored: 8 });
    client.ws.close(1000);
  });

  it("after a restart cut the stream short, what the client resends is deduplicated and nothing new is lost", async () => {
    const conversationId = crypto.randomUUID();
    const stub = env.CALL_SESSION.get(env.CALL_SESSION.idFromName(`media-api:${conversationId}:agent-7`));
    const external = async () => {
      const stats = await sessionStats(`media-api:${conversationId}:agent-7`);
      return stats?.channels.EXTERNAL ?? stats?.channels.external;
    };
    // A restart (a crash, a deploy) leaves storage as the last write while the stream was live, and no
    // socket: made here by keeping such a write, ending the connection, and putting that write back.
    const call = (state: DurableObjectState) =>
      state.storage.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = 'call'").one().value;
    const first = await MediaClient.open("en-US", conversationId);
    for (let seq = 0; seq < 3; seq++) first.send(seq, frame(seq, 0));
    // The write of a second of streaming (the record is written at most once a second while audio flows).
    let live = "";
    for (let tries = 0; tries < 30 && JSON.parse(live || "{}").mediaApi?.checkpoint?.next !== 3; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      live = await runInDurableObject(stub, (_instance, state) => call(state));
    }
    expect(JSON.parse(live).mediaApi).toMatchObject({ ended: false, checkpoint: { next: 3 } });
    // The work the restart loses: two more frames the service received and acknowledged.
    for (let seq = 3; seq < 5; seq++) first.send(seq, frame(seq, 0));
    for (let tries = 0; tries < 30 && ((await external())?.samples ?? 0) < 4000; tries++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    first.ws.close(1000);
    await first.until(() => first.closed !== null).catch(() => {});
    await evictDurableObject(stub); // once its writes for the close are done
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE kv SET value = ? WHERE key = 'call'", live);
    });
    await evictDurableObject(stub); // the next incarnation starts from the write of the live stream
    // The client resends the two frames it is unsure of and carries on. Downstream sequence numbers
    // follow the stream's position, so the resent frames take the numbers they had (the service drops
    // them as duplicates) and the new ones take numbers the lost work never used.
    const second = await MediaClient.open("en-US", conversationId);
    for (let seq = 3; seq < 10; seq++) second.send(seq, frame(seq, 0));
    second.ws.close(1000);
    let after: { samples: number; duplicates: number } | undefined;
    for (let tries = 0; tries < 30 && (after?.samples ?? 0) < 8000; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await external();
    }
    expect(after).toMatchObject({ samples: 8000, duplicates: 2 });
  }, 20_000);
});
