// A CPU profile of the worker's isolate under load, to see where its milliseconds go:
//   npm exec -- node tools/bench/profile.mjs PORT [SECONDS=10] [DELAY=12] &   (Node 22: a global WebSocket)
//   BENCH_INSPECTOR_PORT=PORT npm run bench:load -- --levels 20 --variants gateway
// It waits DELAY s (the bundle and the warm-up), profiles SECONDS s of the steady state through workerd's
// inspector, and writes .tmp/workerd.cpuprofile (open it in Chrome DevTools, or sum self time by function).
const port = process.argv[2];
const secs = Number(process.argv[3] ?? 10);
const delay = Number(process.argv[4] ?? 12);
await new Promise((r) => setTimeout(r, delay * 1000));
let targets;
for (let i = 0; i < 60; i++) {
  try {
    targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
    if (targets.length) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 500));
}
console.error(
  "targets",
  targets.map((t) => t.title || t.id),
);
const t = targets.find((x) => /langhook|core|worker/i.test(x.title ?? "")) ?? targets[0];
const ws = new WebSocket(t.webSocketDebuggerUrl);
let id = 0;
const pending = new Map();
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.id && pending.has(m.id)) {
    pending.get(m.id)(m);
    pending.delete(m.id);
  }
};
await new Promise((r) => (ws.onopen = r));
const call = (method, params = {}) =>
  new Promise((r) => {
    const i = ++id;
    pending.set(i, r);
    ws.send(JSON.stringify({ id: i, method, params }));
  });
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 200 });
await call("Profiler.start");
await new Promise((r) => setTimeout(r, secs * 1000));
const res = await call("Profiler.stop");
const fs = await import("node:fs");
fs.mkdirSync(".tmp", { recursive: true });
fs.writeFileSync(".tmp/workerd.cpuprofile", JSON.stringify(res.result.profile));
console.error("profile written", res.result.profile.nodes.length);
ws.close();
