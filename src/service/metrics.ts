/**
 * pydhcp's metric set, in one table. Each row becomes a field of the object
 * createMetrics() returns: a metric with labels stays a metric (resolve its
 * children once at start, keep them), a metric without labels is its single
 * child, ready for `inc()` / `set()` / `observe()`.
 *
 *   const m = createMetrics();
 *   const rxDiscover = m.packetsReceived.labels("DISCOVER"); // once
 *   rxDiscover.inc();                                         // per packet, O(1)
 *
 * docs/service.md lists every metric; keep it in step with this table.
 */
import { MessageType } from "../codec/message.ts";
import type { DbErrorKind } from "../db/backend.ts";
import {
  type Counter,
  type CounterChild,
  type Gauge,
  type GaugeChild,
  type Histogram,
  type HistogramChild,
  Registry,
} from "./registry.ts";

/** RFC 2132 9.6 names, plus "other" for a missing or unknown option 53. */
export const RECEIVED_TYPES = [...Object.keys(MessageType), "other"] as const;
export const REPLY_TYPES = ["OFFER", "ACK", "NAK"] as const;

/** Why a request got no reply. One value per cause, so a graph tells what to fix. */
export const DROP_REASONS = [
  "decode_error", // not a DHCP message we can read (codec error)
  "not_request", // op is not BOOTREQUEST (RFC 2131 2), or no option 53 (BOOTP)
  "bad_giaddr", // giaddr no relay agent can have: 0/8, 127/8 from another host, link-local, multicast, 240/4, 255.255.255.255
  "not_for_us", // REQUEST naming another server (RFC 2131 4.3.2), or unicast meant elsewhere
  "unsupported", // a message type this server does not answer
  "queue_full", // the lookup queue was at its limit (about a second of work)
  "stale", // waited in the queue longer than a client waits for its answer
  "rate_limit", // the client MAC or relay circuit sent too fast
  "duplicate", // a retransmission of a request whose lookup is still running
  "db_error", // the database failed or timed out and lease memory could not answer
  "bad_answer", // a query row was unusable (bad address, mask, option value)
  "pool_exhausted", // the row named a pool with no free address
  "send_error", // the reply could not be encoded or sent
  "internal_error", // a bug: handling threw; the packet is dropped, the server goes on
  "shutdown", // arrived while the server was draining to stop
  "history_unrecorded", // its history event could not be written to the journal, so no reply left
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const DB_ERROR_KINDS = ["connect", "prepare", "query", "timeout"] as const satisfies readonly DbErrorKind[];
export const RELOAD_RESULTS = ["ok", "failed"] as const;
export const CACHE_RESULTS = ["hit", "negative_hit", "miss"] as const;

/** Seconds, 0.1 ms .. 2 s: SQLite answers in tens of µs, MySQL in ~1 ms, timeouts at 2 s. */
export const QUERY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2] as const;

/** Seconds, 0.25 ms .. 1 s: a reply's time inside the server, around the 5 ms p99 target. */
export const REPLY_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;

/** Seconds, 1 ms .. 1 s: the latency target is 5 ms at p99. */
export const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1] as const;

interface Row {
  kind: "counter" | "gauge" | "histogram";
  name: string;
  help: string;
  labels: readonly string[];
  /** label values (of the single label) created at start so their zero series show */
  init?: readonly string[];
  buckets?: readonly number[];
}

