/* zygote.c — the zygote: forks one process per scenario (or wakes the spare
 * it forked ahead of time), waits for it with the scenario timeout and an
 * eye on the driver, then lists what the scenario left (walking /proc: its
 * process group and processes reparented to this subreaper, or, as PID 1 of
 * a PID namespace, every process but the host and its spare; and listening
 * sockets the shim's load left in the zygote), kills and reaps all of it,
 * and answers `end` or the crash.  It ends everything when the driver goes.
 */
#define _GNU_SOURCE /* ppoll, POLLRDHUP */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host-internal.h"

#define MAX_LEFTOVER_ITEMS 32
/* How long a scenario may still run once the driver is gone: enough for
 * one that is not stuck to read the end of its input and free its servers
 * (unlinking their socket files) as before; then it is killed. */
#define DRIVER_GONE_GRACE_MS 500

long lch__timeout_ms;
int lch__pid1;

/* The spare: a scenario process forked ahead of time, between scenarios,
 * while the driver is busy with its own side; `begin` then only wakes it.
 * Forking costs most of a scenario's overhead on a small VM, and this keeps
 * that cost off the path.  The spare blocks on a pipe until it is used; at
 * `begin` it reads the begin line again from the shared input buffer and
 * becomes the scenario process, exactly as a freshly forked one would. */
static struct {
  pid_t pid;
  int ctl; /* write end: one byte wakes the spare; EOF sends it away */
} g_spare = {0, -1};

void lch__init_reaper(void) {
  char self[32];
  ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
  self[n > 0 ? n : 0] = '\0';
  /* /proc/self names the reader in the namespace of the /proc mount: "1"
   * only when /proc is this namespace's own. */
  lch__pid1 = getpid() == 1 && strcmp(self, "1") == 0;
  if (getpid() == 1 && !lch__pid1)
    fprintf(stderr,
            "lc-host: PID 1 of a PID namespace without its own /proc "
            "(unshare --mount-proc): leftovers may be missed\n");
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    fprintf(stderr,
            "lc-host: PR_SET_CHILD_SUBREAPER: %s (processes a shim "
            "double-forks may survive)\n",
            strerror(errno));
}

