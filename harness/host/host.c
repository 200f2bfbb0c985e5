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
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "lc_shim.h"
#include "proto.h"

/* The size of the 1.0 descriptor: the host reads no further from a 1.0 shim
 * (a later host compiled against a longer lc_shim_t still must not). */
#define LC_SHIM_SIZE_1_0 \
  (offsetof(lc_shim_t, server_free) + sizeof(((lc_shim_t *)0)->server_free))

#define MAX_SERVERS 64
#define MAX_EMITTED 32
#define EMITTED_NAME_MAX 64
#define MAX_TRACKED_FDS 1024
#define MAX_LEFTOVER_ITEMS 32

/* One page-aligned block shared by the zygote and the scenario child.  Only
 * one of them uses the input buffer at a time (the child while it lives, the
 * zygote after it has been reaped), so no command is lost when the child
 * dies with bytes read ahead. */
typedef struct shared_s {
  int64_t last_seq;  /* seq of the last command the child received */
  int last_has_seq;
  int ended;         /* the child completed `end` and is exiting 0 */
  int answered;      /* the child answered `begin` with an error itself */
  int eof;           /* the child saw the end of the input */
  int discarding;    /* inside an overlong line, dropping to its '\n' */
  int long_has_seq;  /* the overlong line's seq, when its start had one */
  int64_t long_seq;
  int n_leftover;    /* fds the scenario left open at `end` */
  char leftover[4096]; /* their descriptions, '\n'-separated */
  size_t head, tail; /* unread input is buf[head..tail) */
  char buf[2 * LC_PROTO_LINE_MAX + 2];
} shared_t;

typedef struct server_rec_s {
  char *name;
  lc_server_t *srv;
  /* Names this server emitted since the last `run` (see PROTOCOL.md). */
  char emitted[MAX_EMITTED][EMITTED_NAME_MAX];
  int n_emitted;
} server_rec_t;

static const char *g_lib = "";
static const lc_shim_t *g_shim;
static int g_in = 0, g_out = 1;
static long g_timeout_ms;
static shared_t *g_sh;
static int g_is_child;
static int g_sync; /* inside listen/close/abort: events are synchronous */
static server_rec_t g_servers[MAX_SERVERS];
static int g_n_servers;
static lc_jw_t g_resp, g_ev;
/* Scenario child: fds open once the scenario began, and fds mksock made
 * (handed to the shim, which may or may not close them). */
static int g_start_fds[MAX_TRACKED_FDS], g_n_start_fds;
static int g_mksock_fds[MAX_TRACKED_FDS], g_n_mksock_fds;

/* ------------------------------------------------------------------------ */
/* Output */

static void die_output(void) {
  /* The driver is gone; nobody can read an answer. */
  if (g_is_child)
    _exit(0);
  exit(1);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "lc-host: writing the protocol: %s\n", strerror(errno));
      die_output();
    }
    p += w;
    n -= (size_t)w;
  }
}

/* Write w's text as one line, in one write() when it fits a pipe's atomic
 * size. */
static void send_line(lc_jw_t *w) {
  lc_jw_raw(w, "\n", 1);
  if (w->oom) {
    static const char oom[] =
        "{\"r\":\"error\",\"seq\":null,\"message\":\"lc-host: out of memory\"}\n";
    write_all(g_out, oom, sizeof(oom) - 1);
    return;
  }
  write_all(g_out, w->buf, w->len);
}

static void resp_begin(const char *r, int has_seq, int64_t seq) {
  lc_jw_reset(&g_resp);
  lc_jw_begin(&g_resp);
  lc_jw_cstr(&g_resp, "r", r);
  if (has_seq)
    lc_jw_int(&g_resp, "seq", seq);
  else
    lc_jw_null(&g_resp, "seq");
}

/* `run` counts the emissions since the previous response (PROTOCOL.md). */
static void forget_emitted(void);

static void resp_send(void) {
  lc_jw_end(&g_resp);
  send_line(&g_resp);
  forget_emitted();
}

static void respond_ok(const lc_cmd_t *cmd) {
  resp_begin("ok", 1, cmd->seq);
  resp_send();
}

static void respond_error(int has_seq, int64_t seq, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  resp_begin("error", has_seq, seq);
  lc_jw_cstr(&g_resp, "message", msg);
  resp_send();
}

/* A failure before the zygote can serve: one line on stderr naming the
 * library, the same as an error response on the protocol, exit 2. */
static void fatal(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "lc-host: %s\n", msg);
  resp_begin("error", 1, 0);
  lc_jw_cstr(&g_resp, "message", msg);
  resp_send();
  exit(2);
}

/* ------------------------------------------------------------------------ */
/* Input: one line at a time from the shared buffer */

static size_t g_line_start; /* offset of the last line in g_sh->buf */

/* 1: a line in *line, *len (valid until the next call); 0: end of input;
 * -1: the line was longer than LC_PROTO_LINE_MAX and was dropped. */
