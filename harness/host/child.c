/* child.c — the scenario child: the process `begin` forks (or wakes, see the
 * spare in zygote.c) to run one scenario's commands against the shim, the
 * event callback the shim reports through, `mksock`'s sockets, and at `end`
 * the list of sockets the scenario left open, for the zygote's answer.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host-internal.h"

#define MAX_SERVERS      64
#define MAX_EMITTED      32
#define EMITTED_NAME_MAX 64
#define MAX_TRACKED_FDS  1024
#define MAX_ACTS         64

typedef struct server_rec_s {
  char *name;
  lc_server_t *srv;
  /* Names this server emitted since the last `run` (see PROTOCOL.md). */
  char emitted[MAX_EMITTED][EMITTED_NAME_MAX];
  int n_emitted;
} server_rec_t;

static int g_sync; /* inside listen/close/abort: events are synchronous */
static server_rec_t g_servers[MAX_SERVERS];
static int g_n_servers;
/* Listeners that act (`on` with `then`): when the shim reports a call of
 * `label` for `event` of server `s`, the host calls close() on s. */
typedef struct act_s {
  server_rec_t *s;
  char *event, *label;
} act_t;
static act_t g_acts[MAX_ACTS];
static int g_n_acts;
/* Scenario child: fds open once the scenario began, and fds mksock made
 * (handed to the shim, which may or may not close them). */
static int g_start_fds[MAX_TRACKED_FDS], g_n_start_fds;
static int g_mksock_fds[MAX_TRACKED_FDS], g_n_mksock_fds;

static server_rec_t *find_server(const char *name) {
  for (int i = 0; i < g_n_servers; i++)
    if (strcmp(g_servers[i].name, name) == 0)
      return &g_servers[i];
  return NULL;
}

