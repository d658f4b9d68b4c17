/**
 * What share of arriving DISCOVERs the kernel should drop before the server
 * reads them (socket-filter.ts), from what the server itself had to drop.
 *
 * Under a storm the server reads every DISCOVER and drops most of them
 * (admission.ts: stale, queue full). Each one read costs the serving thread
 * a wake, a copy and a callback: at 50,000 DISCOVERs a second offered to a
 * server that serves 4,500 that is a tenth of the core its lookups need.
 * So once a window shows most DISCOVERs going unserved, the kernel drops
 * a share of them at random, and the server goes on reading HEADROOM times
 * as many as it serves: enough that a faster stretch (cache hits) finds
 * work, and that its own drops, which pick the oldest and keep the wait
 * short, still decide which are answered. REQUESTs are never filtered.
 *
 * Per window the server counts the DISCOVERs it served (a lookup ran) and
 * those it dropped for overload (stale, no room in the queue): together,
 * the ones it wanted to serve. With `share` in force, `wanted / (1 -
 * share)` of those arrived. Over the last second or so (sums decayed by
 * DECAY a window) the next share lets through HEADROOM times what was
 * served: 1 - HEADROOM * served / arrived. The sums matter because the
 * drops come in bursts (admission.ts cuts the kernel's backlog when it
 * passes a quarter of maxWait, then reads on): one window drops half of
 * what it read and the next none, while the lookups go on at one pace.
 * DISCOVERs dropped for other reasons (a flooding MAC's, rate-limited)
 * count for nothing: the filter never spends other clients' DISCOVERs to
 * spare the server reading a flooder's, which it drops cheaply itself.
 * A share under MIN_SHARE is none: the filter comes off. And when a
 * window's arrivals fall under the rate the server has been serving, the
 * storm is over: the filter comes off at once and the sums start again,
 * so a client after a storm does not lose its DISCOVER to one.
 *
 * No sockets, no clock of its own: the server counts and calls
 * window(now) every WINDOW_MS (late when the loop is busy; `now` says by
 * how much).
 */

/** how often the share is decided, ms */
export const WINDOW_MS = 250;
/** DISCOVERs read per DISCOVER served while the filter is on */
export const HEADROOM = 1.5;
/** some always get through, so a window always has something to measure */
export const MAX_SHARE = 0.98;
/** below this the filter is not worth its branch in the kernel */
export const MIN_SHARE = 0.05;

/** weight of the sums from before a window: about a second of history at 250 ms windows */
export const DECAY = 0.7;

export class DiscoverShed {
  /** the share in force, 0..MAX_SHARE */
  private current = 0;
  private served = 0;
  private dropped = 0;
  /** decayed sums: DISCOVERs served, DISCOVERs (that wanted serving) arrived, ms */
  private servedSum = 0;
  private arrivedSum = 0;
  private ms = 0;
  private last: number | null = null;

  get share(): number {
    return this.current;
  }

  /** A DISCOVER whose lookup ran. */
  discoverServed(): void {
    this.served++;
  }

  /** A DISCOVER dropped for overload: stale, or no room in the queue. */
  discoverDropped(): void {
    this.dropped++;
  }

  /** Ends a window at `now` (ms, monotonic): the share for the next one. */
  window(now: number): number {
    const dt = this.last === null ? WINDOW_MS : Math.max(1, now - this.last);
    this.last = now;
    const arrivedNow = (this.served + this.dropped) / (1 - this.current);
    this.servedSum = this.servedSum * DECAY + this.served;
    this.arrivedSum = this.arrivedSum * DECAY + arrivedNow;
    this.ms = this.ms * DECAY + dt;
    this.served = this.dropped = 0;
    if (this.current > 0 && arrivedNow / dt < this.servedSum / this.ms) {
      // fewer came than the server has been serving: the storm is over
      this.servedSum = this.arrivedSum = this.ms = 0;
      this.current = 0;
      return 0;
    }
    const next = this.arrivedSum > 0 ? 1 - (HEADROOM * this.servedSum) / this.arrivedSum : 0;
    this.current = next < MIN_SHARE ? 0 : Math.min(MAX_SHARE, next);
    return this.current;
  }

  /** Forgets the share and the sums (the filter came off for another reason, or could not go on). */
  reset(): void {
    this.current = 0;
    this.served = this.dropped = 0;
    this.servedSum = this.arrivedSum = this.ms = 0;
  }
}