static void reap_zombies(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

/* Is anything of the scenario left?  Cheap: its process group answers
 * kill(0), and any process reparented to this subreaper is a child that
 * waitpid() sees (as PID 1, any process of the namespace answers kill(-1)).
 * Only then is /proc worth walking.  pgid 0: no scenario. */
static int anything_left(pid_t pgid) {
  if (pgid > 0 && kill(-pgid, 0) == 0)
    return 1;
  if (lch__pid1)
    return kill(-1, 0) == 0 || errno == EPERM;
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* One line of /proc/PID/stat, the fields the host needs. */
typedef struct {
  pid_t pid;
  char comm[64]; /* may hold ')' or spaces: parsed up to the last ')' */
  char state;
  pid_t ppid, pgrp;
} proc_stat_t;

/* Call visit() for every process /proc lists; stops when it returns < 0.
 * Returns the sum of what visit() returned (>= 0). */
static int for_each_process(int (*visit)(const proc_stat_t *, void *),
                            void *data) {
  int total = 0;
  DIR *d = opendir("/proc");
  struct dirent *de;
  while (d && (de = readdir(d))) {
    char path[64], buf[512];
    if (de->d_name[0] < '1' || de->d_name[0] > '9')
      continue;
    snprintf(path, sizeof(path), "/proc/%.20s/stat", de->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
      continue;
    buf[n] = '\0';
    /* pid (comm) state ppid pgrp ... */
    char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    proc_stat_t ps;
    int ppid, pgrp;
    if (!lp || !rp || rp < lp ||
        sscanf(rp + 1, " %c %d %d", &ps.state, &ppid, &pgrp) != 3)
      continue;
    ps.pid = (pid_t)atoi(de->d_name);
    ps.ppid = ppid;
    ps.pgrp = pgrp;
    snprintf(ps.comm, sizeof(ps.comm), "%.*s", (int)(rp - lp - 1), lp + 1);
    int r = visit(&ps, data);
    if (r < 0)
      break;
    total += r;
  }
  if (d)
    closedir(d);
  return total;
}

/* Is ps something a scenario, or the shim's load, left?  As PID 1 of a
 * namespace: every process but the host and its spare.  Otherwise: the
 * scenario's process group (pgid > 0) and the host's children, who are
 * reparented to this subreaper, but the spare. */
static int is_leftover(const proc_stat_t *ps, pid_t pgid) {
  pid_t self = getpid();
  if (ps->pid == self || (g_spare.pid > 0 && ps->pid == g_spare.pid))
    return 0;
  if (lch__pid1)
    return 1;
  return (pgid > 0 && ps->pgrp == pgid) || ps->ppid == self;
}

/* Kill a leftover (1 each). */
static int kill_leftover(const proc_stat_t *ps, void *data) {
  if (!is_leftover(ps, *(const pid_t *)data))
    return 0;
  kill(ps->pid, SIGKILL);
  return 1;
}

/* Kill what the scenario left: its process group, and every process that
 * was reparented to this subreaper (a shim's double-forked or setsid()
 * children; as PID 1, every process of the namespace but the spare), until
 * none is left.  pgid 0: no scenario, the rest only. */
static void kill_leftovers(pid_t pgid) {
  int64_t deadline = lch__now_ms() + 5000;
  if (!anything_left(pgid))
    return;
  for (;;) {
    int found = pgid > 0 && kill(-pgid, SIGKILL) == 0;
    found += for_each_process(kill_leftover, &pgid);
    reap_zombies();
    if (!found)
      return;
    if (lch__now_ms() > deadline) {
      fprintf(stderr,
              "lc-host: processes left by the scenario survive "
              "SIGKILL; giving up on them\n");
      return;
    }
    lch__sleep_ms(1);
  }
}

typedef struct {
  pid_t pgid;
  char *buf;
  size_t size, used;
} leftover_list_t;

static int note_leftover(const proc_stat_t *ps, void *data) {
  leftover_list_t *l = data;
  if (ps->state == 'Z' || !is_leftover(ps, l->pgid))
    return 0;
  int w = snprintf(l->buf + l->used, l->size - l->used, "process %d (%.32s)\n",
                   (int)ps->pid, ps->comm);
  if (w > 0 && (size_t)w < l->size - l->used)
    l->used += (size_t)w;
  return 1;
}

/* Processes the scenario left (is_leftover(): as PID 1, daemons the shim's
 * load started too).  Appends "process PID (comm)" lines to buf. */
static int note_leftover_processes(pid_t pgid, char *buf, size_t size) {
  if (!anything_left(pgid))
    return 0;
  leftover_list_t l = {pgid, buf, size, strlen(buf)};
  return for_each_process(note_leftover, &l);
}

static void write_leftovers(const char *text, int n) {
  int items = 0;
  lch__jw_arr(&lch__resp, "leftover");
  for (const char *p = text; *p && items < MAX_LEFTOVER_ITEMS; items++) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    lch__jw_item(&lch__resp, p, len);
    p += len + (e ? 1 : 0);
  }
  if (n > items) {
    char more[64];
    snprintf(more, sizeof(more), "... and %d more", n - items);
    lch__jw_item(&lch__resp, more, strlen(more));
  }
  lch__jw_arr_end(&lch__resp);
}

/* In a process just forked: die with the zygote (when the host is not PID
 * 1 of a namespace, which would take its processes with it). */
static void die_with_zygote(pid_t zygote) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != zygote)
    _exit(0);
}

static void spare_main(int ctl) {
  char b;
  ssize_t r;
  while ((r = read(ctl, &b, 1)) < 0 && errno == EINTR)
    ;
  if (r != 1)
    _exit(0); /* the host is done with us */
  close(ctl);
  lch__cmd_t cmd;
  if (!lch__next_command(&cmd) || cmd.op != LCH_OP_BEGIN)
    _exit(0);
  lch__run_scenario(&cmd); /* does not return */
}

void lch__make_spare(void) {
  int p[2];
  if (g_spare.pid > 0 || pipe(p) < 0)
    return;
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  fflush(NULL);
  pid_t zygote = getpid(), pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return;
  }
  if (pid == 0) {
    die_with_zygote(zygote);
    close(p[1]);
    spare_main(p[0]); /* does not return */
  }
  close(p[0]);
  setpgid(pid, pid);
  g_spare.pid = pid;
  g_spare.ctl = p[1];
}

void lch__drop_spare(void) {
  if (g_spare.pid <= 0)
    return;
  close(g_spare.ctl);
  kill(g_spare.pid, SIGKILL);
  waitpid(g_spare.pid, NULL, 0);
  g_spare.pid = 0;
  g_spare.ctl = -1;
}

void lch__kill_all(void) {
  lch__drop_spare();
  kill_leftovers(0);
}

/* The driver is gone (end of input, or nobody reads the answers) while a
 * scenario runs and hangs: end the scenario and everything else, exit 0 as
 * at the end of input between scenarios. */
static _Noreturn void lose_driver(pid_t pgid) {
  kill(-pgid, SIGKILL);
  kill(pgid, SIGKILL);
  kill_leftovers(pgid);
  lch__kill_all();
  exit(0);
}

/* Wait for a signal (SIGCHLD) for at most ms (< 0: no limit), and, when
 * `watch`, for the driver to go: its end of stdin hung up or failed, or
 * stdout has no reader.  The scenario process owns stdin while it lives,
 * so the zygote reads nothing, it only polls.  Returns 1 when it went. */