static int read_line(const char **line, size_t *len) {
  shared_t *sh = g_sh;
  for (;;) {
    char *start = sh->buf + sh->head;
    char *nl = memchr(start, '\n', sh->tail - sh->head);
    if (nl) {
      g_line_start = sh->head;
      sh->head += (size_t)(nl - start) + 1;
      if (sh->discarding) {
        sh->discarding = 0;
        return -1;
      }
      *line = start;
      *len = (size_t)(nl - start);
      return 1;
    }
    if (sh->discarding) {
      sh->head = sh->tail = 0;
    } else if (sh->tail - sh->head > LC_PROTO_LINE_MAX) {
      sh->long_has_seq = lc_proto_sniff_seq(sh->buf + sh->head,
                                            sh->tail - sh->head, &sh->long_seq);
      sh->discarding = 1;
      sh->head = sh->tail = 0;
    } else if (sh->head > 0) {
      memmove(sh->buf, sh->buf + sh->head, sh->tail - sh->head);
      sh->tail -= sh->head;
      sh->head = 0;
    }
    ssize_t r = read(g_in, sh->buf + sh->tail, sizeof(sh->buf) - sh->tail);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      fprintf(stderr, "lc-host: reading the protocol: %s\n", strerror(errno));
    if (r <= 0) {
      /* A last line without '\n' still counts as a line. */
      if (sh->tail > sh->head && !sh->discarding) {
        g_line_start = sh->head;
        *line = sh->buf + sh->head;
        *len = sh->tail - sh->head;
        sh->head = sh->tail;
        return 1;
      }
      sh->discarding = 0;
      return 0;
    }
    sh->tail += (size_t)r;
  }
}

/* Read and parse the next command.  Returns 1 with *cmd to free, 0 at the
 * end of input; lines that are not commands are answered here. */
static int next_command(lc_cmd_t *cmd) {
  for (;;) {
    const char *line;
    size_t len;
    char errbuf[512];
    int r = read_line(&line, &len);
    if (r == 0)
      return 0;
    if (r < 0) {
      respond_error(g_sh->long_has_seq, g_sh->long_seq,
                    "line longer than %d bytes", LC_PROTO_LINE_MAX);
      continue;
    }
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
      k++;
    if (k == len)
      continue; /* blank lines are not commands */
    if (lc_proto_parse(line, len, cmd, errbuf, sizeof(errbuf)) == 0)
      return 1;
    if (!cmd->has_seq)
      cmd->has_seq = lc_proto_sniff_seq(line, len, &cmd->seq);
    respond_error(cmd->has_seq, cmd->seq, "%s", errbuf);
    lc_cmd_free(cmd);
  }
}

/* ------------------------------------------------------------------------ */
/* Commands answered by both the zygote and the scenario child */

static void abi_string(uint32_t v, char *buf, size_t n) {
  snprintf(buf, n, "%u.%u", (unsigned)(v >> 16), (unsigned)(v & 0xFFFF));
}

static void do_hello(const lc_cmd_t *cmd) {
  char abi[32];
  abi_string(g_shim->abi_version, abi, sizeof(abi));
  resp_begin("ok", 1, cmd->seq);
  lc_jw_cstr(&g_resp, "runner", "c-host");
  lc_jw_cstr(&g_resp, "impl", g_shim->name);
  lc_jw_cstr(&g_resp, "impl_version", g_shim->impl_version);
  lc_jw_cstr(&g_resp, "abi", abi);
  lc_jw_null(&g_resp, "node_version");
  resp_send();
}

/* ------------------------------------------------------------------------ */
/* The scenario child */

static server_rec_t *find_server(const char *name) {
  for (int i = 0; i < g_n_servers; i++)
    if (strcmp(g_servers[i].name, name) == 0)
      return &g_servers[i];
  return NULL;
}

static server_rec_t *server_for(const lc_cmd_t *cmd) {
  server_rec_t *s = find_server(cmd->srv);
  if (!s)
    respond_error(1, cmd->seq,
                  "%s: no server [%s] in this scenario (create it with op "
                  "server)",
                  cmd->op_name, cmd->srv);
  return s;
}

static void note_emitted(server_rec_t *s, const char *name) {
  if (strlen(name) >= EMITTED_NAME_MAX)
    return;
  for (int i = 0; i < s->n_emitted; i++)
    if (strcmp(s->emitted[i], name) == 0)
      return;
  if (s->n_emitted < MAX_EMITTED)
    strcpy(s->emitted[s->n_emitted++], name);
}

static void forget_emitted(void) {
  for (int i = 0; i < g_n_servers; i++)
    g_servers[i].n_emitted = 0;
}

static int was_emitted(const server_rec_t *s, const char *name) {
  for (int i = 0; i < s->n_emitted; i++)
    if (strcmp(s->emitted[i], name) == 0)
      return 1;
  return 0;
}

