/*
 * ceiling: a canned-answer DHCPv4 responder for the load benchmark.
 *
 * This is NOT a DHCP server. It keeps no leases, reads no config and checks
 * nothing beyond what it needs to answer. It exists to mark the measurement
 * ceiling: the highest rate the harness (perfdhcp, the veth pair, the shared
 * cores) can measure at all when the server costs almost nothing. No server
 * can be measured above it on the same machine.
 *
 *   ceiling <bind-address> <port> <server-id-address> [burn-us]
 *
 * burn-us (default 0) spins that many microseconds of this thread's CPU
 * time per answered packet: a server with a given CPU cost per exchange
 * and no pauses at all (no GC, no database, no disk), to tell the tail the
 * shared cores give such a server from the tail a real server adds.
 *
 * DISCOVER gets an OFFER, REQUEST gets an ACK, anything else (other types,
 * malformed or truncated packets, unknown clients) gets nothing. The address
 * is the benchmark's reservation (bench/perf/clients.ts): client
 * 00:0c:01:00:00:00 + i gets 198.19.1.0 + i, and the client identifier is
 * echoed, so the harness's reservation check passes. Replies go to
 * giaddr:67 when relayed (RFC 2131 4.1), else back to the sender. SIGTERM
 * and SIGINT exit 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define BUF 2048          /* larger than any DHCP datagram perfdhcp sends */
#define OPTIONS 240       /* fixed header (236) + magic cookie (4) */
#define MIN_REPLY 300     /* BOOTP minimum (RFC 1542 2.1) */
#define RCVBUF (4 << 20)  /* hold a burst while the loop is descheduled */

static const uint8_t COOKIE[4] = {99, 130, 83, 99};
static const uint8_t MAC_PREFIX[3] = {0x00, 0x0c, 0x01};
#define FIRST_ADDR 0xC6130100u /* 198.19.1.0: client 0's reservation */
#define LAST_ADDR 0xC613FFFEu  /* 198.19.255.254: stay inside 198.19.0.0/16 */

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

/* Message type (option 53) of a well-formed request, or 0; *client_id is
 * set to option 61's offset (0 when absent). Every option length is checked
 * against the datagram, so a bad packet is only ignored. */
static int message_type(const uint8_t *p, size_t len, size_t *client_id) {
  int type = 0;
  size_t i = OPTIONS;
  *client_id = 0;
  if (len < OPTIONS || p[0] != 1 || p[2] != 6 || memcmp(p + 236, COOKIE, 4) != 0) return 0;
  while (i < len) {
    uint8_t code = p[i];
    if (code == 0) { i++; continue; }   /* pad */
    if (code == 255) return type;        /* end */
    if (i + 1 >= len || i + 2 + p[i + 1] > len) return 0; /* runs past the end */
    if (code == 53 && p[i + 1] == 1) type = p[i + 2];
    if (code == 61) *client_id = i;
    i += 2 + (size_t)p[i + 1];
  }
  return 0; /* no end option: truncated */
}

static uint8_t *opt(uint8_t *o, uint8_t code, const void *val, uint8_t len) {
  o[0] = code;
  o[1] = len;
  memcpy(o + 2, val, len);
  return o + 2 + len;
}

/* Builds the reply into out; returns its length, or 0 for no answer. */
static size_t reply(const uint8_t *in, size_t len, uint8_t *out, struct in_addr server_id) {
  size_t client_id;
  int type = message_type(in, len, &client_id);
  const uint8_t *chaddr = in + 28;
  uint8_t answer;
  uint32_t addr, lease = htonl(86400), mask = htonl(0xFFFF0000u), router = htonl(0xC6130001u);
  if (type == 1) answer = 2;      /* DISCOVER -> OFFER */
  else if (type == 3) answer = 5; /* REQUEST -> ACK */
  else return 0;
  if (memcmp(chaddr, MAC_PREFIX, 3) != 0) return 0;
  addr = FIRST_ADDR + ((uint32_t)chaddr[3] << 16 | (uint32_t)chaddr[4] << 8 | chaddr[5]);
  if (addr > LAST_ADDR) return 0; /* not one of the benchmark's clients */
  addr = htonl(addr);

  memset(out, 0, MIN_REPLY);
  out[0] = 2;                  /* BOOTREPLY */
  out[1] = in[1];              /* htype */
  out[2] = in[2];              /* hlen */
  memcpy(out + 4, in + 4, 4);  /* xid */
  memcpy(out + 10, in + 10, 2); /* flags */
  memcpy(out + 16, &addr, 4);  /* yiaddr */
  memcpy(out + 24, in + 24, 4); /* giaddr */
  memcpy(out + 28, chaddr, 16);
  memcpy(out + 236, COOKIE, 4);
  uint8_t *o = out + OPTIONS;
  o = opt(o, 53, &answer, 1);
  o = opt(o, 54, &server_id, 4);
  o = opt(o, 51, &lease, 4);
  o = opt(o, 1, &mask, 4);
  o = opt(o, 3, &router, 4);
  o = opt(o, 6, &server_id, 4);
  /* echo the client identifier (RFC 6842): perfdhcp keys its lease list,
   * and so the harness's reservation check, on it */
  if (client_id) o = opt(o, 61, in + client_id + 2, in[client_id + 1]);
  *o++ = 255;
  size_t n = (size_t)(o - out);
  return n < MIN_REPLY ? MIN_REPLY : n;
}

