/* lc-bench-client: a bounded loopback load for the accept-rate benchmark.
 *
 *   lc-bench-client HOST PORT TOTAL CONCURRENCY SECONDS
 *
 * Opens TOTAL connections to HOST:PORT, at most CONCURRENCY at a time, and
 * counts one as done when the server has accepted and closed it (EOF).  Stops
 * at TOTAL or after SECONDS, whichever comes first.  HOST must be loopback.
 * Prints: "done D failed F seconds S rate R".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long arg(const char *s, const char *name, long lo, long hi) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) {
    fprintf(stderr,
            "lc-bench-client: %s must be an integer in [%ld, %ld], got '%s'\n",
            name, lo, hi, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr,
            "usage: lc-bench-client HOST PORT TOTAL CONCURRENCY SECONDS\n");
    return 2;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET};
  if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
      (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
    fprintf(
        stderr,
        "lc-bench-client: HOST must be an IPv4 loopback address, got '%s'\n",
        argv[1]);
    return 2;
  }
  sa.sin_port = htons((uint16_t)arg(argv[2], "PORT", 1, 65535));
  long total = arg(argv[3], "TOTAL", 1, 10000000);
  long conc = arg(argv[4], "CONCURRENCY", 1, 4096);
  long secs = arg(argv[5], "SECONDS", 1, 600);

  int ep = epoll_create1(0);
  long started = 0, done = 0, failed = 0, open_ = 0;
  double t0 = now(), deadline = t0 + secs;
  struct epoll_event evs[256];
  while ((done + failed < total) && now() < deadline) {
    while (open_ < conc && started < total) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        failed++;
        started++;
        continue;
      }
      int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
      if (r < 0 && errno != EINPROGRESS) {
        close(fd);
        failed++;
        started++;
        continue;
      }
      struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      started++;
      open_++;
    }
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      char buf[64];
      ssize_t k = read(fd, buf, sizeof buf);
      if (k > 0)
        continue; /* the server sent data: keep waiting for EOF */
      if (k < 0 && errno == EAGAIN)
        continue;
      if (k == 0 || errno == ECONNRESET)
        done++;
      else
        failed++;
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
      /* The server closed first; end our side with a reset instead of a FIN
       * so that the client's own teardown costs as little as possible. */
      struct linger lg = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(fd);
      open_--;
    }
  }
  double s = now() - t0;
  printf("done %ld failed %ld seconds %.3f rate %.0f\n", done, failed, s,
         done / s);
  return 0;
}
