/*
 * loadgen: a DHCPv4 load generator for the benchmark, a relay running full
 * DORA exchanges at a fixed rate, as perfdhcp does, at a fraction of its CPU.
 *
 * On the benchmark's two cores perfdhcp 2.2 takes a whole core and more
 * from about 10,000 DORA/s (its receiving thread spins) and stops near
 * 13,000/s, so it, not the server, set the maximum of every fast row and
 * the tail at 80% of it. loadgen sends and receives on one thread with
 * sendmmsg/recvmmsg and sleeps between looks at its socket.
 *
 * loadgen sleeps on a timer, never on the socket (see the main loop).
 *
 * It takes the subset of perfdhcp's command line the harness uses and
 * prints the subset of perfdhcp's report bench/perf/perfdhcp.ts reads, so
 * either can drive a run:
 *
 *   loadgen -4 -l <local> -b mac=<base> -R <clients> -r <rate> -p <seconds>
 *           [-d <drop-seconds>] [-W <wait-us>] [-x t|l|tl] <server>
 *
 * The packets are perfdhcp's: relayed (giaddr = local, hops 1, from port 67
 * to the server's port 67), DISCOVER with options 53, 55 (1 28 2 3 15 6 12)
 * and 61 (01 + MAC); on an OFFER, at once, a REQUEST with the same xid and
 * options 50 (the offered address) and 54 (the server identifier). Each
 * exchange draws its client r uniformly from [0, clients) and derives the
 * MAC from the base as perfdhcp does (bench/perf/clients.ts): r added octet
 * by octet from the last, without carry.
 *
 * Times: a packet's send time is read just before the sendmmsg call that
 * sends it; a reply's receive time is the kernel's (SO_TIMESTAMPNS), when
 * it reached the socket, so a wait of loadgen's for a CPU is not counted as
 * the server's. A reply later than -d seconds (default 1) counts as a drop
 * (and the late packet as an orphan), as in perfdhcp. After the period it
 * waits up to -W microseconds for replies still due.
 *
 * Exit 0 when every exchange completed, 3 when some did not (perfdhcp's
 * codes), 2 on a bad command line, 1 on a socket error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define BUF 1500
#define OPTIONS 240       /* fixed header (236) + magic cookie (4) */
#define SOCKBUF (8 << 20) /* hold a burst of replies while the loop is descheduled */
#define POLL_NS 100000    /* the longest sleep between looks at the socket */
#define MIN_SLEEP_NS 50000 /* the shortest: see the main loop */

static const uint8_t COOKIE[4] = {99, 130, 83, 99};
static const uint8_t PRL[7] = {1, 28, 2, 3, 15, 6, 12};

enum { FREE, DISCOVER_SENT, REQUEST_SENT, DONE, DROPPED };

typedef struct {
  int64_t d_sent, d_recv, r_sent, r_recv; /* ns, CLOCK_REALTIME */
  uint32_t yiaddr, server_id;             /* network order */
  uint32_t client;                        /* the draw r */
  uint8_t state;
} Exchange;

typedef struct {
  uint64_t sent, received, drops, orphans, rejected;
  double sum, sumsq, min, max; /* ms */
} Half;

static struct {
  struct in_addr local, server;
  uint8_t base[6];
  uint64_t clients, rate;
  double period, drop;
  int64_t wait_ns;
  int timestamps, leases;
} cfg = {.clients = 1, .drop = 1.0, .wait_ns = 1000000000};

static Exchange *ex;
static uint64_t total;  /* exchanges the period holds */
static uint32_t xid0;   /* xid of exchange 0: random, so a late reply to another run matches nothing */
static Half dq, rq;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void usage(const char *me) {
  fprintf(stderr, "usage: %s -4 -l <local> -b mac=<aa:bb:cc:dd:ee:ff> -R <clients> -r <rate> -p <seconds> [-d <seconds>] [-W <us>] [-x t|l|tl] <server>\n", me);
  exit(2);
}

