// Builds the client for the transcription service over an injected fetch (the Workers fetch in
// production, Node's in tests), with a bearer token fetched per call. Runs in workerd and Node alike.
// Speaks Connect (default) or gRPC-web: the latter reaches a plain gRPC server behind a gRPC-web proxy
// (Envoy's grpc_web filter and similar), since a Worker's fetch cannot carry native gRPC's HTTP/2 trailers.
import { create, type DescService, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import {
  appendHeaders,
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createMethodUrl, type UniversalClientFn } from "@connectrpc/connect/protocol";
import {
  createTransport as createConnectProtocolTransport,
  errorFromJsonBytes,
  requestHeader,
  trailerDemux,
  validateResponse,
} from "@connectrpc/connect/protocol-connect";
import { createTransport as createGrpcWebProtocolTransport } from "@connectrpc/connect/protocol-grpc-web";
import { TranscriptionService } from "../gen/langhook/transcription/v1/transcription_pb.js";

/** The part of RequestInit we use; `duplex` is required by Node for a streamed body, ignored by workerd. */
export interface FetchInit {
  method: string;
  headers: Headers;
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  signal?: AbortSignal;
  redirect: "manual";
  duplex: "half";
}

export type FetchLike = (url: string, init: FetchInit) => Promise<Response>;

/** The wire protocols the client can speak (TRANSCRIPTION_PROTOCOL). */
export const TRANSCRIPTION_PROTOCOLS = ["connect", "grpc-web"] as const;
export type TranscriptionProtocol = (typeof TRANSCRIPTION_PROTOCOLS)[number];

export interface TranscriptionClientOptions {
  /** Where the service is, e.g. "https://stt.example.com" (production refuses fetch to a bare IP). */
  baseUrl: string;
  fetch: FetchLike;
  /** Called before every call; undefined means no Authorization header. */
  getToken?: () => Promise<string | undefined>;
  /** "connect" (default) or "grpc-web". */
  protocol?: TranscriptionProtocol;
  /** Binary protobuf (default) or JSON (readable when debugging). */
  useBinaryFormat?: boolean;
  /** Default deadline per call, sent as connect-timeout-ms; none by default. */
  timeoutMs?: number;
  interceptors?: Interceptor[];
}

export type TranscriptionClient = Client<typeof TranscriptionService>;

export function createTranscriptionTransport(options: TranscriptionClientOptions): Transport {
  const interceptors: Interceptor[] = [];
  const getToken = options.getToken;
  if (getToken !== undefined) interceptors.push(bearerToken(getToken));
  interceptors.push(...(options.interceptors ?? []));
  const protocol = options.protocol ?? "connect";
  const createTransport =
    protocol === "grpc-web" ? createGrpcWebProtocolTransport : createConnectProtocolTransport;
  const library = createTransport({
    httpClient: createFetchHttpClient(options.fetch, streamingPaths(TranscriptionService)),
    baseUrl: options.baseUrl,
    useBinaryFormat: options.useBinaryFormat ?? true,
    interceptors,
    // No compression: 100 ms of PCM barely compresses, and Cloudflare may decompress responses itself.
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: Number.MAX_SAFE_INTEGER,
    readMaxBytes: 0xffffffff,
    writeMaxBytes: 0xffffffff,
    defaultTimeoutMs: options.timeoutMs,
  });
  const lean =
    protocol === "connect" && (options.useBinaryFormat ?? true) && (options.interceptors ?? []).length === 0;
  return lean ? { unary: connectUnary(options), stream: library.stream } : library;
}

/**
 * Connect's unary call, binary, built from the library's own protocol pieces (request headers, response
 * validation, error JSON) without its general machinery: the async-iterable pipes, linked abort
 * controllers and per-call serialization lookup that serve streaming and interceptors. In workerd that
 * machinery cost about 0.2 ms of CPU per PushAudio (0.85 against 0.60-0.68 ms; README, "Why unary
 * PushAudio"), and the forwarder makes about three requests a second per call.
 * Failures match the library's transport: deadline as DeadlineExceeded, a caller's abort as Canceled, a
 * body that is not the message as Internal, any other as ConnectError.from (our own errors as its cause).
 */
function connectUnary(options: TranscriptionClientOptions): Transport["unary"] {
  return async (method, signal, timeoutMs, header, message) => {
    const timeout = timeoutMs === undefined ? options.timeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
    // One controller for the deadline and the caller's signal. A cleared timer, not AbortSignal.timeout:
    // a pending timer would keep the object from hibernating until the deadline passed.
    const controller = timeout !== undefined || signal !== undefined ? new AbortController() : undefined;
    let timedOut = false;
    const timer =
      timeout === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            controller?.abort();
          }, timeout);
    const cancel = () => controller?.abort(signal?.reason);
    if (signal?.aborted) cancel();
    else signal?.addEventListener("abort", cancel);
    let res: Response;
    let body: Uint8Array;
    try {
      const headers = requestHeader(method.methodKind, true, timeout, header, true);
      const token = await options.getToken?.();
      authorize(headers, token);
      const input = isMessage(message, method.input) ? message : create(method.input, message);
      res = await options.fetch(createMethodUrl(options.baseUrl, method), {
        method: "POST",
        headers,
        body: toBinary(method.input, input),
        signal: controller?.signal,
        redirect: "manual",
        duplex: "half",
      });
      body = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      if (timedOut) throw new ConnectError("the operation timed out", Code.DeadlineExceeded);
      if (signal?.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
      throw ConnectError.from(err);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", cancel);
    }
    try {
      const received = responseHeaders(res);
      const validated = validateResponse(method.methodKind, true, res.status, received);
      const [responseHeader, trailer] = trailerDemux(received);
      if (validated.isUnaryError)
        throw errorFromJsonBytes(body, appendHeaders(responseHeader, trailer), validated.unaryError);
      return {
        stream: false,
        service: method.parent,
        method,
        header: responseHeader,
        message: fromBinary(method.output, body),
        trailer,
      };
    } catch (err) {
      // A body that is not the message fails as Internal, as the library's serialization does.
      throw ConnectError.from(err, Code.Internal);
    }
  };
}

