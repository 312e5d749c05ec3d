import net from "node:net";

/**
 * A TCP balancer in front of the local PgBouncer hosts, standing in for the cloud's network load
 * balancer: new connections go round-robin to hosts that pass a TCP health check; a connection to a
 * host that just died is retried on the next one (as the NLB does once its health check has marked
 * the target down); a dead host's established connections are cut, as they are in the cloud. The
 * drills use it so that clients can move to the surviving host.
 */
export interface Backend {
  host: string;
  port: number;
}

const HEALTH_EVERY_MS = 250;
const CONNECT_TIMEOUT_MS = 1_000;

export class Balancer {
  private readonly server: net.Server;
  private readonly healthy: boolean[];
  /** Backends taken out of rotation on purpose (a planned restart): no new connections. */
  private readonly drained = new Set<number>();
  private readonly sockets = new Set<net.Socket>();
  private next = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly backends: Backend[],
  ) {
    this.healthy = backends.map(() => true);
    this.server = net.createServer((client) => this.accept(client));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, this.address, () => resolve());
    });
    this.timer = setInterval(() => void this.check(), HEALTH_EVERY_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Stop sending new connections to a backend (deregistering an NLB target); established stay. */
  drain(host: string): void {
    this.drained.add(this.indexOf(host));
  }

  undrain(host: string): void {
    this.drained.delete(this.indexOf(host));
  }

  private indexOf(host: string): number {
    const i = this.backends.findIndex((b) => b.host === host);
    if (i < 0) throw new Error(`balancer: no backend ${JSON.stringify(host)}`);
    return i;
  }

  private async check(): Promise<void> {
    await Promise.all(
      this.backends.map(async (b, i) => {
        this.healthy[i] = await this.reachable(b);
      }),
    );
  }

  private reachable(b: Backend): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect({ host: b.host, port: b.port, timeout: CONNECT_TIMEOUT_MS });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
      s.once("timeout", () => {
        s.destroy();
        resolve(false);
      });
    });
  }

  /** Backends to try for a new connection: healthy ones first, in round-robin order. */
  private order(): number[] {
    const n = this.backends.length;
    const start = this.next++ % n;
    const all = Array.from({ length: n }, (_, i) => (start + i) % n);
    const live = all.filter((i) => !this.drained.has(i));
    return [...live.filter((i) => this.healthy[i]), ...live.filter((i) => !this.healthy[i])];
  }

  private accept(client: net.Socket): void {
    client.pause();
    client.on("error", () => {});
    this.sockets.add(client);
    client.once("close", () => this.sockets.delete(client));
    const tryNext = (candidates: number[]): void => {
      const i = candidates.shift();
      if (i === undefined) return void client.destroy();
      const b = this.backends[i]!;
      const upstream = net.connect({ host: b.host, port: b.port });
      let connected = false;
      upstream.on("error", () => {
        if (connected) return void client.destroy();
        this.healthy[i] = false;
        tryNext(candidates);
      });
      upstream.once("connect", () => {
        connected = true;
        this.sockets.add(upstream);
        upstream.once("close", () => {
          this.sockets.delete(upstream);
          client.destroy();
        });
        client.once("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryNext(this.order());
  }
}