static double number(const char *s, const char *me) {
  char *end;
  double v = strtod(s, &end);
  if (*s == '\0' || *end != '\0' || !(v >= 0)) usage(me);
  return v;
}

static void parse(int argc, char **argv) {
  int have_local = 0, have_rate = 0, have_period = 0;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-4") == 0) continue;
    if (a[0] != '-') break;
    if (i + 1 >= argc) usage(argv[0]);
    const char *v = argv[++i];
    if (strcmp(a, "-l") == 0) have_local = inet_pton(AF_INET, v, &cfg.local) == 1;
    else if (strcmp(a, "-b") == 0) {
      unsigned m[6];
      if (sscanf(v, "mac=%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) usage(argv[0]);
      for (int k = 0; k < 6; k++) cfg.base[k] = (uint8_t)m[k];
    } else if (strcmp(a, "-R") == 0) cfg.clients = (uint64_t)number(v, argv[0]);
    else if (strcmp(a, "-r") == 0) { cfg.rate = (uint64_t)number(v, argv[0]); have_rate = 1; }
    else if (strcmp(a, "-p") == 0) { cfg.period = number(v, argv[0]); have_period = 1; }
    else if (strcmp(a, "-d") == 0) cfg.drop = number(v, argv[0]);
    else if (strcmp(a, "-W") == 0) cfg.wait_ns = (int64_t)(number(v, argv[0]) * 1000);
    else if (strcmp(a, "-x") == 0) {
      cfg.timestamps = strchr(v, 't') != NULL;
      cfg.leases = strchr(v, 'l') != NULL;
    } else usage(argv[0]);
  }
  if (i != argc - 1 || inet_pton(AF_INET, argv[i], &cfg.server) != 1) usage(argv[0]);
  if (!have_local || !have_rate || !have_period || cfg.rate == 0 || cfg.clients == 0 || cfg.drop <= 0) usage(argv[0]);
}

/* exchange n's MAC: its draw added to the base per octet, without carry (perfdhcp's generateMacAddress) */
static void mac_of(uint64_t n, uint8_t out[6]) {
  uint32_t r = ex[n].client;
  memcpy(out, cfg.base, 6);
  for (int k = 5; k >= 0; k--) {
    out[k] = (uint8_t)(out[k] + (r & 0xff));
    if (r < 256) break;
    r >>= 8;
  }
}

/* xorshift64*: the draws need no more than uniformity */
static uint64_t rng_state;
static uint32_t draw(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)(((rng_state * 0x2545F4914F6CDD1DULL) >> 32) % cfg.clients);
}

static uint8_t *opt(uint8_t *o, uint8_t code, const void *val, uint8_t len) {
  o[0] = code;
  o[1] = len;
  memcpy(o + 2, val, len);
  return o + 2 + len;
}

/* Builds exchange n's DISCOVER (type 1) or REQUEST (type 3) into out; returns its length. */
static size_t request(uint64_t n, int type, uint8_t *out) {
  uint8_t mac[6], cid[7], t = (uint8_t)type;
  uint32_t xid = htonl(xid0 + (uint32_t)n);
  mac_of(n, mac);
  memset(out, 0, OPTIONS);
  out[0] = 1; /* BOOTREQUEST */
  out[1] = 1; /* Ethernet */
  out[2] = 6;
  out[3] = 1; /* hops: one relay */
  memcpy(out + 4, &xid, 4);
  memcpy(out + 24, &cfg.local, 4); /* giaddr */
  memcpy(out + 28, mac, 6);
  memcpy(out + 236, COOKIE, 4);
  uint8_t *o = out + OPTIONS;
  o = opt(o, 53, &t, 1);
  if (type == 3) {
    o = opt(o, 50, &ex[n].yiaddr, 4);
    o = opt(o, 54, &ex[n].server_id, 4);
  }
  o = opt(o, 55, PRL, sizeof PRL);
  cid[0] = 1;
  memcpy(cid + 1, mac, 6);
  o = opt(o, 61, cid, 7);
  *o++ = 255;
  return (size_t)(o - out);
}

