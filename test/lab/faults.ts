/**
 * Misbehaving servers: each is a raw TCP server with one behaviour per accepted connection, plus a
 * port nothing listens on and a listener that delays the TLS handshake of a real HTTPS server.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type Listening, listen } from './listen.js';

/** What a fault server does with each connection it accepts. */
export type Behaviour = (socket: Socket) => void;

/** Accepts and never answers: the client's deadline is the only way out. */
export const hang: Behaviour = () => {};

/** Reads the first bytes (a TLS ClientHello) and answers with a TCP RST. */
export const resetOnHello: Behaviour = (socket) => {
  socket.once('data', () => socket.resetAndDestroy());
};

/** Reads the request and closes cleanly without a byte of reply (curl: "Empty reply from server"). */
export const emptyReply: Behaviour = (socket) => {
  socket.once('data', () => socket.end());
};

/** Answers the request with a non-HTTP banner, as when a URL points at an SSH port. */
export const garbage: Behaviour = (socket) => {
  socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
};

/** A TCP server on loopback applying `behaviour` to every connection. */
export function startFaultServer(behaviour: Behaviour): Promise<Listening> {
  return listen(createServer(behaviour));
}

/** A loopback port nothing listens on (bound, then released), so connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = await listen(createServer());
  await server.close();
  return server.port;
}

/**
 * A listener that holds each accepted connection for `delayMs` before handing it to `tlsServer`, so the
 * TLS handshake (and only it) is delayed: TCP is accepted at once by the kernel, the ClientHello waits.
 * `pauseOnConnect` keeps the ClientHello unread in the kernel until the TLS server takes the socket.
 */
export function startHandshakeDelay(delayMs: number, tlsServer: Server): Promise<Listening> {
  return listen(
    createServer({ pauseOnConnect: true }, (socket) => {
      const timer = setTimeout(() => tlsServer.emit('connection', socket), delayMs);
      socket.once('close', () => clearTimeout(timer));
    }),
  );
}
