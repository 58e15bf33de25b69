/**
 * Misbehaving servers: each is a raw TCP server with one behaviour per accepted connection, plus a
 * port nothing listens on and a listener that delays the TLS handshake of a real HTTPS server.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type Listening, listen } from './listen.js';

/** What a fault server does with each connection it accepts. */
export type Behaviour = (socket: Socket) => void;

/**
 * Accepts and never answers: the client's deadline is the only way out. What the client sends is read
 * and dropped, so its close is seen at once and the lab holds no socket past the probe.
 */
export const hang: Behaviour = (socket) => {
  socket.resume();
};

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

/** How often a trickling server sends its next byte: slow enough that nothing completes in a deadline. */
export const TRICKLE_MS = 100;

/**
 * Slowloris on the response head: a status line and one whole header, then one byte of a header every
 * {@link TRICKLE_MS}, never ending it. The status is on the wire, but a response whose head never ends is
 * no response.
 */
export const trickleHead: Behaviour = (socket) => {
  socket.once('data', () => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Trickle: ');
    trickle(socket);
  });
};

/** A complete head announcing a 1 MB body, then one byte of that body every {@link TRICKLE_MS}. */
export const trickleBody: Behaviour = (socket) => {
  socket.once('data', () => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n');
    trickle(socket);
  });
};

/** Header lines after the status line, as fast as the client reads them, for as long as it reads. */
export const endlessHead: Behaviour = (socket) => {
  const line = `X-Endless: ${'a'.repeat(1000)}\r\n`;
  const pump = () => {
    while (!socket.destroyed) {
      if (!socket.write(line)) return void socket.once('drain', pump);
    }
  };
  socket.once('data', () => {
    socket.write('HTTP/1.1 200 OK\r\n');
    pump();
  });
};

/** Writes one byte every {@link TRICKLE_MS} until the connection closes. */
function trickle(socket: Socket): void {
  const timer = setInterval(() => socket.write('a'), TRICKLE_MS);
  socket.once('close', () => clearInterval(timer));
}

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
