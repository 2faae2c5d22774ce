// A real local OAuth token endpoint for the TokenManager tests: scripted answers, every request recorded.

import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ScriptedAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Drop the connection without answering (a network error for the client). */
  readonly destroy?: boolean;
}

export interface RecordedRequest {
  readonly method: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly form: URLSearchParams;
}

export interface OAuthServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Answers for the next requests, in order; after them every request gets a fresh 200 token. */
  script(...answers: ScriptedAnswer[]): void;
  close(): Promise<void>;
}

export async function startOAuthServer(options: { expiresIn?: number } = {}): Promise<OAuthServer> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptedAnswer[] = [];
  let issued = 0;
  const server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      raw += chunk;
    });
    req.on("end", () => {
      // Tests inside workerd cannot see this process's memory: they read the count over HTTP.
      if (req.method === "GET" && req.url === "/stats") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ requests: requests.length }));
        return;
      }
      requests.push({ method: req.method, headers: req.headers, form: new URLSearchParams(raw) });
      const answer = queue.shift() ?? {
        status: 200,
        body: {
          access_token: `token-${++issued}`,
          token_type: "Bearer",
          expires_in: options.expiresIn ?? 3600,
        },
      };
      if (answer.destroy) {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/oauth/token`,
    requests,
    script: (...answers) => {
      queue.push(...answers);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