export const METRIC_TABLE = {
  packetsReceived: {
    kind: "counter",
    name: "pydhcp_packets_received_total",
    help: "DHCP requests received, by message type (option 53).",
    labels: ["type"],
    init: RECEIVED_TYPES,
  },
  repliesSent: {
    kind: "counter",
    name: "pydhcp_replies_sent_total",
    help: "Replies sent, by message type.",
    labels: ["type"],
    init: REPLY_TYPES,
  },
  replyTime: {
    kind: "histogram",
    name: "pydhcp_reply_seconds",
    help: "Time from reading a request off the socket to handing its reply to the kernel, by reply type: the server's own part of a client's wait (time in the kernel's receive queue before it is not included).",
    labels: ["type"],
    init: REPLY_TYPES,
    buckets: REPLY_BUCKETS,
  },
  noMatch: {
    kind: "counter",
    name: "pydhcp_no_match_total",
    help: "Requests for which no offer query returned a row (the client is unknown to the database).",
    labels: [],
  },
  dropped: {
    kind: "counter",
    name: "pydhcp_dropped_total",
    help: "Requests dropped without a reply, by reason.",
    labels: ["reason"],
    init: DROP_REASONS,
  },
  queueDepth: {
    kind: "gauge",
    name: "pydhcp_queue_depth",
    help: "Requests waiting for a lookup slot.",
    labels: [],
  },
  kernelDiscoverDropShare: {
    kind: "gauge",
    name: "pydhcp_kernel_discover_drop_share",
    help: "Share of arriving DISCOVERs the kernel drops before the server reads them (a socket filter, on only under a storm: most DISCOVERs read were being dropped anyway); 0 when off.",
    labels: [],
  },
  loopBreathers: {
    kind: "counter",
    name: "pydhcp_loop_breathers_total",
    help: "Times a stretch of packets held the event loop past a quarter of <maxWait> (a storm on lookups that run inline, SQLite) and the kernel dropped every new DISCOVER until the loop turned, so timers and the HTTP API got their turn.",
    labels: [],
  },
  lookupsInFlight: {
    kind: "gauge",
    name: "pydhcp_lookups_in_flight",
    help: "Database lookups running now (at most ThreadLimit).",
    labels: [],
  },
  queryDuration: {
    kind: "histogram",
    name: "pydhcp_query_duration_seconds",
    help: "Time each statement took, failures included: offer_N per lookup, history per batch of history rows, lease_write per lease write.",
    labels: ["query"],
    buckets: QUERY_BUCKETS,
  },
  eventLoopLag: {
    kind: "histogram",
    name: "pydhcp_event_loop_lag_seconds",
    help: "How late a 5 ms timer fired, sampled while packets arrive: while one piece of work holds the event loop, every packet waits that long.",
    labels: [],
    buckets: LAG_BUCKETS,
  },
  eventLoopLagMax: {
    kind: "gauge",
    name: "pydhcp_event_loop_lag_max_seconds",
    help: "The longest event-loop lag of the last minute.",
    labels: [],
  },
  answerCacheLookups: {
    kind: "counter",
    name: "pydhcp_answer_cache_lookups_total",
    help: "Offer-chain lookups by answer-cache result: hit (an answer reused), negative_hit (a remembered no-match), miss (the chain ran).",
    labels: ["result"],
    init: CACHE_RESULTS,
  },
  answerCacheEntries: {
    kind: "gauge",
    name: "pydhcp_answer_cache_entries",
    help: "Answers (and no-matches) held in the answer cache.",
    labels: [],
  },
  dbErrors: {
    kind: "counter",
    name: "pydhcp_db_errors_total",
    help: "Database errors, by kind (connect, prepare, query, timeout).",
    labels: ["kind"],
    init: DB_ERROR_KINDS,
  },
  reloads: {
    kind: "counter",
    name: "pydhcp_reloads_total",
    help: "Configuration reloads on SIGHUP, by result (a failed reload keeps the old configuration).",
    labels: ["result"],
    init: RELOAD_RESULTS,
  },
  historyRowsWritten: {
    kind: "counter",
    name: "pydhcp_history_rows_written_total",
    help: "History rows written to the database.",
    labels: [],
  },
  historyRowsJournaled: {
    kind: "counter",
    name: "pydhcp_history_rows_journaled_total",
    help: "History rows appended to the local journal (every row is, before its reply leaves).",
    labels: [],
  },
  historyBacklog: {
    kind: "gauge",
    name: "pydhcp_history_backlog_rows",
    help: "History rows in the journal not yet in the database.",
    labels: [],
  },
  historyWritable: {
    kind: "gauge",
    name: "pydhcp_history_writable",
    help: "1 while history rows reach the database, 0 while they wait in the journal (database or history table away).",
    labels: [],
  },
  historyQuarantined: {
    kind: "counter",
    name: "pydhcp_history_quarantined_total",
    help: "Damaged or refused journal lines moved to the quarantine file.",
    labels: [],
  },
  historyDuplicates: {
    kind: "counter",
    name: "pydhcp_history_duplicates_skipped_total",
    help: "Journal lines read again after a crash whose rows were already in the database (not written twice).",
    labels: [],
  },
  leasesInMemory: {
    kind: "gauge",
    name: "pydhcp_leases_in_memory",
    help: "Leases held in the lease memory.",
    labels: [],
  },
  outageAnswers: {
    kind: "counter",
    name: "pydhcp_outage_answers_total",
    help: "Replies answered from lease memory because the database was unavailable.",
    labels: [],
  },
  poolSize: {
    kind: "gauge",
    name: "pydhcp_pool_size",
    help: "Addresses a pool can hand out (ranges minus excludes).",
    labels: ["pool"],
  },
  poolFree: {
    kind: "gauge",
    name: "pydhcp_pool_free",
    help: "Addresses of a pool neither leased, offered nor on probation.",
    labels: ["pool"],
  },
  poolConflicts: {
    kind: "counter",
    name: "pydhcp_pool_conflicts_total",
    help: "Pool lease writes that lost to a concurrent write (deadlock, Galera certification) and were retried.",
    labels: ["pool"],
  },
  leasesReused: {
    kind: "counter",
    name: "pydhcp_leases_reused_total",
    help: "ACKs with the time left on an unchanged fresh lease, without a write (<leases><cacheThreshold>; pool leases also in pydhcp_pool_leases_reused_total).",
    labels: [],
  },
  poolReused: {
    kind: "counter",
    name: "pydhcp_pool_leases_reused_total",
    help: "REQUESTs ACKed with the time left on a fresh bound pool lease, without a write (<cacheThreshold>).",
    labels: ["pool"],
  },
  startTime: {
    kind: "gauge",
    name: "pydhcp_start_time_seconds",
    help: "Start time of the process, seconds since the epoch.",
    labels: [],
  },
} as const satisfies Record<string, Row>;