static void burn(long us) {
  struct timespec t0, t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

int main(int argc, char **argv) {
  struct sockaddr_in bind_to = {.sin_family = AF_INET};
  struct in_addr server_id;
  char *end;
  long port;
  long burn_us = 0;
  if (argc == 5 && ((burn_us = strtol(argv[4], &end, 10)) < 0 || burn_us > 1000000 || *end != '\0')) argc = 0;
  if ((argc != 4 && argc != 5) || inet_pton(AF_INET, argv[1], &bind_to.sin_addr) != 1 ||
      (port = strtol(argv[2], &end, 10)) <= 0 || port > 65535 || *end != '\0' ||
      inet_pton(AF_INET, argv[3], &server_id) != 1) {
    fprintf(stderr, "usage: %s <bind-address> <port> <server-id-address> [burn-us]\n", argv[0]);
    return 2;
  }
  bind_to.sin_port = htons((uint16_t)port);
  signal(SIGTERM, stop);
  signal(SIGINT, stop);

  int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, rcv = RCVBUF;
  if (fd < 0) { perror("socket"); return 1; }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* FORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  if (bind(fd, (struct sockaddr *)&bind_to, sizeof bind_to) != 0) { perror("bind"); return 1; }

  static uint8_t in[BATCH][BUF], out[BATCH][BUF];
  static struct sockaddr_in from[BATCH], to[BATCH];
  static struct iovec in_iov[BATCH], out_iov[BATCH];
  static struct mmsghdr rx[BATCH], tx[BATCH];
  for (int k = 0; k < BATCH; k++) {
    in_iov[k] = (struct iovec){.iov_base = in[k], .iov_len = BUF};
    rx[k].msg_hdr = (struct msghdr){.msg_name = &from[k], .msg_iov = &in_iov[k], .msg_iovlen = 1};
  }

  for (;;) {
    for (int k = 0; k < BATCH; k++) rx[k].msg_hdr.msg_namelen = sizeof from[k];
    /* block for the first datagram, then take whatever else is queued */
    int got = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
    if (got < 0) {
      if (errno == EINTR) continue;
      perror("recvmmsg");
      return 1;
    }
    int n = 0;
    for (int k = 0; k < got; k++) {
      if (rx[k].msg_hdr.msg_flags & MSG_TRUNC) continue;
      size_t len = reply(in[k], rx[k].msg_len, out[n], server_id);
      if (len == 0) continue;
      if (burn_us) burn(burn_us);
      uint32_t giaddr;
      memcpy(&giaddr, in[k] + 24, 4);
      to[n] = from[k];
      if (giaddr != 0) { /* relayed: answer the relay on the server port */
        to[n].sin_addr.s_addr = giaddr;
        to[n].sin_port = htons(67);
      }
      out_iov[n] = (struct iovec){.iov_base = out[n], .iov_len = len};
      tx[n].msg_hdr = (struct msghdr){.msg_name = &to[n], .msg_namelen = sizeof to[n], .msg_iov = &out_iov[n], .msg_iovlen = 1};
      n++;
    }
    /* a reply that cannot be sent (e.g. unreachable) is dropped, not retried */
    for (int off = 0; off < n;) {
      int sent = sendmmsg(fd, tx + off, (unsigned)(n - off), 0);
      if (sent < 0 && errno == EINTR) continue;
      off += sent > 0 ? sent : 1;
    }
  }
}