/* The reply's message type and server identifier (0 when absent); 0 for a malformed reply. */
static int reply_type(const uint8_t *p, size_t len, uint32_t *server_id) {
  int type = 0;
  size_t i = OPTIONS;
  *server_id = 0;
  if (len < OPTIONS || p[0] != 2 || memcmp(p + 236, COOKIE, 4) != 0) return 0;
  while (i < len) {
    uint8_t code = p[i];
    if (code == 0) { i++; continue; }
    if (code == 255) return type;
    if (i + 1 >= len || i + 2 + p[i + 1] > len) return 0;
    if (code == 53 && p[i + 1] == 1) type = p[i + 2];
    if (code == 54 && p[i + 1] == 4) memcpy(server_id, p + i + 2, 4);
    i += 2 + (size_t)p[i + 1];
  }
  return 0;
}

static void count(Half *h, int64_t sent, int64_t recv) {
  double ms = (double)(recv - sent) / 1e6;
  if (h->received == 0 || ms < h->min) h->min = ms;
  if (h->received == 0 || ms > h->max) h->max = ms;
  h->received++;
  h->sum += ms;
  h->sumsq += ms * ms;
}

/* outgoing batch */
static uint8_t out[BATCH][BUF];
static struct iovec out_iov[BATCH];
static struct mmsghdr tx[BATCH];
static uint64_t out_n[BATCH];
static int out_type[BATCH];
static int queued;
static struct sockaddr_in to;
static int fd;

static void flush(void) {
  if (queued == 0) return;
  int64_t t = now_ns();
  for (int k = 0; k < queued; k++) {
    if (out_type[k] == 1) ex[out_n[k]].d_sent = t;
    else ex[out_n[k]].r_sent = t;
  }
  for (int off = 0; off < queued;) {
    int sent = sendmmsg(fd, tx + off, (unsigned)(queued - off), 0);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      poll(&p, 1, 1);
      continue;
    }
    /* a packet the kernel refused is not sent: it times out as a drop */
    off += sent > 0 ? sent : 1;
  }
  queued = 0;
}

static void enqueue(uint64_t n, int type) {
  if (queued == BATCH) flush();
  if (type == 1) ex[n].client = draw();
  size_t len = request(n, type, out[queued]);
  out_iov[queued] = (struct iovec){.iov_base = out[queued], .iov_len = len};
  tx[queued].msg_hdr = (struct msghdr){.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &out_iov[queued], .msg_iovlen = 1};
  out_n[queued] = n;
  out_type[queued] = type;
  queued++;
  if (type == 1) { dq.sent++; ex[n].state = DISCOVER_SENT; }
  else { rq.sent++; ex[n].state = REQUEST_SENT; }
}

static void receive(const uint8_t *p, size_t len, int64_t at) {
  uint32_t sid, xid;
  int type = reply_type(p, len, &sid);
  if (type != 2 && type != 5 && type != 6) return;
  memcpy(&xid, p + 4, 4);
  uint64_t n = (uint32_t)(ntohl(xid) - xid0);
  uint8_t mac[6];
  if (n >= total) { (type == 2 ? &dq : &rq)->orphans++; return; }
  mac_of(n, mac);
  Exchange *e = &ex[n];
  int64_t drop_ns = (int64_t)(cfg.drop * 1e9);
  if (memcmp(p + 28, mac, 6) != 0) { (type == 2 ? &dq : &rq)->orphans++; return; }
  if (type == 2) {
    if (e->state != DISCOVER_SENT || at - e->d_sent > drop_ns) { dq.orphans++; return; }
    e->d_recv = at;
    count(&dq, e->d_sent, at);
    memcpy(&e->yiaddr, p + 16, 4);
    e->server_id = sid ? sid : cfg.server.s_addr;
    enqueue(n, 3);
    return;
  }
  if (e->state != REQUEST_SENT || at - e->r_sent > drop_ns) { rq.orphans++; return; }
  if (type == 6) { rq.rejected++; e->state = DROPPED; return; } /* NAK: the exchange failed */
  e->r_recv = at;
  count(&rq, e->r_sent, at);
  e->state = DONE;
}