type Built<R> = R extends { kind: "counter"; labels: readonly [] }
  ? CounterChild
  : R extends { kind: "counter" }
    ? Counter
    : R extends { kind: "gauge"; labels: readonly [] }
      ? GaugeChild
      : R extends { kind: "gauge" }
        ? Gauge
        : R extends { kind: "histogram"; labels: readonly [] }
          ? HistogramChild
          : Histogram;

export type PydhcpMetrics = { readonly registry: Registry } & {
  readonly [K in keyof typeof METRIC_TABLE]: Built<(typeof METRIC_TABLE)[K]>;
};

export function createMetrics(now: () => number = Date.now): PydhcpMetrics {
  const registry = new Registry();
  const out: Record<string, unknown> = { registry };
  for (const [key, row] of Object.entries(METRIC_TABLE) as [string, Row][]) {
    const m =
      row.kind === "counter"
        ? registry.counter(row.name, row.help, row.labels)
        : row.kind === "gauge"
          ? registry.gauge(row.name, row.help, row.labels)
          : registry.histogram(row.name, row.help, row.labels, row.buckets ?? []);
    for (const v of row.init ?? []) m.labels(v);
    out[key] = row.labels.length === 0 ? m.labels() : m;
  }
  const metrics = out as PydhcpMetrics;
  metrics.startTime.set(Math.floor(now() / 1000));
  return metrics;
}
