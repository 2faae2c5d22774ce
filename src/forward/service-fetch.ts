// Picks how the forwarding client reaches the transcription service: through the TRANSCRIPTION_SERVICE
// service binding when the worker has one (another Worker or a Container in the same account: no DNS, no
// TLS, no public exposure), else through the public fetch.
import type { FetchInit, FetchLike } from "./client";

/** The part of a service binding (a Fetcher) we use. */
interface ServiceBinding {
  fetch(url: string, init: FetchInit): Promise<Response>;
}

function isServiceBinding(value: unknown): value is ServiceBinding {
  return (
    typeof value === "object" && value !== null && typeof (value as { fetch?: unknown }).fetch === "function"
  );
}

/**
 * The fetch the forwarding client should use for this environment. With a binding, the request URL's
 * host is not used for routing (the binding decides where it goes); its path and headers reach the
 * service as sent, so the Connect or gRPC-web paths work unchanged.
 */
export function serviceFetch(env: object): FetchLike {
  const binding = bindingOf(env);
  // Bound calls, not a stored method: workerd's fetch (and a Fetcher's) throw "Illegal invocation"
  // when called detached from their receiver.
  if (isServiceBinding(binding)) return (url, init) => binding.fetch(url, init);
  return (url, init) => fetch(url, init);
}

/** Whether calls go through the binding: for the call's start log line. */
export function usesServiceBinding(env: object): boolean {
  return isServiceBinding(bindingOf(env));
}

// `object`, not { TRANSCRIPTION_SERVICE?: unknown }: the generated Env has no such member unless wrangler.toml
// declares the binding, and TypeScript refuses an Env for a type whose only member is optional.
function bindingOf(env: object): unknown {
  return (env as { TRANSCRIPTION_SERVICE?: unknown }).TRANSCRIPTION_SERVICE;
}