#define EV_HAS(ev, member) \
  ((ev)->size >= offsetof(lc_event_t, member) + sizeof((ev)->member))

static void write_error_object(lc_jw_t *w, const lc_error_t *e) {
  lc_jw_obj(w, "error");
  lc_jw_cstr(w, "code", e->code);
  if (e->errnum)
    lc_jw_int(w, "errno", e->errnum);
  else
    lc_jw_null(w, "errno");
  lc_jw_cstr(w, "syscall", e->syscall);
  lc_jw_cstr(w, "address", e->address);
  if (e->port != -1)
    lc_jw_int(w, "port", e->port);
  else
    lc_jw_null(w, "port");
  lc_jw_cstr(w, "message", e->message);
  lc_jw_end(w);
}

static void on_event(void *host_ctx, const lc_event_t *ev) {
  server_rec_t *s = NULL;
  lc_jw_t *w = &g_ev;
  (void)host_ctx;
  if (!ev) {
    fprintf(stderr, "lc-host: [%s] reported a NULL event\n", g_lib);
    return;
  }
  lc_jw_reset(w);
  lc_jw_begin(w);
  int type = EV_HAS(ev, type) ? (int)ev->type : 0;
  if (type == LC_EVENT_EMIT)
    lc_jw_cstr(w, "ev", "emit");
  else if (type == LC_EVENT_CALL)
    lc_jw_cstr(w, "ev", "call");
  else {
    lc_jw_cstr(w, "ev", "invalid");
    lc_jw_int(w, "type", type);
  }
  if (EV_HAS(ev, tag))
    for (int i = 0; i < g_n_servers; i++)
      if ((void *)&g_servers[i] == ev->tag)
        s = &g_servers[i];
  lc_jw_cstr(w, "srv", s ? s->name : NULL);
  const char *name = EV_HAS(ev, name) ? ev->name : NULL;
  lc_jw_cstr(w, "name", name);
  if (EV_HAS(ev, label) && (type == LC_EVENT_CALL || ev->label))
    lc_jw_cstr(w, "label", ev->label);
  lc_jw_bool(w, "sync", g_sync);
  if (EV_HAS(ev, error) && ev->error)
    write_error_object(w, ev->error);
  lc_jw_end(w);
  send_line(w);
  if (type == LC_EVENT_EMIT && s && name)
    note_emitted(s, name);
}

static void free_servers(void) {
  for (int i = 0; i < g_n_servers; i++)
    if (g_servers[i].srv)
      g_shim->server_free(g_servers[i].srv);
}

static int add_server(const lc_cmd_t *cmd, const char *name) {
  if (find_server(name)) {
    respond_error(1, cmd->seq, "server: there is already a server [%s]", name);
    return -1;
  }
  if (g_n_servers == MAX_SERVERS) {
    respond_error(1, cmd->seq, "server: at most %d servers per scenario",
                  MAX_SERVERS);
    return -1;
  }
  server_rec_t *s = &g_servers[g_n_servers];
  memset(s, 0, sizeof(*s));
  s->name = strdup(name);
  if (!s->name) {
    respond_error(1, cmd->seq, "server: out of memory");
    return -1;
  }
  s->srv = g_shim->server_new(s);
  if (!s->srv) {
    free(s->name);
    respond_error(1, cmd->seq, "server: server_new() returned NULL");
    return -1;
  }
  g_n_servers++;
  return 0;
}

static void respond_throw(const lc_cmd_t *cmd, const lc_error_t *e) {
  resp_begin("throw", 1, cmd->seq);
  lc_jw_cstr(&g_resp, "code", e->code);
  lc_jw_cstr(&g_resp, "message", e->message);
  resp_send();
}

