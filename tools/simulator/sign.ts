// Signs an AudioHook upgrade the way Genesys Cloud does (HTTP Message Signature, hmac-sha256 keyed with
// the base64-decoded client secret). Used by the simulator and the tests; WebCrypto only, runs anywhere.

import { REQUIRED_COMPONENTS as COMPONENTS } from "../../src/audiohook/signature";

export interface SignInput {
  /** Path and query of the WebSocket URL. */
  target: string;
  /** Host (and port) of the WebSocket URL. */
  authority: string;
  apiKey: string;
  /** Base64 client secret; null sends an unsigned upgrade. */
  secret: string | null;
  organizationId: string;
  sessionId: string;
  correlationId: string;
  nonce?: string;
  /** Unix seconds. */
  created?: number;
  expires?: number;
}

function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_");
}

/** The headers of a Genesys AudioHook upgrade request. */
export async function audiohookHeaders(input: SignInput): Promise<Record<string, string>> {
  const headers: Record<string, string> = {
    "audiohook-organization-id": input.organizationId,
    "audiohook-session-id": input.sessionId,
    "audiohook-correlation-id": input.correlationId,
    "x-api-key": input.apiKey,
  };
  if (input.secret === null) return headers;
  const created = input.created ?? Math.floor(Date.now() / 1000);
  const params = `(${COMPONENTS.map((c) => `"${c}"`).join(" ")});keyid="${input.apiKey}";nonce="${input.nonce ?? randomNonce()}";alg="hmac-sha256";created=${created};expires=${input.expires ?? created + 10}`;
  const values: Record<string, string> = {
    "@request-target": input.target,
    "@authority": input.authority,
    ...headers,
  };
  const base = [...COMPONENTS.map((c) => `"${c}": ${values[c]}`), `"@signature-params": ${params}`].join(
    "\n",
  );
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(input.secret), (c) => c.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(base)));
  return {
    ...headers,
    "signature-input": `sig1=${params}`,
    signature: `sig1=:${btoa(String.fromCharCode(...mac))}:`,
  };
}
