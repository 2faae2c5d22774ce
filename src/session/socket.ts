// Sending on a hibernatable WebSocket from anywhere in the object.

/** A socket closing mid-send is not an error worth surfacing: the close handler deals with it. */
export function trySend(ws: WebSocket, data: string): void {
  try {
    ws.send(data);
  } catch {
    // ignored: the peer is gone
  }
}
