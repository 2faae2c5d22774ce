// The second worker of the binding tests: a transcription "service" reached only through the
// TRANSCRIPTION_SERVICE binding. It relays each call to the development transcriber (as a Worker in front
// of a Container would) and counts what it relayed, so a test can tell the binding was used.

/** Calls relayed, by RPC path, and the Host each arrived with (the binding does not route by it). */
const relayed = { calls: {}, hosts: [] };

export default {
  /** @param {Request} request @param {{ UPSTREAM_URL: string }} env */
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/binding/stats") return Response.json(relayed);
    relayed.calls[url.pathname] = (relayed.calls[url.pathname] ?? 0) + 1;
    if (!relayed.hosts.includes(url.host)) relayed.hosts.push(url.host);
    const upstream = new URL(url.pathname + url.search, env.UPSTREAM_URL);
    const response = await fetch(upstream, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
    const headers = new Headers(response.headers);
    headers.set("x-served-by", "transcription-worker");
    return new Response(response.body, { status: response.status, headers });
  },
};
