// Refused upgrades counted in Workers Analytics Engine: CALL_METRICS here is a service binding to a recorder
// (test/workers-metrics/recorder-worker.js) that writes each point on to a real local dataset and keeps a copy.

import { SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { refusalDataPoint, writeMetrics } from "../../src/session/metrics";
import { DEV_API_KEY, GenesysClient, upgrade } from "../workers/genesys-client";
import { bindings, field, recorder, written } from "./recorder";

beforeEach(async () => {
  await recorder.clear();
});

describe("refused upgrades in Analytics Engine", () => {
  it("writes one point with the cause, endpoint and status of a refused signature, after the same delay", async () => {
    const started = Date.now();
    const response = await upgrade({ apiKey: "bm90LWEta25vd24ta2V5LWF0LWFsbA" });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe("unauthorized\n");
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const points = await written("refusal", 1);
    expect(points).toHaveLength(1);
    expect(points[0]).toEqual(refusalDataPoint("unknown-api-key", "transcription", 401));
    // Nothing else was counted for it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await recorder.points()).toHaveLength(1);
  });

  it("counts each cause on its own endpoint: a bad id header on monitor, a missing token on media-api", async () => {
    const bad = await upgrade({ path: "/api/v1/audiohook/ws", organizationId: "not-a-uuid" });
    expect(bad.status).toBe(400);
    const media = await SELF.fetch("https://audiohook.test/media-api", { headers: { upgrade: "websocket" } });
    expect(media.status).toBe(401);
    const points = await written("refusal", 2);
    const described = points.map((p) => ["endpoint", "cause", "status"].map((f) => field(p, "refusal", f)));
    expect(described).toEqual([
      ["monitor", "bad-id-header", 400],
      ["media-api", "ERR_AUTH_MISSING", 401],
    ]);
  });

  it("counts no refusal for an upgrade that is accepted", async () => {
    const client = await GenesysClient.connect({ apiKey: DEV_API_KEY });
    client.ws.close(1000, "done");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await written("refusal", 1, 0)).toEqual([]);
  });

  it("takes the real Analytics Engine binding as a dataset inside workerd", () => {
    // miniflare's local dataset drops what it is given; what is checked is that writeMetrics recognises the
    // binding workerd hands the worker and that writing to it does not throw.
    const point = refusalDataPoint("bad-query", "media-api", 400);
    expect(writeMetrics(bindings.CALL_METRICS_DATASET, point)).toBe(true);
  });
});
