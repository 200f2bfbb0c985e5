/* helpers.h — what every reference test uses: a loop per test, an event
 * log in the scenario table's words ("emit listening", "call L1",
 * "emit error EADDRINUSE", "sync ..."), and a clean-loop check at the end.
 */
#ifndef LCR_TEST_HELPERS_H
#define LCR_TEST_HELPERS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "lcref.h"
#include "node_line.h" /* src/: the thresholds, LCR_NODE_V */

#define LOG_MAX 64

static uv_loop_t t_uv;
static lcr_loop_t t_loop;
static char t_log[LOG_MAX][160];
static int t_nlog;
static int t_in_call;            /* inside an lcr_* call: events are "sync" */
static lcr_error_t t_last_error; /* copy of the last 'error' emitted */
static char t_last_error_address[128];
static char t_last_error_message[192];

static inline void log_line(const char *fmt, ...) {
  va_list ap;
  int off;

  if (t_nlog >= LOG_MAX)
    return;
  off = 0;
  if (t_in_call)
    off = snprintf(t_log[t_nlog], sizeof(t_log[0]), "sync ");
  va_start(ap, fmt);
  vsnprintf(t_log[t_nlog] + off, sizeof(t_log[0]) - (size_t)off, fmt, ap);
  va_end(ap);
  t_nlog++;
}

/* Observer: every emission, before its listeners. */
static inline void t_observe(lcr_server_t *s, const lcr_emit_t *e, void *data) {
  const char *name = data;

  (void)s;
  if (e->event == LCR_EV_ERROR) {
    t_last_error = *e->error;
    t_last_error.address = NULL;
    snprintf(t_last_error_message, sizeof(t_last_error_message), "%s",
             e->error->message);
    t_last_error.message = t_last_error_message;
    if (e->error->address != NULL) {
      snprintf(t_last_error_address, sizeof(t_last_error_address), "%s",
               e->error->address);
      t_last_error.address = t_last_error_address;
    }
    log_line("%s%semit error %s", name ? name : "", name ? ": " : "",
             e->error->code);
  } else {
    log_line("%s%semit %s", name ? name : "", name ? ": " : "",
             lcr_event_name(e->event));
  }
}

/* A labelled listener: data is the label. */
static inline void t_call(lcr_server_t *s, const lcr_emit_t *e, void *data) {
  (void)s;
  if (e->error != NULL && e->event != LCR_EV_ERROR)
    log_line("call %s %s", (const char *)data, e->error->code);
  else
    log_line("call %s", (const char *)data);
}

static inline lcr_server_t *t_server(const char *name) {
  lcr_server_t *s = lcr_server_new(&t_loop);
  cr_assert(s != NULL);
  lcr_server_set_observer(s, t_observe, (void *)name);
  return s;
}

/* Make t_loop behave as Node release `v` (LCR_NODE_V), or with `before` as
 * the last release before it, so that a test follows a threshold of
 * node_line.h wherever it is set. */
static inline void t_node_release(uint64_t v, int before) {
  unsigned major = (unsigned)(v >> 32), minor = (unsigned)(v >> 16) & 0xFFFF,
           patch = (unsigned)v & 0xFFFF;

  if (before && patch > 0) {
    patch--;
  } else if (before && minor > 0) {
    minor--;
    patch = 9999;
  } else if (before) {
    major--;
    minor = patch = 9999;
  }
  lcr_loop_set_node_version(&t_loop, major, minor, patch);
}

static inline void t_setup(void) {
  t_nlog = 0;
  t_in_call = 0;
  cr_assert(eq(int, uv_loop_init(&t_uv), 0));
  cr_assert(eq(int, lcr_loop_init(&t_loop, &t_uv), 0));
}

/* Every test ends here: nothing may be left on the loop. */
static inline void t_teardown(void) {
  lcr_loop_close(&t_loop);
  uv_run(&t_uv, UV_RUN_DEFAULT);
  cr_assert(eq(int, uv_loop_close(&t_uv), 0), "the loop did not close cleanly");
}

