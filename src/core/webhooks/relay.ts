// The relay loop of one process: claims due deliveries while it has room, sends each on its own (a slow
// receiver's request never holds up the next claim), and keeps at most PER_ENDPOINT of one endpoint's in flight,
// so one slow or dead receiver holds a few slots and every other endpoint's deliveries go on.
import type { Db } from '../../db/connection.ts';
import { attemptDelivery, type Claimed, claimDue, type DeliveryOptions } from './delivery.ts';

/** Deliveries in flight in one process, all endpoints together. */
export const MAX_IN_FLIGHT = 32;
/** Deliveries of one endpoint in flight in one process. */
export const PER_ENDPOINT = 4;
/** How often an idle relay looks for due deliveries. */
const POLL_MS = 200;

export class WebhookRelay {
  private readonly busy = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly opts: DeliveryOptions,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops claiming, then waits for the deliveries in flight (each ends within the timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await Promise.all(this.running);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const room = MAX_IN_FLIGHT - this.running.size;
      let claimed: Claimed[] = [];
      if (room > 0) {
        claimed = await claimDue(this.db, {
          limit: room,
          perEndpoint: PER_ENDPOINT,
          busy: this.busy,
          // Past the timeout, with a margin for recording the attempt.
          leaseMs: this.opts.timeoutMs + 30_000,
        }).catch((err: unknown) => {
          this.log(`webhook relay: ${(err as Error).message}`);
          return [];
        });
      }
      for (const d of claimed) this.send(d);
      if (claimed.length === 0) await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private send(d: Claimed): void {
    this.busy.set(d.endpoint_id, (this.busy.get(d.endpoint_id) ?? 0) + 1);
    const p: Promise<void> = attemptDelivery(this.db, d, this.opts)
      .catch((err: unknown) => this.log(`webhook delivery ${d.id}: ${(err as Error).message}`))
      .finally(() => {
        this.running.delete(p);
        const n = (this.busy.get(d.endpoint_id) ?? 1) - 1;
        if (n <= 0) this.busy.delete(d.endpoint_id);
        else this.busy.set(d.endpoint_id, n);
      });
    this.running.add(p);
  }
}
