// The fuzzer's own judge: it must flag each kind of protocol violation, or a clean fuzz run proves nothing.

import { describe, expect, it } from "vitest";
import { ConformanceChecker, isLoopback } from "../../../tools/fuzz/conformance";
import { Dice, goodMessage, mutate, rng } from "../../../tools/fuzz/mutate";

const ID = "30b0e395-84d3-4570-ac13-9a62d8f514c0";
const msg = (type: string, seq: number, clientseq: number, parameters: unknown = {}) =>
  JSON.stringify({ version: "2", id: ID, type, seq, clientseq, parameters });

function checked(clientSeqs: number[], ...messages: string[]): string[] {
  const c = new ConformanceChecker(ID);
  for (const s of clientSeqs) c.clientSent(s);
  for (const m of messages) c.text(m);
  return c.violations.map((v) => v.rule);
}

describe("ConformanceChecker", () => {
  it("passes a conformant exchange", () => {
    expect(
      checked(
        [1, 2, 3],
        msg("opened", 1, 1),
        msg("pong", 2, 2),
        msg("disconnect", 3, 2, { reason: "error", info: "x" }),
        msg("closed", 4, 3),
      ),
    ).toEqual([]);
  });

  it("flags each violation", () => {
    expect(checked([1], msg("opened", 2, 1))).toEqual(["seq"]);
    expect(checked([1], msg("opened", 1, 5))).toEqual(["clientseq"]);
    expect(checked([1, 2], msg("opened", 1, 2), msg("pong", 2, 1))).toEqual(["clientseq"]);
    expect(
      checked([1], JSON.stringify({ version: "2", id: ID, type: "pong", seq: 1, clientseq: 1 })),
    ).toEqual(["parameters"]);
    expect(checked([1], msg("dance", 1, 1))).toEqual(["type"]);
    expect(
      checked(
        [1],
        msg("disconnect", 1, 1, { reason: "error" }),
        msg("disconnect", 2, 1, { reason: "error" }),
      ),
    ).toEqual(["disconnect"]);
    expect(checked([1], msg("disconnect", 1, 1, { reason: "bye" }))).toEqual(["disconnect"]);
    expect(checked([1], msg("closed", 1, 1), msg("pong", 2, 1))).toEqual(["after-closed"]);
    expect(checked([], "{not json")).toEqual(["json"]);
    expect(
      checked(
        [1],
        JSON.stringify({ version: "1", id: "other", type: "pong", seq: 1, clientseq: 0, parameters: {} }),
      ),
    ).toEqual(["version", "id"]);
  });
});

describe("fuzz input", () => {
  it("is reproducible from its seed and always a string", () => {
    const run = (seed: number) => {
      const dice = new Dice(rng(seed));
      const cursor = { sessionId: ID, seq: 0, serverseq: 0, position: 0 };
      // Mutations reach into crypto.randomUUID for ids: compare the shape, not the whole text.
      return Array.from({ length: 200 }, () => mutate(goodMessage("ping", cursor, dice), dice).length);
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });
});

describe("isLoopback", () => {
  it("takes only this machine", () => {
    for (const url of ["http://127.0.0.1:8787", "ws://localhost:1", "http://[::1]:8787", "http://127.1.2.3"])
      expect(isLoopback(new URL(url))).toBe(true);
    for (const url of [
      "https://langhook.example.workers.dev",
      "http://10.0.0.1",
      "http://127.0.0.1.example.com",
      "http://0.0.0.0",
    ])
      expect(isLoopback(new URL(url))).toBe(false);
  });
});