static inline void t_on_timer(uv_timer_t *t) {
  *(int *)t->data = 1;
}

/* Run the loop until the log holds `n` lines, or `ms` passed. */
static inline void t_run_until(int n, int ms) {
  uv_timer_t timer;
  int fired = 0;

  uv_timer_init(&t_uv, &timer);
  timer.data = &fired;
  uv_timer_start(&timer, t_on_timer, (uint64_t)ms, 0);
  while (t_nlog < n && !fired)
    uv_run(&t_uv, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(&t_uv, UV_RUN_NOWAIT);
}

/* Run what is due (a few turns), like the harness's settle. */
static inline void t_settle(void) {
  t_run_until(LOG_MAX, 30);
}

/* The log from line `from` on must be exactly the lines given. */
static inline void t_expect_from(int from, const char *const *lines, int n) {
  int i;

  for (i = 0; i < n; i++) {
    cr_assert(lt(int, from + i, t_nlog), "missing event [%d] '%s'", i,
              lines[i]);
    cr_assert(eq(str, t_log[from + i], (char *)lines[i]));
  }
  cr_assert(eq(int, t_nlog, from + n), "extra event: '%s'",
            t_nlog > from + n ? t_log[from + n] : "");
}

#define T_EXPECT(from, ...)                                                   \
  do {                                                                        \
    static const char *const lines_[] = {__VA_ARGS__};                        \
    t_expect_from((from), lines_, (int)(sizeof(lines_) / sizeof(lines_[0]))); \
  } while (0)

static inline lcr_listen_t t_args(lcr_form_t form) {
  lcr_listen_t a;
  memset(&a, 0, sizeof(a));
  a.form = form;
  a.fd = -1;
  return a;
}

/* listen() with the "sync" marker on while it runs. */
static inline int t_listen(lcr_server_t *s, const lcr_listen_t *a,
                           lcr_error_t *err) {
  int r;
  t_in_call = 1;
  r = lcr_listen(s, a, err);
  t_in_call = 0;
  return r;
}

static inline int t_close(lcr_server_t *s, const char *label) {
  int r;
  t_in_call = 1;
  r = lcr_server_close(s, label ? t_call : NULL, (void *)label);
  t_in_call = 0;
  return r;
}

/* A socket made outside lcref (like the harness's mksock / occupy). */
/* An IPv4 or IPv6 socket address for ip:port; returns its length. */
static inline socklen_t t_sockaddr(int family, const char *ip, int port,
                                   struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return sizeof(*a);
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, ip, &a->sin_addr);
  return sizeof(*a);
}

static inline int t_tcp_socket(int family, const char *ip, int port,
                               int do_listen) {
  struct sockaddr_storage ss;
  socklen_t len;
  int fd, on = 1;

  len = t_sockaddr(family, ip, port, &ss);
  fd = socket(family, SOCK_STREAM, 0);
  cr_assert(ge(int, fd, 0));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  cr_assert(eq(int, bind(fd, (struct sockaddr *)&ss, len), 0));
  if (do_listen)
    cr_assert(eq(int, listen(fd, 8), 0));
  return fd;
}

static inline int t_local_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&ss, &len), 0));
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Blocking connect over loopback; 0 or -errno. */
static inline int t_connect(const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t len;
  int fd, r;

  len = t_sockaddr(strchr(ip, ':') != NULL ? AF_INET6 : AF_INET, ip, port, &ss);
  fd = socket(ss.ss_family, SOCK_STREAM, 0);
  cr_assert(ge(int, fd, 0));
  r = connect(fd, (struct sockaddr *)&ss, len);
  r = r == 0 ? 0 : -errno;
  close(fd);
  return r;
}

static inline int t_sockopt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  cr_assert(eq(int, getsockopt(fd, level, name, &v, &len), 0));
  return v;
}

#endif /* LCR_TEST_HELPERS_H */
