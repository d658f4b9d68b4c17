/**
 * A TCP proxy in front of MariaDB (or PostgreSQL) that a test can stop and
 * start again on the same port: from the client's side, the database server
 * restarting. `freeze()` keeps every connection open but lets no byte
 * through either way (a network that loses packets silently).
 */

import type { Socket, TCPSocketListener } from "bun";

interface Pair {
  upstream: Socket<Pair> | null;
  pending: Uint8Array[];
  client: Socket<Pair>;
}

export class TcpProxy {
  private listener: TCPSocketListener<Pair> | null = null;
  private readonly sockets = new Set<Socket<Pair>>();
  port = 0;
  /** while true, bytes in both directions are dropped */
  frozen = false;

  constructor(private readonly target: { host: string; port: number }) {}

  start(port = 0): void {
    const target = this.target;
    const sockets = this.sockets;
    const proxy = this;
    this.listener = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(client) {
          const pair: Pair = { upstream: null, pending: [], client };
          client.data = pair;
          sockets.add(client);
          Bun.connect<Pair>({
            hostname: target.host,
            port: target.port,
            data: pair,
            socket: {
              open(up) {
                sockets.add(up);
                pair.upstream = up;
                for (const b of pair.pending) up.write(b);
                pair.pending = [];
              },
              data(_up, d) { if (!proxy.frozen) pair.client.write(d); },
              close(up) { sockets.delete(up); pair.client.end(); },
              error(up) { sockets.delete(up); pair.client.end(); },
            },
          }).catch(() => client.end());
        },
        data(client, d) {
          if (proxy.frozen) return;
          const pair = client.data;
          if (pair.upstream) pair.upstream.write(d);
          else pair.pending.push(new Uint8Array(d));
        },
        close(client) { sockets.delete(client); client.data?.upstream?.end(); },
        error(client) { sockets.delete(client); client.data?.upstream?.end(); },
      },
    });
    this.port = this.listener.port;
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
  }

  /** Stops listening and cuts every connection, both sides. */
  stop(): void {
    this.listener?.stop(true);
    this.listener = null;
    for (const s of this.sockets) s.terminate();
    this.sockets.clear();
  }
}
