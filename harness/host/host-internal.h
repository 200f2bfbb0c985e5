/* host-internal.h — what crosses files inside lc-host, and nothing else.
 *
 * Names: `lc_` and `LC_` belong to the shim ABI (harness/include/lc_shim.h).
 * The host's own names that cross files carry `lch__` (functions, globals,
 * types; LCH_ for macros and enum constants), after libuv's `uv_` public,
 * `uv__` internal; a name used in one file only is static and unprefixed.
 * Nothing declared here is an ABI: it may change with the host.
 */
#ifndef LCH_HOST_INTERNAL_H
#define LCH_HOST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"
#include "lc_shim.h"
#include "proto.h"

/* The command line, for --help and usage errors. */
#define LCH_USAGE                                          \
  "lc-host [--scenario-timeout-ms N] [--run-as UID:GID] "  \
  "[--limit-mem BYTES] [--limit-fds N] [--limit-procs N] " \
  "[--node-version X.Y.Z] SHIM.so"

/* --node-version X.Y.Z: the Node.js release the shim is held to, passed in
 * lc_host_t.node_major/minor/patch (ABI 1.1) and reported by `hello`; all 0
 * when the option is not given (the newest Node).  Set by main. */
extern uint32_t lch__node_version[3];

/* One page-aligned block shared by the zygote and the scenario child.  Only
 * one of them uses the input buffer at a time (the child while it lives, the
 * zygote after it has been reaped), so no command is lost when the child
 * dies with bytes read ahead. */
typedef struct lch__shared_s {
  int64_t last_seq; /* seq of the last command the child received */
  int last_has_seq;
  int ended;        /* the child completed `end` and is exiting 0 */
  int answered;     /* the child answered `begin` with an error itself */
  int eof;          /* the child saw the end of the input */
  int discarding;   /* inside an overlong line, dropping to its '\n' */
  int long_has_seq; /* the overlong line's seq, when its start had one */
  int64_t long_seq;
  int n_leftover;      /* fds the scenario left open at `end` */
  char leftover[4096]; /* their descriptions, '\n'-separated */
  size_t head, tail;   /* unread input is buf[head..tail) */
  char buf[2 * LCH_PROTO_LINE_MAX + 2];
} lch__shared_t;

/* ------------------------------------------------------------------------ */
/* io.c: protocol I/O */

extern int lch__in, lch__out;  /* the private protocol fds (main sets them) */
extern lch__shared_t *lch__sh; /* mapped by main before the first command */
extern int lch__is_child;      /* this process is a scenario child */
extern lch__jw_t lch__resp, lch__ev; /* the response, the event being written */
extern size_t lch__line_start; /* offset of the last line in lch__sh->buf */

/* Write w's text as one line (an event; responses go through lch__resp_*). */
void lch__send_line(lch__jw_t *w);
/* A response: begin it, add members to lch__resp, send it. */
void lch__resp_begin(const char *r, int has_seq, int64_t seq);
void lch__resp_send(void);
void lch__respond_ok(const lch__cmd_t *cmd);
void lch__respond_error(int has_seq, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Before the zygote serves: stderr and an error response, exit 2. */
_Noreturn void lch__fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* A bad command line: one usage line on stderr, exit 2. */
_Noreturn void lch__usage_error(const char *why);
/* 1 with *cmd to free, 0 at the end of input. */
int lch__next_command(lch__cmd_t *cmd);

/* ------------------------------------------------------------------------ */
/* child.c: the scenario child */

/* Called at every response: `run` counts emissions since the last one. */
void lch__forget_emitted(void);
int64_t lch__now_ms(void); /* CLOCK_MONOTONIC */
/* The fds open in this process (any process), into fds[0..max). */
int lch__open_fds(int *fds, int max);
void lch__sleep_ms(int64_t ms);
/* Becomes the scenario process for `begin`; exits, never returns. */
void lch__run_scenario(const lch__cmd_t *begin);

/* ------------------------------------------------------------------------ */
/* zygote.c: forking, the spare, leftovers, reaping */

extern long lch__timeout_ms; /* --scenario-timeout-ms; 0: no limit */
/* 1: the host is PID 1 of its own PID namespace and /proc is that
 * namespace's, so every process /proc lists but the host is the scenarios'
 * (set by lch__init_reaper). */
extern int lch__pid1;
/* Before the shim loads: become the child subreaper, so that whatever the
 * shim forks, even from a constructor, is reparented to the host. */
void lch__init_reaper(void);
/* Kill and reap every process of the host's but itself (the spare too). */
void lch__kill_all(void);
void lch__make_spare(void);
void lch__drop_spare(void);
/* Runs one scenario from `begin` to its answer (end, crash or timeout). */
void lch__do_begin(const lch__cmd_t *cmd);

/* ------------------------------------------------------------------------ */
/* loader.c: the shim */

extern const char *lch__lib;       /* the shim's path, for messages */
extern const lc_shim_t *lch__shim; /* the checked descriptor */
/* Empty when the shim can keep accepted connections open (ABI 1.2
 * hold_connections), else why not: `hello` lists "hold" in `lacks` with it,
 * and the `hold` command answers an error. */
extern char lch__cannot_hold[256];
/* dlopen, handshake, descriptor checks; lch__fatal() on any failure.  fd,
 * when >= 0, is the shim opened before the privileges were dropped: loaded
 * through /proc/self/fd when the path itself is not readable (then closed). */
void lch__load_shim(const char *lib, int fd);
/* Listening sockets the zygote holds that the shim's load opened: appends
 * "fd N (socket:[ino]) opened at load time" lines to buf; returns how many. */
int lch__loadtime_sockets(char *buf, size_t size);
void lch__do_hello(const lch__cmd_t *cmd);

/* ------------------------------------------------------------------------ */
/* faults.c: one-shot failures of the implementation's system calls (`fail`) */

/* The kinds `fail` arms: accept (accept, accept4), chmod (chmod, fchmod). */
enum { LCH_FAULT_ACCEPT = 0, LCH_FAULT_CHMOD = 1, LCH_FAULT_COUNT = 2 };
/* The kind of a `call` name, or -1. */
int lch__fault_kind(const char *name);
/* The next call of `kind` returns -1 with errno `err` (> 0), once. */
void lch__fault_arm(int kind, int err);

/* ------------------------------------------------------------------------ */
/* privs.c: dropping root and setting limits, before the shim loads */

typedef struct lch__limits_s {
  unsigned long long mem;   /* --limit-mem: RLIMIT_AS bytes; 0: unchanged */
  unsigned long long fds;   /* --limit-fds: RLIMIT_NOFILE; 0: unchanged */
  unsigned long long procs; /* --limit-procs: RLIMIT_NPROC; 0: unchanged */
} lch__limits_t;

/* --run-as: no capabilities (bounding set included), no supplementary
 * groups, uid:gid, no_new_privs, checked in /proc/self/status; lch__fatal()
 * when any of it fails. */
void lch__drop_privileges(uid_t uid, gid_t gid);
/* The --limit-* options, as hard and soft limits. */
void lch__set_limits(const lch__limits_t *l);
/* Die with SIGKILL when the parent dies (set after any credential change,
 * which clears it); exit(1) at once when it is no longer `parent`. */
void lch__die_with_parent(pid_t parent);

#endif /* LCH_HOST_INTERNAL_H */