export function createTranscriptionClient(options: TranscriptionClientOptions): TranscriptionClient {
  return createClient(TranscriptionService, createTranscriptionTransport(options));
}

/** Sets `Authorization: Bearer <token>` on each call, asking the getter each time (it caches, we don't). */
export function bearerToken(getToken: () => Promise<string | undefined>): Interceptor {
  return (next) => async (req) => {
    const token = await getToken();
    authorize(req.header, token);
    return next(req);
  };
}

function authorize(headers: Headers, token: string | undefined): void {
  if (token !== undefined && token !== "") headers.set("Authorization", `Bearer ${token}`);
}

/** A response's headers for Connect, without `content-encoding`: fetch decoded the body already. */
function responseHeaders(res: Response): Headers {
  const headers = new Headers(res.headers);
  headers.delete("content-encoding");
  return headers;
}

/** URL path suffixes ("/pkg.Service/Method") of a service's client- and bidi-streaming methods. */
export function streamingPaths(service: DescService): ReadonlySet<string> {
  return new Set(
    service.methods
      .filter((m) => m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming")
      .map((m) => `/${service.typeName}/${m.name}`),
  );
}

/**
 * Connect's HTTP client over a plain fetch. Unlike connect-web's, it sets `redirect: "manual"` (workerd
 * rejects "error" in some versions), drops `content-encoding` from responses (fetch already decoded the
 * body; Connect would try again), and sends unary bodies as bytes so they get a Content-Length.
 * `streaming` names the methods whose request body is streamed: Connect tells them apart by content type
 * (application/connect+proto), gRPC-web does not (application/grpc-web+proto for every call).
 */
export function createFetchHttpClient(
  fetchFn: FetchLike,
  streaming: ReadonlySet<string> = new Set(),
): UniversalClientFn {
  return async (req) => {
    let body: ReadableStream<Uint8Array> | Uint8Array | null = null;
    if (req.body !== undefined) {
      const streamed =
        (req.header.get("content-type") ?? "").startsWith("application/connect+") ||
        [...streaming].some((path) => new URL(req.url).pathname.endsWith(path));
      body = streamed ? iterableToStream(req.body) : await concat(req.body);
    }
    const res = await fetchFn(req.url, {
      method: req.method,
      headers: req.header,
      body,
      signal: req.signal,
      redirect: "manual",
      duplex: "half",
    });
    return {
      status: res.status,
      header: responseHeaders(res),
      body: streamToIterable(res.body),
      trailer: new Headers(),
    };
  };
}

function iterableToStream(iterable: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = iterable[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await it.next();
      if (r.done === true) controller.close();
      else controller.enqueue(r.value);
    },
    async cancel(reason) {
      // Lets the producer (a stream fed by later WebSocket messages) stop instead of hanging.
      await it.throw?.(reason).catch(() => {});
    },
  });
}

async function concat(iterable: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of iterable) {
    parts.push(part);
    length += part.byteLength;
  }
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

async function* streamToIterable(stream: ReadableStream<Uint8Array> | null): AsyncIterable<Uint8Array> {
  if (stream === null) return;
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // A consumer that stops early (an error, an abandoned stream) must not leave the response open.
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