/* Exchanges from *cursor on whose wait ran out by `now` become drops. */
static void expire(uint64_t *cursor, uint64_t sent, int64_t now) {
  int64_t drop_ns = (int64_t)(cfg.drop * 1e9);
  while (*cursor < sent) {
    Exchange *e = &ex[*cursor];
    if (e->state == DISCOVER_SENT && now - e->d_sent > drop_ns) { dq.drops++; e->state = DROPPED; }
    else if (e->state == REQUEST_SENT && now - e->r_sent > drop_ns) { rq.drops++; e->state = DROPPED; }
    else if (e->state == DISCOVER_SENT || e->state == REQUEST_SENT) return;
    (*cursor)++;
  }
}

static void print_half(const char *name, const Half *h) {
  printf("***Statistics for: %s***\n", name);
  printf("sent packets: %llu\nreceived packets: %llu\ndrops: %llu\n", (unsigned long long)h->sent, (unsigned long long)h->received, (unsigned long long)h->drops);
  printf("drops ratio: %.3f %%\n", h->sent ? 100.0 * (double)h->drops / (double)h->sent : 0.0);
  printf("orphans: %llu\nrejected leases: %llu\n\n", (unsigned long long)h->orphans, (unsigned long long)h->rejected);
  if (h->received == 0) {
    printf("min delay: n/a\navg delay: n/a\nmax delay: n/a\nstd deviation: n/a\n\n");
    return;
  }
  double avg = h->sum / (double)h->received;
  double var = h->sumsq / (double)h->received - avg * avg;
  printf("min delay: %.3f ms\navg delay: %.3f ms\nmax delay: %.3f ms\nstd deviation: %.3f ms\n\n", h->min, avg, h->max, sqrt(var > 0 ? var : 0));
}

static void print_timestamps(const char *name, int request, int64_t t0) {
  printf("***Timestamps for packets: %s***\n", name);
  for (uint64_t n = 0; n < total; n++) {
    const Exchange *e = &ex[n];
    int64_t s = request ? e->r_sent : e->d_sent, r = request ? e->r_recv : e->d_recv;
    if (r == 0) continue;
    printf("sent / received: %013.6f / %013.6f\n", (double)(s - t0) / 1e9, (double)(r - t0) / 1e9);
  }
  printf("\n");
}

static void print_leases(const char *name, int request) {
  printf("***Leases for %s***\nclient_id,adrress,prefix\n", name);
  for (uint64_t n = 0; n < total; n++) {
    const Exchange *e = &ex[n];
    if ((request ? e->r_recv : e->d_recv) == 0) continue;
    uint8_t mac[6];
    char ip[INET_ADDRSTRLEN];
    mac_of(n, mac);
    inet_ntop(AF_INET, &e->yiaddr, ip, sizeof ip);
    printf("01%02x%02x%02x%02x%02x%02x,%s,\n", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], ip);
  }
  printf("\n\n");
}

