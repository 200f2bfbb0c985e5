/* lc-host — runs a shim library (harness/include/lc_shim.h) for the driver,
 * speaking the runner protocol (harness/PROTOCOL.md) on stdin/stdout.
 *
 *   lc-host [--scenario-timeout-ms N] [--run-as UID:GID] [--limit-mem BYTES]
 *           [--limit-fds N] [--limit-procs N] [--node-version X.Y.Z] SHIM.so
 *
 * --node-version X.Y.Z names the Node.js release the shim is held to (three
 * decimal numbers, each at most 9999, not all 0): the shim's init() finds
 * it in lc_host_t.node_major/minor/patch (ABI 1.1) and `hello` reports it as
 * "node_version":"X.Y.Z".  Without it those are 0 (the newest Node) and
 * `hello` says null.
 *
 * The host is a zygote: it loads and checks the shim once, then forks one
 * child per scenario (`begin`).  The child runs the scenario's commands and
 * exits at `end`; whatever the shim does to its process (a crash, _exit(),
 * a hang the driver kills, junk written to fds, forked children, leaked fds)
 * stays in that child and its process group, which the host kills and reaps
 * before it answers.  The host itself never calls into the shim except for
 * the handshake.  With --run-as it opens the shim as root, then drops
 * every privilege before any code of the shim runs (its constructors
 * included); the --limit-* limits are set before the load too.  Meant to
 * run as PID 1 of a PID namespace of its own (unshare --pid --fork
 * --kill-child --mount-proc), where every process but the host is the
 * shim's: see zygote.c.
 *
 * One job per file, with what crosses files declared in host-internal.h:
 *   host.c    main(): the command line, the private protocol fds, the
 *             order of the set-up (privileges, limits, load), the SIGCHLD
 *             set-up, the shared page, and the zygote's loop of commands
 *             between scenarios
 *   privs.c   dropping root, the limits, the parent-death signal
 *   io.c      protocol I/O: command lines in, responses and events out
 *   child.c   the scenario child: one scenario's commands against the shim
 *   zygote.c  forking scenario processes, the spare, leftovers, reaping
 *   loader.c  loading and checking the shim; `hello`
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host-internal.h"

uint32_t lch__node_version[3];

static void on_sigchld(int sig) {
  (void)sig;
}

/* A whole decimal number in [min, max], or a usage error saying `what`. */
static unsigned long long number(const char *arg, unsigned long long min,
                                 unsigned long long max, const char *what) {
  char *end;
  if (!arg || arg[0] < '0' || arg[0] > '9')
    lch__usage_error(what);
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (errno || *end || v < min || v > max)
    lch__usage_error(what);
  return v;
}

/* --run-as UID:GID, numbers; 0 is refused (to stay root, leave it out). */
static void run_as(const char *arg, uid_t *uid, gid_t *gid) {
  static const char what[] =
      "--run-as needs UID:GID, two numbers in [1, 4294967294] (the user and "
      "group to load and run the shim as)";
  char id[32];
  const char *colon = arg ? strchr(arg, ':') : NULL;
  if (!colon || (size_t)(colon - arg) >= sizeof(id))
    lch__usage_error(what);
  memcpy(id, arg, (size_t)(colon - arg));
  id[colon - arg] = '\0';
  *uid = (uid_t)number(id, 1, 4294967294ULL, what);
  *gid = (gid_t)number(colon + 1, 1, 4294967294ULL, what);
}

/* --node-version X.Y.Z: three decimal numbers of 1 to 4 digits, not all 0
 * (0.0.0 is what a host without the option passes: the newest Node). */
static void node_version(const char *arg, uint32_t v[3]) {
  static const char what[] =
      "--node-version needs X.Y.Z, three decimal numbers each at most 9999 "
      "and not all 0 (the Node.js release to hold the shim to, e.g. 22.12.0)";
  const char *p = arg;
  if (!p)
    lch__usage_error(what);
  for (int i = 0; i < 3; i++) {
    int digits = 0;
    v[i] = 0;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
      v[i] = v[i] * 10 + (uint32_t)(*p - '0');
    if (digits == 0 || *p != (i < 2 ? '.' : '\0')) /* a 5th digit too */
      lch__usage_error(what);
    p++;
  }
  if (!v[0] && !v[1] && !v[2])
    lch__usage_error(what);
}

