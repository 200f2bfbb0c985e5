/* test_shim.c — lc-test-shim.so, a shim for host_protocol_smoke only (it
 * lands in build/tests, not among the shims in build/lib): it listens
 * nowhere and emits nothing, and does at load time what a shim must not,
 * as its environment says:
 *
 *   LC_TEST_SHIM_DAEMON=1     a constructor double-forks a daemon
 *                             ("lc-test-daemon", in a session of its own)
 *   LC_TEST_SHIM_DAEMON=chain a constructor forks a daemon that forks
 *                             another, both alive: one is the zygote's
 *                             child, the other only the first one's
 *   LC_TEST_SHIM_LISTEN=1     a constructor opens a listening socket
 *                             (127.0.0.1, any port)
 *   LC_TEST_SHIM_ALLOC=BYTES  init() allocates BYTES and fails with -ENOMEM
 *                             when it cannot
 *   LC_TEST_SHIM_ABI=1.0      it answers the handshake as an ABI 1.0 shim
 *                             (and reads nothing of lc_host_t past 1.0)
 *
 * Its impl_version tells the effective uid its constructor and
 * lc_shim_entry ran as ("ctor-uid N entry-uid N"); init() appends what it
 * was given: " init host-size N node X.Y.Z" (ABI 1.1: lc_host_t's
 * node_major.node_minor.node_patch; "node -" when `size` does not reach
 * them or the shim answered 1.0), which `hello` inside a scenario shows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lc_shim.h"

struct lc_server_s {
  int unused;
};

static lc_shim_t desc;
static unsigned ctor_uid;
static char version[160];

/* The constructor returns only once both daemons exist (the second one
 * writes to a pipe), so that the host's first `end` always finds both: on a
 * loaded machine the first one's fork could otherwise come after it. */
static void start_chain(void) {
  int p[2];
  if (pipe(p) < 0)
    return;
  if (fork() == 0) {
    setsid();
    prctl(PR_SET_NAME, "lc-test-daemon", 0, 0, 0);
    close(p[0]);
    if (fork() == 0) {
      char c = 1;
      ssize_t n = write(p[1], &c, 1);
      (void)n;
    }
    close(p[1]);
    for (;;)
      pause();
  }
  close(p[1]);
  char c;
  while (read(p[0], &c, 1) < 0 && errno == EINTR) {
  }
  close(p[0]);
}

static void start_daemon(void) {
  pid_t pid = fork();
  if (pid == 0) {
    if (fork() == 0) {
      setsid();
      prctl(PR_SET_NAME, "lc-test-daemon", 0, 0, 0);
      for (;;)
        pause();
    }
    _exit(0);
  }
  if (pid > 0)
    waitpid(pid, NULL, 0);
}

static void open_listener(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 &&
      (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0)) {
    close(fd);
  }
}

__attribute__((constructor)) static void at_load(void) {
  ctor_uid = (unsigned)geteuid();
  const char *daemon = getenv("LC_TEST_SHIM_DAEMON");
  if (daemon && strcmp(daemon, "chain") == 0)
    start_chain();
  else if (daemon)
    start_daemon();
  if (getenv("LC_TEST_SHIM_LISTEN"))
    open_listener();
}

static int init(const lc_host_t *h) {
  const char *alloc = getenv("LC_TEST_SHIM_ALLOC");
  size_t n = strlen(version);
  /* A 1.0 shim knows nothing past host_ctx; a 1.1 one reads the version
   * only when the host's struct holds it (lc_shim.h, "Versioning"). */
  if (desc.abi_version >= ((1u << 16) | 1u) &&
      h->size >= offsetof(lc_host_t, node_patch) + sizeof(h->node_patch))
    snprintf(version + n, sizeof(version) - n,
             " init host-size %u node %u.%u.%u", (unsigned)h->size,
             (unsigned)h->node_major, (unsigned)h->node_minor,
             (unsigned)h->node_patch);
  else
    snprintf(version + n, sizeof(version) - n, " init host-size %u node -",
             (unsigned)h->size);
  if (alloc) {
    void *p = malloc((size_t)strtoull(alloc, NULL, 10));
    if (!p)
      return -ENOMEM;
    free(p);
  }
  return 0;
}

static lc_server_t *server_new(void *tag) {
  (void)tag;
  return calloc(1, sizeof(lc_server_t));
}

static int on(lc_server_t *s, const char *event, const char *label) {
  (void)s, (void)event, (void)label;
  return 0;
}

static int slisten(lc_server_t *s, const lc_listen_t *a, lc_error_t *e) {
  (void)s, (void)a, (void)e;
  return 0;
}

static int sclose(lc_server_t *s, const char *label, lc_error_t *e) {
  (void)s, (void)label, (void)e;
  return 0;
}

static int address(lc_server_t *s, lc_address_t *out) {
  uint32_t size = out->size;
  (void)s;
  memset(out, 0, size);
  out->size = size;
  out->kind = LC_ADDRESS_NULL;
  return 0;
}

static int listening(lc_server_t *s) {
  (void)s;
  return 0;
}

static int sabort(lc_server_t *s) {
  (void)s;
  return -1;
}

static int sfd(lc_server_t *s) {
  (void)s;
  return -1;
}

static int run(int timeout_ms) {
  (void)timeout_ms;
  return 0;
}

static void server_free(lc_server_t *s) {
  free(s);
}

LC_SHIM_EXPORT const lc_shim_t *lc_shim_entry(uint32_t offered) {
  (void)offered;
  snprintf(version, sizeof(version), "ctor-uid %u entry-uid %u", ctor_uid,
           (unsigned)geteuid());
  const char *abi = getenv("LC_TEST_SHIM_ABI");
  desc.abi_version =
      abi && strcmp(abi, "1.0") == 0 ? 1u << 16 : (uint32_t)LC_ABI_VERSION;
  desc.size = sizeof(desc);
  desc.name = "test-shim";
  desc.impl_version = version;
  desc.init = init;
  desc.server_new = server_new;
  desc.on = on;
  desc.listen = slisten;
  desc.close = sclose;
  desc.address = address;
  desc.listening = listening;
  desc.abort = sabort;
  desc.fd = sfd;
  desc.run = run;
  desc.server_free = server_free;
  return &desc;
}
