import type { SigilError } from '../errors/index.js';
import type { Log } from './config.js';
import type { PendingQueue, PendingRow } from './store/pg/pending.js';

const PUMP_MAX = 1000;
const PUMP_IN_FLIGHT = 4000;

export interface PumpConfig {
  queue: PendingQueue;
  /** The replica's log core while it sequences (undefined: the pump stops). */
  core(): Log | undefined;
  closed(): boolean;
}

/**
 * Sequencer only: integrates appends that other replicas queued, then deletes them. Reads run
 * ahead of integration (up to PUMP_IN_FLIGHT rows) so the queue feeds whole batches to the core;
 * each read skips the rows in `pumped`, and rows leave it once deleted or failed, so a failed
 * row is read again (rows integrated meanwhile come back as duplicates). A notification that
 * arrives while a pump runs makes it go round again, even after its last read.
 */
export class PendingPump {
  private pumping = false;
  private again = false;
  /** Queue ids handed to the core and not yet deleted (or given up on): the pump skips them. */
  private readonly pumped = new Set<number>();
  private wake: (() => void) | undefined;

  constructor(private readonly config: PumpConfig) {}

  /** A new sequencer starts from the queue as it is. */
  reset(): void {
    this.pumped.clear();
  }

  run(): void {
    if (!this.config.core()) return;
    if (this.pumping) {
      this.again = true;
      this.wake?.();
      return;
    }
    this.pumping = true;
    void (async () => {
      const inFlight = new Set<Promise<void>>();
      try {
        do {
          this.again = false;
          for (;;) {
            const core = this.config.core();
            if (!core || this.config.closed()) return;
            while (this.pumped.size >= PUMP_IN_FLIGHT && inFlight.size > 0) await Promise.race(inFlight);
            // Only this loop adds to `pumped`, so the rows read are all new.
            const rows = await this.config.queue.next([...this.pumped], PUMP_MAX);
            if (rows.length === 0) break;
            for (const r of rows) this.pumped.add(r.id);
            const p = this.integrate(core, rows).finally(() => {
              for (const r of rows) this.pumped.delete(r.id);
              inFlight.delete(p);
            });
            inFlight.add(p);
          }
          // Rows queued from now on are announced by a notification: it ends this wait early.
          while (!this.again && inFlight.size > 0) {
            await Promise.race([...inFlight, new Promise<void>((r) => (this.wake = r))]);
            this.wake = undefined;
          }
        } while (this.again && !this.config.closed());
      } catch {
        // database unreachable: the next notification or poll retries
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async integrate(core: Log, rows: PendingRow[]): Promise<void> {
    const settled = await Promise.allSettled(
      rows.map((r) => core.append(r.leaf, { indexKeys: parseKeys(r.index_keys) })),
    );
    // Rows the core refuses as malformed would be refused forever: drop them too.
    const done = rows.filter((_, i) => {
      const st = settled[i]!;
      return (
        st.status === 'fulfilled' || ['INVALID_INPUT', 'TOO_LARGE'].includes((st.reason as SigilError)?.code)
      );
    });
    await this.config.queue.delete(done.map((r) => r.id)).catch(() => undefined);
  }
}

function parseKeys(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}