static void init_error(lc_error_t *e) {
  memset(e, 0, sizeof(*e));
  e->port = -1;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static void do_run(const lc_cmd_t *cmd, server_rec_t *s) {
  int64_t deadline = now_ms() + cmd->ms;
  int done = 0;
  for (;;) {
    if (was_emitted(s, cmd->until)) {
      done = 1;
      break;
    }
    int64_t t0 = now_ms(), left = deadline - t0;
    if (left <= 0)
      break;
    int n = g_shim->run(left > INT_MAX ? INT_MAX : (int)left);
    if (n < 0) {
      respond_error(1, cmd->seq, "run: the shim's run() returned %d (%s)", n,
                    strerror(-n));
      done = -1;
      break;
    }
    /* A loop with nothing to do may return at once: do not spin. */
    if (n == 0 && now_ms() - t0 < 1 && !was_emitted(s, cmd->until))
      sleep_ms(1);
  }
  if (done == 1)
    respond_ok(cmd);
  else if (done == 0) {
    resp_begin("timeout", 1, cmd->seq);
    resp_send();
  }
}

static void do_address(const lc_cmd_t *cmd, server_rec_t *s) {
  lc_address_t a;
  memset(&a, 0, sizeof(a));
  a.size = sizeof(a);
  int rc = g_shim->address(s->srv, &a);
  if (rc != 0) {
    respond_error(1, cmd->seq, "address: the shim's address() returned %d", rc);
    return;
  }
  a.family[sizeof(a.family) - 1] = '\0';
  a.address[sizeof(a.address) - 1] = '\0';
  switch (a.kind) {
  case LC_ADDRESS_NULL:
    resp_begin("ok", 1, cmd->seq);
    lc_jw_null(&g_resp, "value");
    break;
  case LC_ADDRESS_INET:
    resp_begin("ok", 1, cmd->seq);
    lc_jw_obj(&g_resp, "value");
    lc_jw_cstr(&g_resp, "address", a.address);
    lc_jw_cstr(&g_resp, "family", a.family);
    lc_jw_int(&g_resp, "port", a.port);
    lc_jw_end(&g_resp);
    break;
  case LC_ADDRESS_PIPE:
    resp_begin("ok", 1, cmd->seq);
    lc_jw_str(&g_resp, "value", a.path,
              a.path_len > sizeof(a.path) ? sizeof(a.path) : a.path_len);
    break;
  default:
    respond_error(1, cmd->seq, "address: the shim's address() set kind %d",
                  (int)a.kind);
    return;
  }
  resp_send();
}

static const char *errno_name(int e) {
  switch (e) {
  case EADDRINUSE: return "EADDRINUSE";
  case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
  case EACCES: return "EACCES";
  case EPERM: return "EPERM";
  case EAFNOSUPPORT: return "EAFNOSUPPORT";
  case EINVAL: return "EINVAL";
  case ENOENT: return "ENOENT";
  case ENOTDIR: return "ENOTDIR";
  case EEXIST: return "EEXIST";
  case EMFILE: return "EMFILE";
  case ENFILE: return "ENFILE";
  case ENOMEM: return "ENOMEM";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case EROFS: return "EROFS";
  case ELOOP: return "ELOOP";
  default: return "E?";
  }
}

/* A socket made by the runner for the handle forms.  Returns the fd, or -1
 * with msg naming the call, the address and the errno. */
static int make_socket(const lc_cmd_t *cmd, char *msg, size_t msglen) {
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
  } addr;
  socklen_t alen = 0;
  int domain, one = 1;
  char where[300];

  memset(&addr, 0, sizeof(addr));
  if (cmd->family == LC_FAMILY_UNIX) {
    domain = AF_UNIX;
    if (cmd->path) {
      int abstract = cmd->path_len > 0 && cmd->path[0] == '\0';
      /* Refuse what does not fit instead of truncating it; a file path
       * needs room for its terminating NUL. */
      if (cmd->path_len == 0 ||
          cmd->path_len + (abstract ? 0 : 1) > sizeof(addr.un.sun_path)) {
        snprintf(msg, msglen,
                 "mksock: unix path of %zu bytes does not fit sun_path (%zu)",
                 cmd->path_len, sizeof(addr.un.sun_path));
        return -1;
      }
      if (!abstract && strlen(cmd->path) != cmd->path_len) {
        snprintf(msg, msglen, "mksock: a file path must not hold a NUL");
        return -1;
      }
      addr.un.sun_family = AF_UNIX;
      memcpy(addr.un.sun_path, cmd->path, cmd->path_len);
      alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                         cmd->path_len + (abstract ? 0 : 1));
      snprintf(where, sizeof(where), "%s%.200s", abstract ? "@" : "",
               cmd->path + (abstract ? 1 : 0));
    } else {
      snprintf(where, sizeof(where), "unix");
    }
  } else {
    const char *host = cmd->address;
    int v6 = cmd->family == LC_FAMILY_TCP6;
    domain = v6 ? AF_INET6 : AF_INET;
    if (!host)
      host = v6 ? "::1" : "127.0.0.1";
    if (cmd->port < 0 || cmd->port > 65535) {
      snprintf(msg, msglen, "mksock: port %d is not in [0, 65535]",
               (int)cmd->port);
      return -1;
    }
    if (v6) {
      addr.in6.sin6_family = AF_INET6;
      addr.in6.sin6_port = htons((uint16_t)cmd->port);
      if (inet_pton(AF_INET6, host, &addr.in6.sin6_addr) != 1) {
        snprintf(msg, msglen, "mksock: [%.200s] is not an IPv6 address", host);
        return -1;
      }
      alen = sizeof(addr.in6);
    } else {
      addr.in4.sin_family = AF_INET;
      addr.in4.sin_port = htons((uint16_t)cmd->port);
      if (inet_pton(AF_INET, host, &addr.in4.sin_addr) != 1) {
        snprintf(msg, msglen, "mksock: [%.200s] is not an IPv4 address", host);
        return -1;
      }
      alen = sizeof(addr.in4);
    }
    snprintf(where, sizeof(where), v6 ? "[%.200s]:%d" : "%.200s:%d", host,
             (int)cmd->port);
  }

  int fd = socket(domain, SOCK_STREAM, 0);
  if (fd < 0) {
    snprintf(msg, msglen, "mksock: socket() for %s: %s %s (errno %d)", where,
             errno_name(errno), strerror(errno), errno);
    return -1;
  }
  if (domain != AF_UNIX &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
    snprintf(msg, msglen, "mksock: setsockopt(SO_REUSEADDR) for %s: %s (errno %d)",
             where, strerror(errno), errno);
    close(fd);
    return -1;
  }
  if (cmd->has_ipv6only &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &cmd->ipv6only,
                 sizeof(cmd->ipv6only)) < 0) {
    snprintf(msg, msglen, "mksock: setsockopt(IPV6_V6ONLY) for %s: %s (errno %d)",
             where, strerror(errno), errno);
    close(fd);
    return -1;
  }
  if (cmd->bind && bind(fd, &addr.sa, alen) < 0) {
    snprintf(msg, msglen, "mksock: bind %s: %s %s (errno %d)", where,
             errno_name(errno), strerror(errno), errno);
    close(fd);
    return -1;
  }
  if (cmd->do_listen && listen(fd, cmd->backlog) < 0) {
    snprintf(msg, msglen, "mksock: listen %s: %s %s (errno %d)", where,
             errno_name(errno), strerror(errno), errno);
    close(fd);
    return -1;
  }
  return fd;
}