static int wait_watching_driver(int64_t ms, int watch) {
  sigset_t mask;
  sigprocmask(SIG_BLOCK, NULL, &mask);
  sigdelset(&mask, SIGCHLD);
  struct pollfd pf[2] = {{watch ? lch__in : -1, POLLRDHUP, 0},
                         {watch ? lch__out : -1, 0, 0}};
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  if (ppoll(pf, 2, ms < 0 ? NULL : &ts, &mask) <= 0)
    return 0; /* SIGCHLD (EINTR), or the time is up */
  return (pf[0].revents & (POLLHUP | POLLRDHUP | POLLERR)) ||
         (pf[1].revents & (POLLHUP | POLLERR));
}

/* Hand `begin` (the line just read) to the spare; returns its pid, or -1
 * when there is none or it is gone (the caller forks then). */
static pid_t use_spare(void) {
  pid_t pid = -1;
  if (g_spare.pid <= 0)
    return -1;
  size_t after = lch__sh->head;
  lch__sh->head = lch__line_start; /* the spare reads `begin` again */
  if (write(g_spare.ctl, "g", 1) == 1)
    pid = g_spare.pid;
  else
    lch__sh->head = after; /* it died: it is reaped with the others */
  close(g_spare.ctl);
  g_spare.pid = 0;
  g_spare.ctl = -1;
  return pid;
}

void lch__do_begin(const lch__cmd_t *cmd) {
  int status = 0, timed_out = 0, driver_gone = 0;
  int64_t gone_at = 0,
          deadline = lch__timeout_ms > 0 ? lch__now_ms() + lch__timeout_ms : 0;

  lch__sh->last_seq = cmd->seq;
  lch__sh->last_has_seq = 1;
  lch__sh->ended = lch__sh->answered = lch__sh->eof = 0;
  pid_t zygote = getpid(), pid = use_spare();
  if (pid < 0) {
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
      lch__respond_error(1, cmd->seq, "begin: fork: %s", strerror(errno));
      return;
    }
    if (pid == 0) {
      die_with_zygote(zygote);
      lch__run_scenario(cmd); /* does not return */
    }
    setpgid(pid, pid); /* also done by the child; whichever runs first */
  }

  for (;;) {
    pid_t w;
    int st;
    int gone = 0;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0)
      if (w == pid) {
        status = st;
        gone = 1;
      }
    if (gone)
      break;
    if (w < 0 && errno == ECHILD)
      break; /* cannot happen while the child lives */
    int64_t now = lch__now_ms(), wait_ms = -1;
    if (driver_gone && now - gone_at >= DRIVER_GONE_GRACE_MS)
      lose_driver(pid);
    if (deadline && !timed_out) {
      wait_ms = deadline - now;
      if (wait_ms <= 0) {
        timed_out = 1;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        continue;
      }
    }
    if (driver_gone &&
        (wait_ms < 0 || wait_ms > gone_at + DRIVER_GONE_GRACE_MS - now))
      wait_ms = gone_at + DRIVER_GONE_GRACE_MS - now;
    if (wait_watching_driver(wait_ms, !driver_gone)) {
      driver_gone = 1;
      gone_at = lch__now_ms();
    }
  }
  int ended = lch__sh->ended && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  static char left[sizeof(lch__sh->leftover) + 4096];
  int n_left = 0;
  left[0] = '\0';
  if (ended) {
    /* Processes first: they matter more than fds when the list is cut. */
    n_left = note_leftover_processes(pid, left, sizeof(left));
    size_t used = strlen(left);
    lch__sh->leftover[sizeof(lch__sh->leftover) - 1] = '\0';
    n_left += lch__loadtime_sockets(left + used, sizeof(left) - used);
    used = strlen(left);
    snprintf(left + used, sizeof(left) - used, "%s", lch__sh->leftover);
    n_left += lch__sh->n_leftover;
  }
  kill_leftovers(pid);

  if (lch__sh->answered || lch__sh->eof)
    return;
  if (ended) {
    lch__resp_begin("ok", 1, lch__sh->last_seq);
    lch__jw_cstr(&lch__resp, "status", "exit 0");
    lch__jw_bool(&lch__resp, "clean", n_left == 0);
    if (n_left)
      write_leftovers(left, n_left);
    lch__resp_send();
    return;
  }
  lch__resp_begin("crash", lch__sh->last_has_seq, lch__sh->last_seq);
  if (WIFSIGNALED(status))
    lch__jw_int(&lch__resp, "signal", WTERMSIG(status));
  else
    lch__jw_int(&lch__resp, "exit", WEXITSTATUS(status));
  if (timed_out) {
    lch__jw_bool(&lch__resp, "timeout", 1);
    lch__jw_int(&lch__resp, "ms", lch__timeout_ms);
  }
  lch__resp_send();
}