int main(int argc, char **argv) {
  parse(argc, argv);
  total = (uint64_t)ceil((double)cfg.rate * cfg.period);
  ex = calloc(total ? total : 1, sizeof *ex);
  if (!ex) { perror("calloc"); return 1; }
  xid0 = (uint32_t)(now_ns() ^ ((int64_t)getpid() << 16));
  rng_state = (uint64_t)now_ns() * 0x9E3779B97F4A7C15ULL | 1;

  fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int one = 1, size = SOCKBUF;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* FORCE ignores net.core.rmem_max/wmem_max but needs CAP_NET_ADMIN */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0) { perror("SO_TIMESTAMPNS"); return 1; }
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(67), .sin_addr = cfg.local};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) { perror("bind"); return 1; }
  to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(67), .sin_addr = cfg.server};

  static uint8_t in[BATCH][BUF];
  static char ctl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
  static struct iovec in_iov[BATCH];
  static struct mmsghdr rx[BATCH];
  for (int k = 0; k < BATCH; k++) {
    in_iov[k] = (struct iovec){.iov_base = in[k], .iov_len = BUF};
    rx[k].msg_hdr = (struct msghdr){.msg_iov = &in_iov[k], .msg_iovlen = 1};
  }

  const int64_t t0 = now_ns();
  const int64_t period_end = t0 + (int64_t)(cfg.period * 1e9);
  const int64_t interval = 1000000000 / (int64_t)cfg.rate;
  uint64_t started = 0, cursor = 0;
  int64_t last_expire = t0;
  for (;;) {
    int64_t now = now_ns();
    /* the DISCOVERs due by now: the rate is kept however late the loop wakes */
    uint64_t due = (uint64_t)((double)(now - t0) * (double)cfg.rate / 1e9) + 1;
    if (due > total) due = total;
    while (started < due) enqueue(started++, 1);
    flush();
    if (now - last_expire >= 10000000) { expire(&cursor, started, now); last_expire = now; }
    if (started == total && (cursor == total || now > period_end + cfg.wait_ns)) break;

    /* sleep until the next DISCOVER is due, at most POLL_NS: on a timer, never
     * waiting on the socket, so a reply wakes nobody and the server's send
     * does not pay for waking loadgen (an IPI, a VM exit on a VM). The
     * reply's time is the kernel's, so the wait is not in the delays. */
    int64_t wake = started < total ? t0 + (int64_t)started * interval : now + POLL_NS;
    if (wake > now + POLL_NS) wake = now + POLL_NS;
    /* Never shorter than MIN_SLEEP_NS: a sleep of a few µs, due when the
     * next DISCOVER falls just after a turn's work, cost far more than it
     * waits on a Firecracker VM (ceiling responder at 24,000/s: loadgen 74%
     * of a core, machine 91% busy; with this floor 13% and 12%). The
     * DISCOVERs due meanwhile leave together on the next turn, a few at a
     * time; the rate is kept, as `due` counts from t0. */
    if (wake < now + MIN_SLEEP_NS) wake = now + MIN_SLEEP_NS;
    {
      struct timespec ts = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000};
      int r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
      if (r != 0 && r != EINTR) { errno = r; perror("clock_nanosleep"); return 1; }
    }
    for (;;) {
      for (int k = 0; k < BATCH; k++) {
        rx[k].msg_hdr.msg_control = ctl[k];
        rx[k].msg_hdr.msg_controllen = sizeof ctl[k];
      }
      int got = recvmmsg(fd, rx, BATCH, MSG_DONTWAIT, NULL);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        perror("recvmmsg");
        return 1;
      }
      int64_t fallback = now_ns();
      for (int k = 0; k < got; k++) {
        int64_t at = fallback;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&rx[k].msg_hdr); c; c = CMSG_NXTHDR(&rx[k].msg_hdr, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec t;
            memcpy(&t, CMSG_DATA(c), sizeof t);
            at = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
          }
        }
        if (!(rx[k].msg_hdr.msg_flags & MSG_TRUNC)) receive(in[k], rx[k].msg_len, at);
      }
      flush(); /* the REQUESTs for this batch's OFFERs */
      if (got < BATCH) break;
    }
  }
  expire(&cursor, started, INT64_MAX);

  double elapsed = (double)(now_ns() - t0) / 1e9;
  printf("***Rate statistics***\nRate: %.3f 4-way exchanges/second, expected rate: %llu\n\n", (double)rq.received / elapsed, (unsigned long long)cfg.rate);
  print_half("DISCOVER-OFFER", &dq);
  print_half("REQUEST-ACK", &rq);
  if (cfg.timestamps) {
    print_timestamps("DISCOVER-OFFER", 0, t0);
    print_timestamps("REQUEST-ACK", 1, t0);
  }
  if (cfg.leases) {
    print_leases("DISCOVER-OFFER", 0);
    print_leases("REQUEST-ACK", 1);
  }
  return rq.received == dq.sent ? 0 : 3;
}