/* Execute one scenario command.  Returns 1 at `end`. */
static int scenario_command(const lc_cmd_t *cmd) {
  server_rec_t *s = NULL;
  lc_error_t e;
  int rc;
  char msg[512];

  switch (cmd->op) {
  case LC_OP_HELLO:
    do_hello(cmd);
    return 0;
  case LC_OP_BEGIN:
    /* Ends this scenario silently and leaves the line for the zygote,
     * which starts the new one (as the JS adapter does). */
    g_sh->head = g_line_start;
    g_sh->answered = 1;
    return 1;
  case LC_OP_QUIT:
    respond_error(1, cmd->seq, "quit: a scenario is in progress (send end "
                               "first)");
    return 0;
  case LC_OP_END:
    return 1;
  case LC_OP_SERVER:
    if (add_server(cmd, cmd->srv) == 0)
      respond_ok(cmd);
    return 0;
  case LC_OP_MKSOCK: {
    int fd = make_socket(cmd, msg, sizeof(msg));
    if (fd < 0) {
      respond_error(1, cmd->seq, "%s", msg);
      return 0;
    }
    if (g_n_mksock_fds < MAX_TRACKED_FDS)
      g_mksock_fds[g_n_mksock_fds++] = fd;
    resp_begin("ok", 1, cmd->seq);
    lc_jw_int(&g_resp, "fd", fd);
    resp_send();
    return 0;
  }
  case LC_OP_SETTLE:
    for (int i = 0; i < 3; i++) {
      rc = g_shim->run(0);
      if (rc < 0) {
        respond_error(1, cmd->seq, "settle: the shim's run(0) returned %d (%s)",
                      rc, strerror(-rc));
        return 0;
      }
    }
    respond_ok(cmd);
    return 0;
  default:
    break;
  }

  /* The rest are about one server. */
  if (!(s = server_for(cmd)))
    return 0;
  init_error(&e);
  switch (cmd->op) {
  case LC_OP_ON:
    rc = g_shim->on(s->srv, cmd->event, cmd->label);
    if (rc == 0)
      respond_ok(cmd);
    else
      respond_error(1, cmd->seq, "on: the shim's on() returned %d", rc);
    break;
  case LC_OP_LISTEN:
    g_sync = 1;
    rc = g_shim->listen(s->srv, &cmd->listen, &e);
    g_sync = 0;
    if (rc == 0)
      respond_ok(cmd);
    else if (rc == -1)
      respond_throw(cmd, &e);
    else
      respond_error(1, cmd->seq,
                    "listen: the shim's listen() returned %d (0 or -1 only)",
                    rc);
    break;
  case LC_OP_CLOSE:
    g_sync = 1;
    rc = g_shim->close(s->srv, cmd->cb, &e);
    g_sync = 0;
    if (rc == 0)
      respond_ok(cmd);
    else if (rc == -1)
      respond_throw(cmd, &e);
    else
      respond_error(1, cmd->seq,
                    "close: the shim's close() returned %d (0 or -1 only)", rc);
    break;
  case LC_OP_ABORT:
    g_sync = 1;
    rc = g_shim->abort(s->srv);
    g_sync = 0;
    if (rc == 0)
      respond_ok(cmd);
    else
      respond_error(1, cmd->seq,
                    "abort: the shim's abort() returned %d (the last listen "
                    "had no signal?)",
                    rc);
    break;
  case LC_OP_ADDRESS:
    do_address(cmd, s);
    break;
  case LC_OP_LISTENING:
    rc = g_shim->listening(s->srv);
    if (rc == 0 || rc == 1) {
      resp_begin("ok", 1, cmd->seq);
      lc_jw_bool(&g_resp, "value", rc);
      resp_send();
    } else {
      respond_error(1, cmd->seq,
                    "listening: the shim's listening() returned %d (0 or 1 "
                    "only)",
                    rc);
    }
    break;
  case LC_OP_FD:
    resp_begin("ok", 1, cmd->seq);
    lc_jw_int(&g_resp, "value", g_shim->fd(s->srv));
    resp_send();
    break;
  case LC_OP_RUN:
    do_run(cmd, s);
    break;
  default:
    respond_error(1, cmd->seq, "%s: not handled in a scenario", cmd->op_name);
    break;
  }
  return 0;
}