int main(int argc, char **argv) {
  pid_t parent = getppid();
  const char *lib = NULL;
  int drop = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  lch__limits_t limits = {0, 0, 0};
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(opt, "--scenario-timeout-ms") == 0) {
      lch__timeout_ms = (long)number(arg, 0, 86400000ULL,
                                     "--scenario-timeout-ms needs a number of "
                                     "milliseconds in [0, 86400000] (0: no "
                                     "limit)");
      i++;
    } else if (strcmp(opt, "--run-as") == 0) {
      run_as(arg, &uid, &gid);
      drop = 1;
      i++;
    } else if (strcmp(opt, "--limit-mem") == 0) {
      limits.mem = number(arg, 16ULL << 20, ULLONG_MAX / 2,
                          "--limit-mem needs a number of bytes of address "
                          "space, at least 16777216");
      i++;
    } else if (strcmp(opt, "--limit-fds") == 0) {
      limits.fds = number(arg, 16, INT_MAX,
                          "--limit-fds needs a number of fds in [16, "
                          "2147483647]");
      i++;
    } else if (strcmp(opt, "--limit-procs") == 0) {
      limits.procs = number(arg, 1, INT_MAX,
                            "--limit-procs needs a number of processes in [1, "
                            "2147483647]");
      i++;
    } else if (strcmp(opt, "--node-version") == 0) {
      node_version(arg, lch__node_version);
      i++;
    } else if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
      printf("usage: " LCH_USAGE "\n");
      return 0;
    } else if (opt[0] == '-' && opt[1] != '\0') {
      char why[256];
      snprintf(why, sizeof(why), "unknown option [%.200s]", opt);
      lch__usage_error(why);
    } else if (lib) {
      lch__usage_error("exactly one shim library, please");
    } else {
      lib = opt;
    }
  }
  if (!lib)
    lch__usage_error("no shim library given");
  lch__lib = lib;
  lch__jw_init(&lch__resp);
  lch__jw_init(&lch__ev);

  /* The protocol gets private fds; fd 1 becomes stderr and fd 0 /dev/null,
   * so neither a shim's printf nor its reads can touch the protocol. */
  lch__out = fcntl(1, F_DUPFD_CLOEXEC, 3);
  lch__in = fcntl(0, F_DUPFD_CLOEXEC, 3);
  if (lch__out < 0 || lch__in < 0) {
    fprintf(stderr, "lc-host: stdin and stdout must be open: %s\n",
            strerror(errno));
    return 2;
  }
  int devnull = open("/dev/null", O_RDWR);
  if (devnull < 0 || dup2(2, 1) < 0 || dup2(devnull, 0) < 0) {
    fprintf(stderr, "lc-host: setting up fds: %s\n", strerror(errno));
    return 2;
  }
  if (devnull > 2)
    close(devnull);
  signal(SIGPIPE, SIG_IGN);

  /* Before any code of the shim runs: the subreaper (processes its
   * constructors fork are the host's), the user, the limits. */
  lch__init_reaper();
  int shim_fd = -1;
  if (drop) {
    /* Opened as root: the path may be unreadable once the host is not. */
    if (strchr(lib, '/'))
      shim_fd = open(lib, O_RDONLY | O_CLOEXEC);
    lch__drop_privileges(uid, gid);
  }
  lch__set_limits(&limits);
  lch__die_with_parent(parent);
  lch__load_shim(lib, shim_fd);

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigchld;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);

  lch__sh = mmap(NULL, sizeof(lch__shared_t), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (lch__sh == MAP_FAILED)
    lch__fatal("mmap of the shared page: %s", strerror(errno));

  lch__cmd_t cmd;
  for (;;) {
    lch__make_spare(); /* ahead of the next `begin`; see g_spare */
    if (!lch__next_command(&cmd))
      break;
    switch (cmd.op) {
    case LCH_OP_HELLO: lch__do_hello(&cmd); break;
    case LCH_OP_QUIT:
      lch__respond_ok(&cmd);
      lch__cmd_free(&cmd);
      goto out;
    case LCH_OP_BEGIN:
      lch__do_begin(&cmd);
      if (lch__sh->eof) {
        lch__cmd_free(&cmd);
        goto out;
      }
      break;
    default:
      lch__respond_error(1, cmd.seq,
                         "%s: no scenario in progress (send begin "
                         "first)",
                         cmd.op_name);
      break;
    }
    lch__cmd_free(&cmd);
  }
out:
  lch__kill_all(); /* the spare, and daemons of the shim's load */
  munmap(lch__sh, sizeof(lch__shared_t));
  lch__jw_free(&lch__resp);
  lch__jw_free(&lch__ev);
  return 0;
}
