// The relay loop of one process: claims due deliveries while it has room and sends each on its own (a slow
// receiver's request never holds up the next claim). How many of one endpoint's deliveries are in flight is
// bounded across all processes by their leases (claimDue), so one slow or dead receiver holds a few slots and
// every other endpoint's deliveries go on.
import type { Db } from '../../db/connection.ts';
import { attemptDelivery, type Claimed, claimDue, type DeliveryOptions } from './delivery.ts';

/** Deliveries in flight in one process, all endpoints together. */
export const MAX_IN_FLIGHT = 32;
/** How often an idle relay looks for due deliveries. */
const POLL_MS = 200;

export interface RelayOptions extends DeliveryOptions {
  /** Deliveries of one endpoint in flight at once, all processes together (config.webhookEndpointConcurrency). */
  perEndpoint: number;
  /** Deliveries in flight in this process (MAX_IN_FLIGHT unless told). */
  maxInFlight?: number;
  /** Only these organizations' deliveries (config.webhookOrganizations); empty: all. */
  organizations?: readonly string[];
}

export class WebhookRelay {
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly db: Db,
    private readonly opts: RelayOptions,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops claiming, then waits for the deliveries in flight (each ends within the timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    await Promise.all(this.running);
  }

  private async run(): Promise<void> {
    const max = this.opts.maxInFlight ?? MAX_IN_FLIGHT;
    while (!this.stopping) {
      const room = max - this.running.size;
      let claimed: Claimed[] = [];
      if (room > 0) {
        claimed = await claimDue(this.db, {
          limit: room,
          perEndpoint: this.opts.perEndpoint,
          // Past the timeout, with a margin for recording the attempt.
          leaseMs: this.opts.timeoutMs + 30_000,
          organizations: this.opts.organizations,
        }).catch((err: unknown) => {
          this.log(`webhook relay: ${(err as Error).message}`);
          return [];
        });
      }
      for (const d of claimed) this.send(d);
      // Idle, or full: wait for the poll interval, or for a delivery to end (which frees a slot of its
      // endpoint, so its next delivery can go at once).
      if (claimed.length === 0 || this.running.size >= max) {
        await new Promise<void>((r) => {
          const timer = setTimeout(r, POLL_MS);
          this.wake = () => {
            clearTimeout(timer);
            r();
          };
        });
        this.wake = null;
      }
    }
  }

  private send(d: Claimed): void {
    const p: Promise<void> = attemptDelivery(this.db, d, this.opts)
      .catch((err: unknown) => this.log(`webhook delivery ${d.id}: ${(err as Error).message}`))
      .finally(() => {
        this.running.delete(p);
        this.wake?.();
      });
    this.running.add(p);
  }
}