/* The fds open in this process, into fds[0..max); returns how many. */
static int open_fds(int *fds, int max) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  if (!d)
    return 0;
  int self = dirfd(d);
  while ((de = readdir(d)) && n < max) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9')
      continue;
    int fd = atoi(de->d_name);
    if (fd != self)
      fds[n++] = fd;
  }
  closedir(d);
  return n;
}

static int in_list(const int *list, int n, int fd) {
  for (int i = 0; i < n; i++)
    if (list[i] == fd)
      return 1;
  return 0;
}

/* At `end`, after server_free: the sockets the scenario opened and left
 * open, described in the shared page for the zygote's answer. */
static void note_leftover_fds(void) {
  static int now[MAX_TRACKED_FDS];
  int n = open_fds(now, MAX_TRACKED_FDS);
  size_t used = 0;
  g_sh->n_leftover = 0;
  g_sh->leftover[0] = '\0';
  for (int i = 0; i < n; i++) {
    char link[64], target[256];
    if (in_list(g_start_fds, g_n_start_fds, now[i]) ||
        in_list(g_mksock_fds, g_n_mksock_fds, now[i]))
      continue;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", now[i]);
    ssize_t k = readlink(link, target, sizeof(target) - 1);
    target[k > 0 ? k : 0] = '\0';
    /* Only sockets: an event loop opens fds of its own lazily (libuv keeps
     * a /dev/null fd for its EMFILE trick, an epoll fd, an eventfd) that live
     * as long as the loop, while a socket left after server_free() is a
     * leak of the ABI's duty to close everything. */
    if (strncmp(target, "socket:", 7) != 0)
      continue;
    int w = snprintf(g_sh->leftover + used, sizeof(g_sh->leftover) - used,
                     "fd %d (%s)\n", now[i], target);
    if (w > 0 && (size_t)w < sizeof(g_sh->leftover) - used)
      used += (size_t)w;
    g_sh->n_leftover++;
  }
}

static void child_exit(int ended) {
  g_sh->ended = ended;
  fflush(NULL);
  _exit(0);
}

static void begin_failed(const lc_cmd_t *begin, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  respond_error(1, begin->seq, "begin: %s", msg);
  g_sh->answered = 1;
  child_exit(0);
}

