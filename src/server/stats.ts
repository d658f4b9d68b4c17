/**
 * What the serving loop counts, mapped onto the Prometheus metric set
 * (service/metrics.ts). Label children are resolved once per value.
 */
import { DROP_REASONS, type DropReason, type PydhcpMetrics } from "../service/metrics.ts";

/** pydhcp_query_duration_seconds series beside offer_N: a history batch, a lease write */
export const HISTORY_SERIES = "history";
export const LEASE_WRITE_SERIES = "lease_write";

export interface ServerMetrics {
  received(type: string): void;
  sent(type: string): void;
  /** a reply handed to the kernel `seconds` after its request was read */
  replied(type: string, seconds: number): void;
  dropped(reason: string): void;
  noMatch(): void;
  queueDepth(n: number): void;
  /** the share of DISCOVERs the kernel drops unread now (socket-filter.ts), 0 when off */
  kernelDiscoverDrop(share: number): void;
  /** a stretch of packets held the event loop past a quarter of maxWait: every new DISCOVER dropped until it turned */
  loopBreather(): void;
  inFlight(n: number): void;
  /** a statement's time: offer_N per run, history per batch, lease_write per write */
  query(name: string, seconds: number): void;
  dbError(kind: "connect" | "prepare" | "query" | "timeout"): void;
  outageAnswer(): void;
  /** an ACK with the time left on an unchanged lease, nothing written (<leases><cacheThreshold>) */
  leaseReused(): void;
  /** a pool's size and free addresses (gauges) */
  pool(name: string, size: number, free: number): void;
  /** a pool write lost to a concurrent one and retried */
  poolConflict(name: string): void;
  poolReused(name: string): void;
}

/** The loop's own reasons -> the documented metric label. */
const DROP_LABEL: Record<string, DropReason> = {
  "decode-error": "decode_error",
  "not-dhcp": "not_request",
  "not-a-request": "not_request",
  "not-for-us": "not_for_us",
  "unknown-type": "unsupported",
  "bad-giaddr": "bad_giaddr",
  "bad-option82": "decode_error",
  "history-unrecorded": "history_unrecorded",
  "queue-full": "queue_full",
  stale: "stale",
  "rate-limit-mac": "rate_limit",
  "rate-limit-circuit": "rate_limit",
  "duplicate-in-flight": "duplicate",
  "db-error": "db_error",
  "bad-answer": "bad_answer",
  "address-in-use": "bad_answer",
  "pool-exhausted": "pool_exhausted",
  "send-error": "send_error",
  "encode-error": "send_error",
  "internal-error": "internal_error",
  shutdown: "shutdown",
};

export function serverMetrics(m: PydhcpMetrics): ServerMetrics {
  // one cache per metric, keyed by the label value itself: no key to build per packet
  const cacheFor = <C>(metric: { labels(v: string): C }) => {
    const cache = new Map<string, C>();
    return (v: string): C => {
      let c = cache.get(v);
      if (!c) cache.set(v, (c = metric.labels(v)));
      return c;
    };
  };
  const receivedChild = cacheFor(m.packetsReceived);
  const sentChild = cacheFor(m.repliesSent);
  const replyChild = cacheFor(m.replyTime);
  const droppedChild = cacheFor(m.dropped);
  const dbErrorChild = cacheFor(m.dbErrors);
  const known = new Set<string>(DROP_REASONS);
  const queryChild = cacheFor(m.queryDuration);
  return {
    received: (t) => receivedChild(t in TYPE_OK ? t : "other").inc(),
    sent: (t) => sentChild(t).inc(),
    replied: (t, s) => replyChild(t).observe(s),
    dropped: (r) => {
      const label = DROP_LABEL[r];
      if (label && known.has(label)) droppedChild(label).inc();
    },
    noMatch: () => m.noMatch.inc(),
    queueDepth: (n) => m.queueDepth.set(n),
    kernelDiscoverDrop: (share) => m.kernelDiscoverDropShare.set(share),
    loopBreather: () => m.loopBreathers.inc(),
    inFlight: (n) => m.lookupsInFlight.set(n),
    query: (name, s) => queryChild(name).observe(s),
    dbError: (k) => dbErrorChild(k).inc(),
    outageAnswer: () => m.outageAnswers.inc(),
    leaseReused: () => m.leasesReused.inc(),
    pool: (name, size, free) => {
      m.poolSize.labels(name).set(size);
      m.poolFree.labels(name).set(free);
    },
    poolConflict: (name) => m.poolConflicts.labels(name).inc(),
    poolReused: (name) => m.poolReused.labels(name).inc(),
  };
}

const TYPE_OK: Record<string, true> = {
  DISCOVER: true,
  OFFER: true,
  REQUEST: true,
  DECLINE: true,
  ACK: true,
  NAK: true,
  RELEASE: true,
  INFORM: true,
};