static server_rec_t *server_for(const lch__cmd_t *cmd) {
  server_rec_t *s = find_server(cmd->srv);
  if (!s)
    lch__respond_error(1, cmd->seq,
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

void lch__forget_emitted(void) {
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

static void write_error_object(lch__jw_t *w, const lc_error_t *e) {
  lch__jw_obj(w, "error");
  lch__jw_cstr(w, "code", e->code);
  if (e->errnum)
    lch__jw_int(w, "errno", e->errnum);
  else
    lch__jw_null(w, "errno");
  lch__jw_cstr(w, "syscall", e->syscall);
  lch__jw_cstr(w, "address", e->address);
  if (e->port != -1)
    lch__jw_int(w, "port", e->port);
  else
    lch__jw_null(w, "port");
  lch__jw_cstr(w, "message", e->message);
  lch__jw_end(w);
}

/* A listener added with `then = close` ran (its call is reported): it calls
 * server.close() without a callback, as the `close` op does, from inside the
 * shim's emission (a re-entrant call the shim must take, as Node does).
 * What close() itself reports before it returns is synchronous. */
static void act(server_rec_t *s, const char *event, const char *label) {
  for (int i = 0; i < g_n_acts; i++) {
    if (g_acts[i].s != s || strcmp(g_acts[i].event, event) != 0 ||
        strcmp(g_acts[i].label, label) != 0)
      continue;
    lc_error_t e;
    memset(&e, 0, sizeof(e));
    e.port = -1;
    int was_sync = g_sync;
    g_sync = 1;
    int rc = lch__shim->close(s->srv, NULL, &e);
    g_sync = was_sync;
    if (rc != 0)
      fprintf(stderr,
              "lc-host: [%s] close() from listener [%s] returned %d (%s)\n",
              lch__lib, label, rc, rc == -1 && e.code ? e.code : "no code");
    return;
  }
}

static int add_act(server_rec_t *s, const char *event, const char *label) {
  if (g_n_acts == MAX_ACTS)
    return -1;
  act_t *a = &g_acts[g_n_acts];
  a->s = s;
  a->event = strdup(event);
  a->label = strdup(label);
  if (!a->event || !a->label) {
    free(a->event);
    free(a->label);
    return -1;
  }
  g_n_acts++;
  return 0;
}

static void on_event(void *host_ctx, const lc_event_t *ev) {
  server_rec_t *s = NULL;
  lch__jw_t *w = &lch__ev;
  (void)host_ctx;
  if (!ev) {
    fprintf(stderr, "lc-host: [%s] reported a NULL event\n", lch__lib);
    return;
  }
  lch__jw_reset(w);
  lch__jw_begin(w);
  int type = EV_HAS(ev, type) ? (int)ev->type : 0;
  if (type == LC_EVENT_EMIT)
    lch__jw_cstr(w, "ev", "emit");
  else if (type == LC_EVENT_CALL)
    lch__jw_cstr(w, "ev", "call");
  else {
    lch__jw_cstr(w, "ev", "invalid");
    lch__jw_int(w, "type", type);
  }
  if (EV_HAS(ev, tag))
    for (int i = 0; i < g_n_servers; i++)
      if ((void *)&g_servers[i] == ev->tag)
        s = &g_servers[i];
  lch__jw_cstr(w, "srv", s ? s->name : NULL);
  const char *name = EV_HAS(ev, name) ? ev->name : NULL;
  lch__jw_cstr(w, "name", name);
  if (EV_HAS(ev, label) && (type == LC_EVENT_CALL || ev->label))
    lch__jw_cstr(w, "label", ev->label);
  lch__jw_bool(w, "sync", g_sync);
  if (EV_HAS(ev, error) && ev->error)
    write_error_object(w, ev->error);
  lch__jw_end(w);
  lch__send_line(w);
  if (type == LC_EVENT_EMIT && s && name)
    note_emitted(s, name);
  if (type == LC_EVENT_CALL && s && name && EV_HAS(ev, label) && ev->label)
    act(s, name, ev->label);
}

static void free_servers(void) {
  for (int i = 0; i < g_n_servers; i++)
    if (g_servers[i].srv)
      lch__shim->server_free(g_servers[i].srv);
}

static int add_server(const lch__cmd_t *cmd, const char *name) {
  if (find_server(name)) {
    lch__respond_error(1, cmd->seq, "server: there is already a server [%s]",
                       name);
    return -1;
  }
  if (g_n_servers == MAX_SERVERS) {
    lch__respond_error(1, cmd->seq, "server: at most %d servers per scenario",
                       MAX_SERVERS);
    return -1;
  }
  server_rec_t *s = &g_servers[g_n_servers];
  memset(s, 0, sizeof(*s));
  s->name = strdup(name);
  if (!s->name) {
    lch__respond_error(1, cmd->seq, "server: out of memory");
    return -1;
  }
  s->srv = lch__shim->server_new(s);
  if (!s->srv) {
    free(s->name);
    lch__respond_error(1, cmd->seq, "server: server_new() returned NULL");
    return -1;
  }
  g_n_servers++;
  return 0;
}

static void respond_throw(const lch__cmd_t *cmd, const lc_error_t *e) {
  lch__resp_begin("throw", 1, cmd->seq);
  lch__jw_cstr(&lch__resp, "code", e->code);
  lch__jw_cstr(&lch__resp, "message", e->message);
  if (e->errnum != 0) /* a system error's errno; a Node error has none */
    lch__jw_int(&lch__resp, "errno", e->errnum);
  lch__resp_send();
}

static void init_error(lc_error_t *e) {
  memset(e, 0, sizeof(*e));
  e->port = -1;
}

int64_t lch__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lch__sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static void do_run(const lch__cmd_t *cmd, server_rec_t *s) {
  int64_t deadline = lch__now_ms() + cmd->ms;
  int done = 0;
  for (;;) {
    if (was_emitted(s, cmd->until)) {
      done = 1;
      break;
    }
    int64_t t0 = lch__now_ms(), left = deadline - t0;
    if (left <= 0)
      break;
    int n = lch__shim->run(left > INT_MAX ? INT_MAX : (int)left);
    if (n < 0) {
      lch__respond_error(1, cmd->seq, "run: the shim's run() returned %d (%s)",
                         n, strerror(-n));
      done = -1;
      break;
    }
    /* A loop with nothing to do may return at once: do not spin. */
    if (n == 0 && lch__now_ms() - t0 < 1 && !was_emitted(s, cmd->until))
      lch__sleep_ms(1);
  }
  if (done == 1)
    lch__respond_ok(cmd);
  else if (done == 0) {
    lch__resp_begin("timeout", 1, cmd->seq);
    lch__resp_send();
  }
}

static void do_address(const lch__cmd_t *cmd, server_rec_t *s) {
  lc_address_t a;
  memset(&a, 0, sizeof(a));
  a.size = sizeof(a);
  int rc = lch__shim->address(s->srv, &a);
  if (rc != 0) {
    lch__respond_error(1, cmd->seq, "address: the shim's address() returned %d",
                       rc);
    return;
  }
  a.family[sizeof(a.family) - 1] = '\0';
  a.address[sizeof(a.address) - 1] = '\0';
  switch (a.kind) {
  case LC_ADDRESS_NULL:
    lch__resp_begin("ok", 1, cmd->seq);
    lch__jw_null(&lch__resp, "value");
    break;
  case LC_ADDRESS_INET:
    lch__resp_begin("ok", 1, cmd->seq);
    lch__jw_obj(&lch__resp, "value");
    lch__jw_cstr(&lch__resp, "address", a.address);
    lch__jw_cstr(&lch__resp, "family", a.family);
    lch__jw_int(&lch__resp, "port", a.port);
    lch__jw_end(&lch__resp);
    break;
  case LC_ADDRESS_PIPE:
    lch__resp_begin("ok", 1, cmd->seq);
    lch__jw_str(&lch__resp, "value", a.path,
                a.path_len > sizeof(a.path) ? sizeof(a.path) : a.path_len);
    break;
  default:
    lch__respond_error(1, cmd->seq, "address: the shim's address() set kind %d",
                       (int)a.kind);
    return;
  }
  lch__resp_send();
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
static int make_socket(const lch__cmd_t *cmd, char *msg, size_t msglen) {
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
  if (cmd->family == LCH_FAMILY_FILE) {
    /* Not a socket: a regular file, for listen({ fd }) on a descriptor
     * that is open but no socket. */
    int fd;
    if (strlen(cmd->path) != cmd->path_len) {
      snprintf(msg, msglen, "mksock: a file path must not hold a NUL");
      return -1;
    }
    fd = open(cmd->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
      snprintf(msg, msglen, "mksock: open(%.200s): %s (errno %d)", cmd->path,
               strerror(errno), errno);
    return fd;
  }
  if (cmd->family == LCH_FAMILY_UNIX) {
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
    int v6 = cmd->family == LCH_FAMILY_TCP6;
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
    snprintf(msg, msglen,
             "mksock: setsockopt(SO_REUSEADDR) for %s: %s (errno %d)", where,
             strerror(errno), errno);
    close(fd);
    return -1;
  }
  if (cmd->has_ipv6only &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &cmd->ipv6only,
                 sizeof(cmd->ipv6only)) < 0) {
    snprintf(msg, msglen,
             "mksock: setsockopt(IPV6_V6ONLY) for %s: %s (errno %d)", where,
             strerror(errno), errno);
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
static int scenario_command(const lch__cmd_t *cmd) {
  server_rec_t *s = NULL;
  lc_error_t e;
  int rc;
  char msg[512];

  switch (cmd->op) {
  case LCH_OP_HELLO: lch__do_hello(cmd); return 0;
  case LCH_OP_BEGIN:
    /* Ends this scenario silently and leaves the line for the zygote,
     * which starts the new one (as the JS adapter does). */
    lch__sh->head = lch__line_start;
    lch__sh->answered = 1;
    return 1;
  case LCH_OP_QUIT:
    lch__respond_error(1, cmd->seq,
                       "quit: a scenario is in progress (send end "
                       "first)");
    return 0;
  case LCH_OP_END: return 1;
  case LCH_OP_SERVER:
    if (add_server(cmd, cmd->srv) == 0)
      lch__respond_ok(cmd);
    return 0;
  case LCH_OP_MKSOCK: {
    int fd = make_socket(cmd, msg, sizeof(msg));
    if (fd < 0) {
      lch__respond_error(1, cmd->seq, "%s", msg);
      return 0;
    }
    if (g_n_mksock_fds < MAX_TRACKED_FDS)
      g_mksock_fds[g_n_mksock_fds++] = fd;
    lch__resp_begin("ok", 1, cmd->seq);
    lch__jw_int(&lch__resp, "fd", fd);
    lch__resp_send();
    return 0;
  }
  case LCH_OP_FAIL:
    /* The next accept()/chmod() the implementation makes fails (faults.c). */
    lch__fault_arm(lch__fault_kind(cmd->call), cmd->fail_errno);
    lch__respond_ok(cmd);
    return 0;
  case LCH_OP_SETTLE:
    for (int i = 0; i < 3; i++) {
      rc = lch__shim->run(0);
      if (rc < 0) {
        lch__respond_error(1, cmd->seq,
                           "settle: the shim's run(0) returned %d (%s)", rc,
                           strerror(-rc));
        return 0;
      }
    }
    lch__respond_ok(cmd);
    return 0;
  default: break;
  }

  /* The rest are about one server. */
  if (!(s = server_for(cmd)))
    return 0;
  init_error(&e);
  switch (cmd->op) {
  case LCH_OP_ON:
    if (cmd->then_close && add_act(s, cmd->event, cmd->label) < 0) {
      lch__respond_error(1, cmd->seq,
                         "on: at most %d listeners with [then] per scenario",
                         MAX_ACTS);
      break;
    }
    rc = lch__shim->on(s->srv, cmd->event, cmd->label);
    if (rc == 0)
      lch__respond_ok(cmd);
    else
      lch__respond_error(1, cmd->seq, "on: the shim's on() returned %d", rc);
    break;
  case LCH_OP_LISTEN:
    g_sync = 1;
    rc = lch__shim->listen(s->srv, &cmd->listen, &e);
    g_sync = 0;
    if (rc == 0)
      lch__respond_ok(cmd);
    else if (rc == -1)
      respond_throw(cmd, &e);
    else
      lch__respond_error(
          1, cmd->seq, "listen: the shim's listen() returned %d (0 or -1 only)",
          rc);
    break;
  case LCH_OP_CLOSE:
    g_sync = 1;
    rc = lch__shim->close(s->srv, cmd->cb, &e);
    g_sync = 0;
    if (rc == 0)
      lch__respond_ok(cmd);
    else if (rc == -1)
      respond_throw(cmd, &e);
    else
      lch__respond_error(1, cmd->seq,
                         "close: the shim's close() returned %d (0 or -1 only)",
                         rc);
    break;
  case LCH_OP_ABORT:
    g_sync = 1;
    rc = lch__shim->abort(s->srv);
    g_sync = 0;
    if (rc == 0)
      lch__respond_ok(cmd);
    else
      lch__respond_error(
          1, cmd->seq,
          "abort: the shim's abort() returned %d (the last listen "
          "had no signal?)",
          rc);
    break;
  case LCH_OP_HOLD:
    /* ABI 1.2, optional: hello listed "hold" in `lacks` when it is not
     * there, so the driver sends it only to a shim that has it. */
    if (lch__cannot_hold[0]) {
      lch__respond_error(1, cmd->seq, "hold: %s", lch__cannot_hold);
      break;
    }
    g_sync = 1;
    rc = lch__shim->hold_connections(s->srv);
    g_sync = 0;
    if (rc == 0)
      lch__respond_ok(cmd);
    else
      lch__respond_error(1, cmd->seq,
                         "hold: the shim's hold_connections() returned %d (%s)",
                         rc, rc < 0 ? strerror(-rc) : "0 or a negative errno");
    break;
  case LCH_OP_ADDRESS: do_address(cmd, s); break;
  case LCH_OP_LISTENING:
    rc = lch__shim->listening(s->srv);
    if (rc == 0 || rc == 1) {
      lch__resp_begin("ok", 1, cmd->seq);
      lch__jw_bool(&lch__resp, "value", rc);
      lch__resp_send();
    } else {
      lch__respond_error(
          1, cmd->seq,
          "listening: the shim's listening() returned %d (0 or 1 "
          "only)",
          rc);
    }
    break;
  case LCH_OP_FD:
    lch__resp_begin("ok", 1, cmd->seq);
    lch__jw_int(&lch__resp, "value", lch__shim->fd(s->srv));
    lch__resp_send();
    break;
  case LCH_OP_RUN: do_run(cmd, s); break;
  default:
    lch__respond_error(1, cmd->seq, "%s: not handled in a scenario",
                       cmd->op_name);
    break;
  }
  return 0;
}

int lch__open_fds(int *fds, int max) {
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
  int n = lch__open_fds(now, MAX_TRACKED_FDS);
  size_t used = 0;
  lch__sh->n_leftover = 0;
  lch__sh->leftover[0] = '\0';
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
    int w = snprintf(lch__sh->leftover + used, sizeof(lch__sh->leftover) - used,
                     "fd %d (%s)\n", now[i], target);
    if (w > 0 && (size_t)w < sizeof(lch__sh->leftover) - used)
      used += (size_t)w;
    lch__sh->n_leftover++;
  }
}

/* LeakSanitizer's entry point, present only when the host is built with
 * AddressSanitizer (make sanitize, the sweep's checking build): elsewhere the
 * weak reference stays NULL and nothing is checked. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

/* At `end`, after the fds: memory the scenario allocated that nothing points
 * to any more (a server never freed, a table dropped without free()), told
 * like a leftover fd.  The scenario child then _exit()s, which would skip
 * LeakSanitizer's own check at exit. */
static void note_leaked_memory(void) {
  if (!__lsan_do_recoverable_leak_check || !__lsan_do_recoverable_leak_check())
    return;
  size_t used = strlen(lch__sh->leftover);
  snprintf(lch__sh->leftover + used, sizeof(lch__sh->leftover) - used,
           "heap memory nothing points to (LeakSanitizer's report is on "
           "stderr)\n");
  lch__sh->n_leftover++;
}

static void child_exit(int ended) {
  lch__sh->ended = ended;
  fflush(NULL);
  _exit(0);
}

static void begin_failed(const lch__cmd_t *begin, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  lch__respond_error(1, begin->seq, "begin: %s", msg);
  lch__sh->answered = 1;
  child_exit(0);
}

void lch__run_scenario(const lch__cmd_t *begin) {
  static lc_host_t host;
  sigset_t none;
  lch__cmd_t cmd;

  lch__is_child = 1;
  setpgid(0, 0);
  signal(SIGCHLD, SIG_DFL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  if (begin->umask >= 0)
    umask((mode_t)begin->umask);
  if (chdir(begin->cwd) < 0)
    begin_failed(begin, "chdir [%s]: %s (errno %d)", begin->cwd,
                 strerror(errno), errno);
  host.size = sizeof(host); /* ABI 1.1: a 1.0 shim reads up to host_ctx */
  host.event = on_event;
  host.host_ctx = NULL;
  host.node_major = lch__node_version[0];
  host.node_minor = lch__node_version[1];
  host.node_patch = lch__node_version[2];
  int rc = lch__shim->init(&host);
  if (rc < 0)
    begin_failed(begin, "the shim's init() returned %d (%s)", rc,
                 strerror(-rc));
  if (rc > 0)
    begin_failed(begin,
                 "the shim's init() returned %d (0 or a negative errno "
                 "only)",
                 rc);
  g_n_servers = 0;
  g_n_acts = 0;
  server_rec_t *a = &g_servers[0];
  memset(a, 0, sizeof(*a));
  a->name = "A";
  a->srv = lch__shim->server_new(a);
  if (!a->srv)
    begin_failed(begin, "the shim's server_new() returned NULL");
  g_n_servers = 1;
  g_n_start_fds = lch__open_fds(g_start_fds, MAX_TRACKED_FDS);

  lch__resp_begin("ok", 1, begin->seq);
  lch__jw_int(&lch__resp, "pid", getpid());
  lch__resp_send();

  while (lch__next_command(&cmd)) {
    lch__sh->last_seq = cmd.seq;
    lch__sh->last_has_seq = 1;
    int end = scenario_command(&cmd);
    lch__cmd_free(&cmd);
    if (end) {
      free_servers();
      if (lch__sh->answered)
        child_exit(0); /* a new begin: ended silently */
      note_leftover_fds();
      note_leaked_memory();
      child_exit(1);
    }
  }
  /* End of input inside a scenario: nobody will read an answer. */
  lch__sh->eof = 1;
  free_servers();
  child_exit(0);
}