static void run_scenario(const lc_cmd_t *begin) {
  static lc_host_t host;
  sigset_t none;
  lc_cmd_t cmd;

  g_is_child = 1;
  setpgid(0, 0);
  signal(SIGCHLD, SIG_DFL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  if (begin->umask >= 0)
    umask((mode_t)begin->umask);
  if (chdir(begin->cwd) < 0)
    begin_failed(begin, "chdir [%s]: %s (errno %d)", begin->cwd,
                 strerror(errno), errno);
  host.size = sizeof(host);
  host.event = on_event;
  host.host_ctx = NULL;
  int rc = g_shim->init(&host);
  if (rc < 0)
    begin_failed(begin, "the shim's init() returned %d (%s)", rc,
                 strerror(-rc));
  if (rc > 0)
    begin_failed(begin, "the shim's init() returned %d (0 or a negative errno "
                        "only)", rc);
  g_n_servers = 0;
  server_rec_t *a = &g_servers[0];
  memset(a, 0, sizeof(*a));
  a->name = "A";
  a->srv = g_shim->server_new(a);
  if (!a->srv)
    begin_failed(begin, "the shim's server_new() returned NULL");
  g_n_servers = 1;
  g_n_start_fds = open_fds(g_start_fds, MAX_TRACKED_FDS);

  resp_begin("ok", 1, begin->seq);
  lc_jw_int(&g_resp, "pid", getpid());
  resp_send();

  while (next_command(&cmd)) {
    g_sh->last_seq = cmd.seq;
    g_sh->last_has_seq = 1;
    int end = scenario_command(&cmd);
    lc_cmd_free(&cmd);
    if (end) {
      free_servers();
      if (g_sh->answered)
        child_exit(0); /* a new begin: ended silently */
      note_leftover_fds();
      child_exit(1);
    }
  }
  /* End of input inside a scenario: nobody will read an answer. */
  g_sh->eof = 1;
  free_servers();
  child_exit(0);
}

/* ------------------------------------------------------------------------ */
/* The zygote */

static void reap_zombies(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

/* Kill what the scenario left: its process group, and every process that
 * was reparented to this subreaper (a shim's double-forked or setsid()
 * children), until none is left. */
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

static void kill_leftovers(pid_t pgid) {
  int64_t deadline = now_ms() + 5000;
  if (!anything_left(pgid))
    return;
  for (;;) {
    int found = kill(-pgid, SIGKILL) == 0;
    found += for_each_process(kill_orphan, NULL);
    reap_zombies();
    if (!found)
      return;
    if (now_ms() > deadline) {
      fprintf(stderr, "lc-host: processes left by the scenario survive "
                      "SIGKILL; giving up on them\n");
      return;
    }
    sleep_ms(1);
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
  lc_jw_arr(&g_resp, "leftover");
  for (const char *p = text; *p && items < MAX_LEFTOVER_ITEMS; items++) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    lc_jw_item(&g_resp, p, len);
    p += len + (e ? 1 : 0);
  }
  if (n > items) {
    char more[64];
    snprintf(more, sizeof(more), "... and %d more", n - items);
    lc_jw_item(&g_resp, more, strlen(more));
  }
  lc_jw_arr_end(&g_resp);
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
  lc_cmd_t cmd;
  if (!next_command(&cmd) || cmd.op != LC_OP_BEGIN)
    _exit(0);
  run_scenario(&cmd); /* does not return */
}

static void make_spare(void) {
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

static void drop_spare(void) {
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
  size_t after = g_sh->head;
  g_sh->head = g_line_start; /* the spare reads `begin` again */
  if (write(g_spare.ctl, "g", 1) == 1)
    pid = g_spare.pid;
  else
    g_sh->head = after; /* it died: it is reaped with the others */
  close(g_spare.ctl);
  g_spare.pid = 0;
  g_spare.ctl = -1;
  return pid;
}

static void do_begin(const lc_cmd_t *cmd) {
  sigset_t chld;
  int status = 0, timed_out = 0;
  int64_t deadline = g_timeout_ms > 0 ? now_ms() + g_timeout_ms : 0;

  g_sh->last_seq = cmd->seq;
  g_sh->last_has_seq = 1;
  g_sh->ended = g_sh->answered = g_sh->eof = 0;
  pid_t pid = use_spare();
  if (pid < 0) {
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
      respond_error(1, cmd->seq, "begin: fork: %s", strerror(errno));
      return;
    }
    if (pid == 0)
      run_scenario(cmd); /* does not return */
    setpgid(pid, pid); /* also done by the child; whichever runs first */
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
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        timed_out = 1;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        continue;
      }
      struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
      sigtimedwait(&chld, NULL, &ts);
    } else {
      sigwaitinfo(&chld, NULL);
    }
  }
  int ended = g_sh->ended && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  static char left[sizeof(g_sh->leftover) + 4096];
  int n_left = 0;
  left[0] = '\0';
  if (ended) {
    /* Processes first: they matter more than fds when the list is cut. */
    n_left = note_leftover_processes(pid, left, sizeof(left));
    size_t used = strlen(left);
    g_sh->leftover[sizeof(g_sh->leftover) - 1] = '\0';
    snprintf(left + used, sizeof(left) - used, "%s", g_sh->leftover);
    n_left += g_sh->n_leftover;
  }
  kill_leftovers(pid);

  if (g_sh->answered || g_sh->eof)
    return;
  if (ended) {
    resp_begin("ok", 1, g_sh->last_seq);
    lc_jw_cstr(&g_resp, "status", "exit 0");
    lc_jw_bool(&g_resp, "clean", n_left == 0);
    if (n_left)
      write_leftovers(left, n_left);
    resp_send();
    return;
  }
  resp_begin("crash", g_sh->last_has_seq, g_sh->last_seq);
  if (WIFSIGNALED(status))
    lc_jw_int(&g_resp, "signal", WTERMSIG(status));
  else
    lc_jw_int(&g_resp, "exit", WEXITSTATUS(status));
  if (timed_out) {
    lc_jw_bool(&g_resp, "timeout", 1);
    lc_jw_int(&g_resp, "ms", g_timeout_ms);
  }
  resp_send();
}

static void on_sigchld(int sig) { (void)sig; }

