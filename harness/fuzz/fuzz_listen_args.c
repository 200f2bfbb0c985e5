/* libFuzzer target: the reference's argument handling (lcr_listen).
 *
 * The input picks a form, the `has` bits (their high bits, which lcr_listen()
 * ignores, also pick the Node release to behave as) and every field of
 * lcr_listen_t;
 * each iteration makes a fresh loop and server, calls lcr_listen(), a second
 * lcr_listen() (the already-listening path), close() and lets the loop run
 * what is due.  It must never crash, leak (ASan) or hang.
 *
 * Hosts come from a fixed table of literals, never from the input: a random
 * host name would be looked up in DNS, and this machine talks to loopback
 * only.  Paths are relative names in the fuzzer's scratch directory, or
 * abstract names; fds are a fresh socket or -1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lcref.h"

static const char *const hosts[] = {
    "127.0.0.1",        "::1", "::", "0.0.0.0", "", "127.0.0.2",
    "::ffff:127.0.0.1", "::2"};

typedef struct {
  const uint8_t *p;
  size_t n;
} in_t;

static uint32_t take(in_t *in, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; i++) {
    v = (v << 8) | (in->n ? *in->p : 0);
    if (in->n) {
      in->p++;
      in->n--;
    }
  }
  return v;
}

static void noop(lcr_server_t *s, const lcr_emit_t *e, void *d) {
  (void)s;
  (void)e;
  (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in_t in = {data, size};
  uv_loop_t uv;
  lcr_loop_t loop;
  lcr_error_t err;
  lcr_listen_t a;
  char path[160];
  int fd = -1;

  memset(&a, 0, sizeof(a));
  a.form = (lcr_form_t)(take(&in, 1) % 5);
  a.has = take(&in, 2);
  /* Out-of-range ports exercise validation; an in-range one becomes 0 (an
   * ephemeral port), so that the fuzzer never takes a port a concurrent
   * run of the suite has reserved. */
  a.port = (int)take(&in, 4);
  if (a.port > 0 && a.port <= 65535)
    a.port = 0;
  a.host = hosts[take(&in, 1) % (sizeof(hosts) / sizeof(hosts[0]))];
  a.backlog = (int)take(&in, 4);
  size_t plen = take(&in, 1) % 130;
  int abstract = take(&in, 1) & 1;
  for (size_t i = 0; i < plen; i++) {
    uint8_t c = (uint8_t)take(&in, 1);
    path[i] =
        (char)(c == '/' || c == 0 ? 'x' : c); /* stay in the scratch dir */
  }
  if (abstract && plen)
    path[0] = '\0';
  path[plen] = '\0';
  a.path = path;
  a.path_len = plen;
  a.exclusive = take(&in, 1) & 1;
  a.ipv6_only = take(&in, 1) & 1;
  a.readable_all = take(&in, 1) & 1;
  a.writable_all = take(&in, 1) & 1;
  a.reuse_port = take(&in, 1) & 1;
  uint32_t fdsel = take(&in, 1);
  if (fdsel % 4 == 1)
    fd = socket(AF_INET, SOCK_STREAM, 0);
  else if (fdsel % 4 == 2)
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
  a.fd = fdsel % 4 == 3 ? -1 - (int)(fdsel >> 2) : fd;
  a.callback = (take(&in, 1) & 1) ? noop : NULL;

  if (uv_loop_init(&uv) != 0)
    return 0;
  lcr_loop_init(&loop, &uv);
  /* The release to behave as (node_line.h), from `has` bits lcr_listen()
   * ignores: the newest, Node 20, 22 and 23.0 (each has its own mix). */
  static const unsigned releases[][3] = {
      {0, 0, 0}, {20, 20, 2}, {22, 23, 5}, {23, 0, 0}};
  const unsigned *rel = releases[(a.has >> 8) % 4];
  lcr_loop_set_node_version(&loop, rel[0], rel[1], rel[2]);
  lcr_signal_t *sig = (take(&in, 1) & 1) ? lcr_signal_new() : NULL;
  a.signal = sig;
  lcr_server_t *s = lcr_server_new(&loop);
  lcr_server_on(s, LCR_EV_ERROR, noop, NULL);
  if (lcr_listen(s, &a, &err) == 0) {
    lcr_listen(s, &a, &err); /* ERR_SERVER_ALREADY_LISTEN, or a relisten */
    if (sig && (take(&in, 1) & 1))
      lcr_signal_abort(sig);
  }
  for (int i = 0; i < 4; i++)
    uv_run(&uv, UV_RUN_NOWAIT);
  lcr_server_close(s, NULL, NULL);
  for (int i = 0; i < 4; i++)
    uv_run(&uv, UV_RUN_NOWAIT);
  lcr_server_free(s);
  lcr_loop_close(&loop);
  uv_run(&uv, UV_RUN_DEFAULT);
  if (sig)
    lcr_signal_free(sig);
  uv_loop_close(&uv);
  /* The handle form takes ownership of an fd it listened on; close ours only
   * when it is still ours (fcntl tells). */
  if (fd >= 0 && fcntl(fd, F_GETFD) != -1)
    close(fd);
  if (plen && !abstract)
    unlink(path);
  return 0;
}
