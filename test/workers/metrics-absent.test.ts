// The default deployment has no CALL_METRICS binding (wrangler.toml leaves it commented): refusals and calls
// go on as before and nothing is written. test/workers-metrics/ has the tests with the binding.

import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { metricsBinding, refusalDataPoint, writeMetrics } from "../../src/session/metrics";
import { upgrade } from "./genesys-client";

describe("without an Analytics Engine binding", () => {
  it("has none, and writing is a no-op", () => {
    expect(metricsBinding(env)).toBeUndefined();
    const point = refusalDataPoint("unknown-api-key", "monitor", 401);
    expect(writeMetrics(metricsBinding(env), point)).toBe(false);
  });

  it("still refuses an upgrade with its answer after the minimum delay", async () => {
    const started = Date.now();
    const response = await upgrade({ apiKey: "bm90LWEta25vd24ta2V5LWF0LWFsbA" });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe("unauthorized\n");
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
