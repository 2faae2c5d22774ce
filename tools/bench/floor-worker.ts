// The load bench's floor: the least a Durable Object can do for an AudioHook call. It accepts the socket
// with the Hibernation API, answers open/ping/close per the protocol and decodes each µ-law frame, and
// does nothing else (no authentication, storage, detection or forwarding). The gateway's CPU is reported
// as a ratio to this object's under the same runtime and load (tools/bench/load.ts).

import { DurableObject } from "cloudflare:workers";

interface FloorEnv {
  FLOOR: DurableObjectNamespace<FloorCall>;
}

interface Attachment {
  sessionId: string;
  seq: number;
  clientseq: number;
}

const MULAW = (() => {
  const table = new Int16Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const magnitude = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84;
    table[i] = u & 0x80 ? -magnitude : magnitude;
  }
  return table;
})();

export class FloorCall extends DurableObject<FloorEnv> {
  /** Samples decoded, kept so the decode is not optimised away. */
  private samples = 0;
  private checksum = 0;

  override async fetch(request: Request): Promise<Response> {
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({
      sessionId: request.headers.get("audiohook-session-id") ?? "",
      seq: 0,
      clientseq: 0,
    } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") {
      const bytes = new Uint8Array(message);
      const pcm = new Int16Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) pcm[i] = MULAW[bytes[i] as number] as number;
      this.samples += pcm.length;
      this.checksum = (this.checksum + (pcm[pcm.length - 1] ?? 0)) | 0;
      return;
    }
    const attachment = ws.deserializeAttachment() as Attachment;
    const incoming = JSON.parse(message) as {
      type: string;
      seq: number;
      parameters?: Record<string, unknown>;
    };
    attachment.clientseq = incoming.seq;
    const reply = (type: string, parameters: Record<string, unknown>) => {
      attachment.seq += 1;
      ws.send(
        JSON.stringify({
          version: "2",
          id: attachment.sessionId,
          type,
          seq: attachment.seq,
          clientseq: attachment.clientseq,
          parameters,
        }),
      );
    };
    if (incoming.type === "open") {
      const media = incoming.parameters?.media;
      reply("opened", { media: Array.isArray(media) ? media.slice(0, 1) : [] });
    } else if (incoming.type === "ping") reply("pong", {});
    else if (incoming.type === "close") reply("closed", {});
    ws.serializeAttachment(attachment);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    ws.close(code === 1005 ? 1000 : code, "closed");
  }
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("the floor takes a WebSocket upgrade\n", { status: 426 });
    }
    const sessionId = request.headers.get("audiohook-session-id") ?? crypto.randomUUID();
    return env.FLOOR.get(env.FLOOR.idFromName(sessionId)).fetch(request);
  },
} satisfies ExportedHandler<FloorEnv>;
