/* zygote.c — the zygote: forks one process per scenario (or wakes the spare
 * it forked ahead of time), waits for it with the scenario timeout, then
 * lists what the scenario left (its process group and processes reparented
 * to this subreaper, walking /proc), kills and reaps all of it, and answers
 * `end` or the crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host-internal.h"

#define MAX_LEFTOVER_ITEMS 32

long lch__timeout_ms;

static void reap_zombies(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

/* Is anything of the scenario left?  Cheap: its process group answers
 * kill(0), and any process reparented to this subreaper is a child that
 * waitpid() sees.  Only then is /proc worth walking. */
static int anything_left(pid_t pgid) {
  if (kill(-pgid, 0) == 0)
    return 1;
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

/* Children reparented to this subreaper: kill them (1 each). */
static int kill_orphan(const proc_stat_t *ps, void *data) {
  (void)data;
  if (ps->ppid != getpid())
    return 0;
  kill(ps->pid, SIGKILL);
  return 1;
}

/* Kill what the scenario left: its process group, and every process that
 * was reparented to this subreaper (a shim's double-forked or setsid()
 * children), until none is left. */
static void kill_leftovers(pid_t pgid) {
  int64_t deadline = lch__now_ms() + 5000;
  if (!anything_left(pgid))
    return;
  for (;;) {
    int found = kill(-pgid, SIGKILL) == 0;
    found += for_each_process(kill_orphan, NULL);
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
  if (ps->state == 'Z' || (ps->pgrp != l->pgid && ps->ppid != getpid()))
    return 0;
  int w = snprintf(l->buf + l->used, l->size - l->used, "process %d (%.32s)\n",
                   (int)ps->pid, ps->comm);
  if (w > 0 && (size_t)w < l->size - l->used)
    l->used += (size_t)w;
  return 1;
}

/* Processes the scenario left: its process group, or reparented to this
 * subreaper.  Appends "process PID (comm)" lines to buf. */
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
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return;
  }
  if (pid == 0) {
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
  sigset_t chld;
  int status = 0, timed_out = 0;
  int64_t deadline = lch__timeout_ms > 0 ? lch__now_ms() + lch__timeout_ms : 0;

  lch__sh->last_seq = cmd->seq;
  lch__sh->last_has_seq = 1;
  lch__sh->ended = lch__sh->answered = lch__sh->eof = 0;
  pid_t pid = use_spare();
  if (pid < 0) {
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
      lch__respond_error(1, cmd->seq, "begin: fork: %s", strerror(errno));
      return;
    }
    if (pid == 0)
      lch__run_scenario(cmd); /* does not return */
    setpgid(pid, pid);        /* also done by the child; whichever runs first */
  }

  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
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
    if (deadline && !timed_out) {
      int64_t left = deadline - lch__now_ms();
      if (left <= 0) {
        timed_out = 1;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        continue;
      }
      struct timespec ts = {(time_t)(left / 1000),
                            (long)(left % 1000) * 1000000L};
      sigtimedwait(&chld, NULL, &ts);
    } else {
      sigwaitinfo(&chld, NULL);
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