static void load_shim(const char *lib) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    fatal("[%s] is not a loadable shared library: %s", lib,
          e ? e : "unknown error");
  }
  dlerror();
  void *sym = dlsym(h, LC_SHIM_ENTRY_SYMBOL);
  if (!sym)
    fatal("no entry point [%s] in shared library [%s]", LC_SHIM_ENTRY_SYMBOL,
          lib);
  lc_shim_entry_fn entry;
  memcpy(&entry, &sym, sizeof(entry)); /* POSIX: object to function pointer */
  const lc_shim_t *d = entry(LC_ABI_VERSION);
  char mine[32], theirs[32];
  abi_string(LC_ABI_VERSION, mine, sizeof(mine));
  if (!d)
    fatal("[%s] refused shim ABI %s: %s(%s) returned NULL", lib, mine,
          LC_SHIM_ENTRY_SYMBOL, mine);
  abi_string(d->abi_version, theirs, sizeof(theirs));
  if ((d->abi_version >> 16) != LC_ABI_VERSION_MAJOR)
    fatal("[%s] speaks shim ABI %s, this host speaks %s", lib, theirs, mine);
  if (d->abi_version > LC_ABI_VERSION)
    fatal("[%s] answered shim ABI %s, newer than the %s this host offered",
          lib, theirs, mine);
  if (d->size < LC_SHIM_SIZE_1_0)
    fatal("[%s] descriptor size %u is smaller than the ABI 1.0 size %zu", lib,
          (unsigned)d->size, (size_t)LC_SHIM_SIZE_1_0);
  static const struct {
    const char *name;
    size_t off;
  } fns[] = {
      {"init", offsetof(lc_shim_t, init)},
      {"server_new", offsetof(lc_shim_t, server_new)},
      {"on", offsetof(lc_shim_t, on)},
      {"listen", offsetof(lc_shim_t, listen)},
      {"close", offsetof(lc_shim_t, close)},
      {"address", offsetof(lc_shim_t, address)},
      {"listening", offsetof(lc_shim_t, listening)},
      {"abort", offsetof(lc_shim_t, abort)},
      {"fd", offsetof(lc_shim_t, fd)},
      {"run", offsetof(lc_shim_t, run)},
      {"server_free", offsetof(lc_shim_t, server_free)},
  };
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    void (*fp)(void);
    memcpy(&fp, (const char *)d + fns[i].off, sizeof(fp));
    if (!fp)
      fatal("[%s] descriptor has no [%s] function (NULL in ABI 1.0)", lib,
            fns[i].name);
  }
  g_shim = d;
}

static void usage_error(const char *why) {
  fprintf(stderr,
          "lc-host: %s (usage: lc-host [--scenario-timeout-ms N] SHIM.so)\n",
          why);
  exit(2);
}

int main(int argc, char **argv) {
  const char *lib = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--scenario-timeout-ms") == 0) {
      char *end;
      if (i + 1 >= argc)
        usage_error("--scenario-timeout-ms needs a number");
      errno = 0;
      long v = strtol(argv[++i], &end, 10);
      if (errno || *end || end == argv[i] || v < 0 || v > 86400000L)
        usage_error("--scenario-timeout-ms needs a number of milliseconds "
                    "in [0, 86400000] (0: no limit)");
      g_timeout_ms = v;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: lc-host [--scenario-timeout-ms N] SHIM.so\n");
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      char why[256];
      snprintf(why, sizeof(why), "unknown option [%.200s]", argv[i]);
      usage_error(why);
    } else if (lib) {
      usage_error("exactly one shim library, please");
    } else {
      lib = argv[i];
    }
  }
  if (!lib)
    usage_error("no shim library given");
  g_lib = lib;
  lc_jw_init(&g_resp);
  lc_jw_init(&g_ev);

  /* The protocol gets private fds; fd 1 becomes stderr and fd 0 /dev/null,
   * so neither a shim's printf nor its reads can touch the protocol. */
  g_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
  g_in = fcntl(0, F_DUPFD_CLOEXEC, 3);
  if (g_out < 0 || g_in < 0) {
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

  load_shim(lib);

  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    fprintf(stderr, "lc-host: PR_SET_CHILD_SUBREAPER: %s (processes a shim "
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

  g_sh = mmap(NULL, sizeof(shared_t), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_sh == MAP_FAILED)
    fatal("mmap of the shared page: %s", strerror(errno));

  lc_cmd_t cmd;
  for (;;) {
    make_spare(); /* ahead of the next `begin`; see g_spare */
    if (!next_command(&cmd))
      break;
    switch (cmd.op) {
    case LC_OP_HELLO:
      do_hello(&cmd);
      break;
    case LC_OP_QUIT:
      respond_ok(&cmd);
      lc_cmd_free(&cmd);
      goto out;
    case LC_OP_BEGIN:
      do_begin(&cmd);
      if (g_sh->eof) {
        lc_cmd_free(&cmd);
        goto out;
      }
      break;
    default:
      respond_error(1, cmd.seq, "%s: no scenario in progress (send begin "
                                "first)", cmd.op_name);
      break;
    }
    lc_cmd_free(&cmd);
  }
out:
  drop_spare();
  munmap(g_sh, sizeof(shared_t));
  lc_jw_free(&g_resp);
  lc_jw_free(&g_ev);
  return 0;
}
