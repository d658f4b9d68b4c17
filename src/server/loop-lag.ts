/**
 * Event-loop lag: how late a timer that should fire every `intervalMs`
 * fires. Every packet waiting while one piece of work holds the loop
 * (a big SQL batch, a garbage collection, a sweep over a large map) waits
 * that long, so this is the floor of the latency tail. Each tick's lag
 * (the gap since the previous tick minus the interval, never below 0) is
 * handed to `observe`; the longest of the last minute is kept for a gauge.
 *
 * The timer runs only while packets arrive (`poke()` per packet): a 5 ms
 * timer costs an idle server about 1.5% of a core, and an idle loop has no
 * lag worth a sample. A second without a packet stops it.
 */

/** one slot per 10 s; the longest lag over the last six */
const SLOT_MS = 10_000;
const SLOTS = 6;
/** the timer stops after this long without a packet */
export const IDLE_STOP_MS = 1000;

export class LoopLag {
  private timer: ReturnType<typeof setInterval> | null = null;
  private last = 0;
  private readonly slots = new Float64Array(SLOTS);
  private slotStart = 0;
  private slot = 0;
  /** a packet came since the last tick */
  private busy = false;
  private idleMs = 0;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    /** each tick's lag, milliseconds */
    private readonly observe: (ms: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.slotStart = this.now();
  }

  /** A packet arrived: sample while they do. Cheap enough for every packet. */
  poke(): void {
    this.busy = true;
    if (this.timer === null && !this.stopped) this.arm();
  }

  private arm(): void {
    // the time the timer was off is not lag
    this.last = this.now();
    this.idleMs = 0;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    // a metric: never what keeps the process alive
    this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** One tick: what the timer runs (tests call it with their own clock). */
  tick(): void {
    const t = this.now();
    const lag = Math.max(0, t - this.last - this.intervalMs);
    this.idleMs = this.busy ? 0 : this.idleMs + (t - this.last);
    this.busy = false;
    this.last = t;
    this.observe(lag);
    this.rotate(t);
    if (lag > this.slots[this.slot]!) this.slots[this.slot] = lag;
    if (this.idleMs >= IDLE_STOP_MS) this.disarm();
  }

  /** Moves to the slot of time `t`, emptying the ones passed (also while the timer was off). */
  private rotate(t: number): void {
    if (t - this.slotStart >= SLOT_MS * SLOTS) {
      // a long quiet spell: everything is older than a minute
      this.slots.fill(0);
      this.slotStart = t;
      return;
    }
    while (t - this.slotStart >= SLOT_MS) {
      this.slotStart += SLOT_MS;
      this.slot = (this.slot + 1) % SLOTS;
      this.slots[this.slot] = 0;
    }
  }

  /** The longest lag of the last minute, milliseconds. */
  get maxMs(): number {
    this.rotate(this.now());
    let m = 0;
    for (const v of this.slots) if (v > m) m = v;
    return m;
  }

  /** For good: pokes no longer start it (shutdown). */
  stop(): void {
    this.stopped = true;
    this.disarm();
  }
}
