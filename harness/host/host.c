/* lc-host — runs a shim library (harness/include/lc_shim.h) for the driver,
 * speaking the runner protocol (harness/PROTOCOL.md) on stdin/stdout.
 *
 *   lc-host [--scenario-timeout-ms N] SHIM.so
 *
 * The host is a zygote: it loads and checks the shim once, then forks one
 * child per scenario (`begin`).  The child runs the scenario's commands and
 * exits at `end`; whatever the shim does to its process (a crash, _exit(),
 * a hang the driver kills, junk written to fds, forked children, leaked fds)
 * stays in that child and its process group, which the host kills and reaps
 * before it answers.  The host itself never calls into the shim except for
 * the handshake.
 *
 * One job per file, with what crosses files declared in host-internal.h:
 *   host.c    main(): the command line, the private protocol fds, the
 *             subreaper and SIGCHLD set-up, the shared page, and the
 *             zygote's loop of commands between scenarios
 *   io.c      protocol I/O: command lines in, responses and events out
 *   child.c   the scenario child: one scenario's commands against the shim
 *   zygote.c  forking scenario processes, the spare, leftovers, reaping
 *   loader.c  loading and checking the shim; `hello`
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "host-internal.h"

static void on_sigchld(int sig) {
  (void)sig;
}

int main(int argc, char **argv) {
  const char *lib = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--scenario-timeout-ms") == 0) {
      char *end;
      if (i + 1 >= argc)
        lch__usage_error("--scenario-timeout-ms needs a number");
      errno = 0;
      long v = strtol(argv[++i], &end, 10);
      if (errno || *end || end == argv[i] || v < 0 || v > 86400000L)
        lch__usage_error(
            "--scenario-timeout-ms needs a number of milliseconds "
            "in [0, 86400000] (0: no limit)");
      lch__timeout_ms = v;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: lc-host [--scenario-timeout-ms N] SHIM.so\n");
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      char why[256];
      snprintf(why, sizeof(why), "unknown option [%.200s]", argv[i]);
      lch__usage_error(why);
    } else if (lib) {
      lch__usage_error("exactly one shim library, please");
    } else {
      lib = argv[i];
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

  lch__load_shim(lib);

  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    fprintf(stderr,
            "lc-host: PR_SET_CHILD_SUBREAPER: %s (processes a shim "
            "double-forks may survive)\n",
            strerror(errno));
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
  lch__drop_spare();
  munmap(lch__sh, sizeof(lch__shared_t));
  lch__jw_free(&lch__resp);
  lch__jw_free(&lch__ev);
  return 0;
}
