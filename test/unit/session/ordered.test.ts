import { describe, expect, it } from "vitest";
import { OrderedTasks } from "../../../src/session/ordered.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("OrderedTasks", () => {
  it("runs tasks in order, each after the previous one finished", async () => {
    const done: string[] = [];
    const tasks = new OrderedTasks(() => {});
    tasks.run(async () => {
      await tick();
      done.push("slow");
    });
    tasks.run(() => {
      done.push("fast");
    });
    let finished = false;
    tasks.run(() => {
      finished = true;
    });
    while (!finished) await tick();
    expect(done).toEqual(["slow", "fast"]);
  });

  it("goes on after a task fails, and reports the failure", async () => {
    const errors: unknown[] = [];
    const done: number[] = [];
    const tasks = new OrderedTasks((err) => errors.push(err));
    tasks.run(() => {
      done.push(1);
    });
    tasks.run(async () => {
      throw new Error("entity failed");
    });
    tasks.run(() => {
      done.push(3);
    });
    tasks.run(() => {
      done.push(4);
    });
    while (done.length < 3) await tick();
    expect(done).toEqual([1, 3, 4]);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/entity failed/);
  });
});
