/**
 * Listening with connection tracking: every lab server goes through {@link listen}, so `close()` can
 * destroy the connections a probe left open (a hung client, a held socket) and tests exit promptly.
 */
import type { AddressInfo, Server, Socket } from 'node:net';

export interface Listening {
  readonly port: number;
  /** Stops listening and destroys every connection the server accepted. */
  close(): Promise<void>;
  /** Resolves once every connection the server accepted has closed (the client hung up, or close()). */
  idle(): Promise<void>;
}

/** Listens on `host:port` (port 0: any free port) and tracks the server's connections. */
export async function listen(server: Server, host = '127.0.0.1', port = 0): Promise<Listening> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    // Clients vanish abruptly by design here (deadlines, resets); that is no error of the lab's.
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
    async idle() {
      // A connection accepted while waiting is waited for too. Not events.once: it rejects on 'error',
      // which a client's reset is here, while 'close' follows it all the same.
      while (sockets.size > 0) {
        await Promise.all(
          [...sockets].map((socket) => new Promise((closed) => socket.once('close', closed))),
        );
      }
    },
  };
}
