/* server.c — a net.Server: its lifetime, its listening handle and its
 * connections, after lib/net.js of Node.js v20 (function names in comments
 * are net.js's): createServerHandle(), setupListenHandle(), the server's own
 * ticks, listen() on a path, close() and address().  listen()'s arguments
 * are checked in args.c; a host is looked up in lookup.c.  Where later
 * releases differ (ipv6Only without a host, overlong paths, the socket
 * file's mode) the loop's release decides: lcr__node_has(), node_line.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lcr-internal.h"

/* sizeof(sockaddr_un.sun_path): the longest name bind() takes (108). */
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

/* An accepted connection.  On a server that holds its connections it is
 * kept in the server's list (prev points at the pointer that points at it)
 * until its peer ends it. */
typedef struct lcr__client_s {
  lcr__stream_t u;
  lcr_server_t *server;
  struct lcr__client_s *next, **prev;
} client_t;

unsigned int lcr_version(void) {
  return LCR_VERSION_HEX;
}

const char *lcr_version_string(void) {
  return "0.1.0";
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */

lcr_server_t *lcr_server_new(lcr_loop_t *loop) {
  lcr_server_t *s;

  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->loop = loop;
  s->refs = 1;
  return s;
}

void lcr__server_ref(lcr_server_t *s) {
  s->refs++;
}

void lcr__server_unref(lcr_server_t *s) {
  int i;

  if (--s->refs > 0)
    return;
  for (i = 0; i < LCR_EV_COUNT_; i++)
    free(s->listeners[i].v);
  free(s->pipe_name);
  free(s);
}

void *lcr_server_get_data(const lcr_server_t *server) {
  return server->data;
}

void lcr_server_set_data(lcr_server_t *server, void *data) {
  server->data = data;
}

static void on_handle_close(uv_handle_t *handle) {
  lcr__handle_t *h;
  lcr_server_t *s;

  h = CONTAINER_OF(handle, lcr__handle_t, u.handle);
  s = h->server;
  free(h->unlink_path);
  free(h);
  lcr__server_unref(s);
}

static void close_handle(lcr__handle_t *h) {
  /* libuv's uv__pipe_close() order: unlink the socket file before the fd is
   * closed, so that we never remove a file another process bound after our
   * socket went away.  Only a file this handle created is removed: a stale
   * file that made bind() fail, or the path of an inherited fd, stays. */
  if (h->unlink_path != NULL)
    unlink(h->unlink_path);
  uv_close(&h->u.handle, on_handle_close);
}

static lcr__handle_t *handle_new(lcr_server_t *s) {
  lcr__handle_t *h;

  h = calloc(1, sizeof(*h));
  if (h != NULL)
    h->server = s;
  return h;
}

static void on_client_close(uv_handle_t *handle);

static void client_unlink(client_t *c) {
  *c->prev = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  c->next = NULL;
  c->prev = &c->next;
}

void lcr_server_free(lcr_server_t *s) {
  if (s == NULL)
    return;
  s->freed = 1;
  while (s->clients != NULL) {
    client_t *c = s->clients;
    client_unlink(c);
    uv_close(&c->u.handle, on_client_close);
  }
  s->listening_id++; /* any lookup in flight is now stale */
  lcr__tick_cancel(s->loop, s);
  lcr__signal_forget_server(s);
  if (s->handle != NULL) {
    close_handle(s->handle);
    s->handle = NULL;
  }
  lcr__server_unref(s);
}

/* ------------------------------------------------------------------------ */
/* createServerHandle()                                                      */

static int create_tcp(lcr_server_t *s, int family, const char *address,
                      int port, unsigned int flags, int reuse_port,
                      lcr__handle_t **out) {
  struct sockaddr_storage ss;
  lcr__handle_t *h;
  uv_os_fd_t fd;
  int on;
  int err;

  if (family == 6)
    err = uv_ip6_addr(address, port, (struct sockaddr_in6 *)&ss);
  else
    err = uv_ip4_addr(address, port, (struct sockaddr_in *)&ss);
  if (err != 0)
    return err;

  h = handle_new(s);
  if (h == NULL)
    return UV_ENOMEM;

  /* Create the socket now rather than in uv_tcp_bind(), so that options
   * libuv 1.44 has no flag for can be set before bind().  An IPv6 socket
   * failing here with EAFNOSUPPORT is what sends the default host to
   * 0.0.0.0.  On failure uv_tcp_init_ex() unregisters the handle itself. */
  err =
      uv_tcp_init_ex(s->loop->uv, &h->u.tcp, family == 6 ? AF_INET6 : AF_INET);
  if (err != 0) {
    free(h);
    return err;
  }
  lcr__server_ref(s);

  if (reuse_port) {
    /* reusePort (Node >= 22.12: UV_TCP_REUSEPORT, libuv >= 1.49). */
    on = 1;
    err = uv_fileno(&h->u.handle, &fd);
    if (err == 0 && LCR__TRY(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
                                        sizeof(on))) != 0)
      err = LCR__SYSERR();
    if (err != 0) {
      close_handle(h);
      return err;
    }
  }

  /* uv_tcp_bind() sets SO_REUSEADDR (src/unix/tcp.c uv__tcp_bind) and sets
   * IPV6_V6ONLY to 0 or 1 explicitly for IPv6.  EADDRINUSE is not returned
   * here: libuv keeps it as delayed_error and uv_listen() reports it. */
  err = uv_tcp_bind(&h->u.tcp, (const struct sockaddr *)&ss, flags);
  if (err != 0) {
    close_handle(h);
    return err;
  }

  *out = h;
  return 0;
}

static int create_pipe(lcr_server_t *s, const char *path, size_t len,
                       lcr__handle_t **out) {
  /* Zeroed room past sun_path: the kernel reads addrlen bytes only, but
   * valgrind checks a pathname sun_path as a C string, and a 108-byte name
   * has no NUL of its own. */
  struct {
    struct sockaddr_un un;
    char nul[8];
  } addr;
  lcr__handle_t *h;
  char *copy;
  size_t bind_len;
  size_t unlink_len;
  size_t addr_len;
  int fd;
  int err;

  /* libuv 1.44 uv_pipe_bind() cuts a path at 107 bytes, and it cannot bind
   * an abstract name at all (it uses strlen).  So bind ourselves, with the
   * length.  Linux takes a full 108-byte sun_path without a NUL, as Node
   * does.  A longer path is refused by Node >= 23 (UV_PIPE_NO_TRUNCATE);
   * older releases bind its first 108 bytes, and remember as the name to
   * unlink at close (libuv's pipe_fname) the cut name (Node 22, libuv 1.48)
   * or the full one, which then misses the file (Node 20, libuv 1.46). */
  if (len == 0)
    return UV_EINVAL;
  bind_len = len;
  if (len > SUN_PATH_SIZE) {
    if (lcr__node_has(s->loop, LCR__NODE_PIPE_NO_TRUNCATE))
      return UV_EINVAL;
    bind_len = SUN_PATH_SIZE;
  }
  /* Node 20 (libuv 1.46) binds every name with addrlen sizeof(sockaddr_un):
   * an abstract name gets NULs up to 108 bytes as part of the name. */
  addr_len = offsetof(struct sockaddr_un, sun_path) + bind_len;
  if (path[0] == '\0' && !lcr__node_has(s->loop, LCR__NODE_PIPE_ABSTRACT_EXACT))
    addr_len = sizeof(struct sockaddr_un);
  unlink_len = len;
  if (lcr__node_has(s->loop, LCR__NODE_PIPE_UNLINK_TRUNCATED))
    unlink_len = bind_len;

  h = handle_new(s);
  if (h == NULL)
    return UV_ENOMEM;
  copy = NULL;
  if (path[0] != '\0') {
    copy = malloc(unlink_len + 1);
    if (copy == NULL) {
      free(h);
      return UV_ENOMEM;
    }
    memcpy(copy, path, unlink_len);
    copy[unlink_len] = '\0';
  }

  uv_pipe_init(s->loop->uv, &h->u.pipe, 0);
  h->is_pipe = 1;
  lcr__server_ref(s);

  fd = LCR__TRY(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd < 0) {
    err = LCR__SYSERR();
    goto fail;
  }

  memset(&addr, 0, sizeof(addr));
  addr.un.sun_family = AF_UNIX;
  memcpy(addr.un.sun_path, path, bind_len);
  if (LCR__TRY(bind(fd, (struct sockaddr *)&addr.un, (socklen_t)addr_len)) !=
      0) {
    err = LCR__SYSERR();
    /* libuv (src/unix/pipe.c): "Convert ENOENT to EACCES for compatibility
     * with Windows."  Node reports EACCES for a missing directory. */
    if (err == UV_ENOENT)
      err = UV_EACCES;
    close(fd);
    goto fail;
  }

  /* From here on the file is ours: close_handle() removes it. */
  h->unlink_path = copy;
  copy = NULL;

  err = uv_pipe_open(&h->u.pipe, fd);
  if (err != 0) {
    close(fd);
    goto fail;
  }

  *out = h;
  return 0;

fail:
  free(copy);
  close_handle(h);
  return err;
}

static int create_from_fd(lcr_server_t *s, int fd, lcr__handle_t **out) {
  uv_handle_type type;
  lcr__handle_t *h;
  int err;

  /* net.js createHandle(): guessHandleType() must say TCP or PIPE, anything
   * else (UDP, a file, a closed fd) "will trigger an error": UV_EINVAL. */
  type = uv_guess_handle(fd);
  if (type != UV_TCP && type != UV_NAMED_PIPE)
    return UV_EINVAL;

  h = handle_new(s);
  if (h == NULL)
    return UV_ENOMEM;

  if (type == UV_TCP) {
    uv_tcp_init(s->loop->uv, &h->u.tcp);
    lcr__server_ref(s);
    err = uv_tcp_open(&h->u.tcp, fd);
  } else {
    uv_pipe_init(s->loop->uv, &h->u.pipe, 0);
    h->is_pipe = 1;
    lcr__server_ref(s);
    err = uv_pipe_open(&h->u.pipe, fd);
  }

  /* The fd is not ours when open failed: close only the handle. */
  if (err != 0) {
    close_handle(h);
    return err;
  }
  *out = h;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* setupListenHandle()                                                       */

static void queue_error(lcr_server_t *s, int uverr, const char *syscall,
                        const char *address, int port) {
  lcr__errbox_t *box;
  lcr_error_t e;

  lcr__error_uv(&e, uverr, syscall, address, port);
  box = lcr__errbox_new(&e);
  if (box == NULL)
    return; /* out of memory: the error is lost, as an allocation failure */
  if (lcr__tick(s, LCR__TICK_ERROR, box) != 0)
    lcr__errbox_free(box);
}

static void emit_close_if_drained(lcr_server_t *s) {
  /* net.js _emitCloseIfDrained() */
  if (s->handle != NULL || s->connections != 0 || s->freed)
    return;
  lcr__tick(s, LCR__TICK_CLOSE, NULL);
}

static void on_client_close(uv_handle_t *handle) {
  client_t *c;

  c = CONTAINER_OF(handle, client_t, u.handle);
  lcr__server_unref(c->server);
  free(c);
}

/* Socket._destroy(): the handle is closed, and the server's count goes down
 * at once (not in the close callback), then _emitCloseIfDrained(). */
static void destroy_client(client_t *c) {
  lcr_server_t *s;

  s = c->server;
  client_unlink(c);
  uv_close(&c->u.handle, on_client_close);
  s->connections--;
  emit_close_if_drained(s);
}

static void on_client_alloc(uv_handle_t *handle, size_t suggested,
                            uv_buf_t *buf) {
  static char sink[4096]; /* what the peer sends is read and dropped */

  (void)handle;
  (void)suggested;
  *buf = uv_buf_init(sink, sizeof(sink));
}

static void on_client_read(uv_stream_t *stream, ssize_t nread,
                           const uv_buf_t *buf) {
  (void)buf;
  /* The end of the stream (or a reset): allowHalfOpen false ends the
   * socket, and it is destroyed. */
  if (nread < 0)
    destroy_client(CONTAINER_OF(stream, client_t, u.stream));
}

static void on_connection(uv_stream_t *stream, int status) {
  lcr__handle_t *h;
  lcr_server_t *s;
  client_t *c;

  h = CONTAINER_OF(stream, lcr__handle_t, u.stream);
  s = h->server;

  /* A failed accept() is no event.  net.js onconnection() would emit
   * 'error' (ErrnoException(err, 'accept')), but from libuv 1.45.0
   * (libuv#3696, Node 20.3.0; every release node_line.h models) the server
   * accepts one connection per poll and uv__server_io() returns on an
   * accept() error without calling the connection callback: the connection
   * stays in the backlog and level-triggered polling accepts it on the next
   * turn.  The libuv this reference links may be older and report it; drop
   * it, as Node never sees it. */
  if (status < 0)
    return;

  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->server = s;
  if (h->is_pipe)
    uv_pipe_init(s->loop->uv, &c->u.pipe, 0);
  else
    uv_tcp_init(s->loop->uv, &c->u.tcp);
  lcr__server_ref(s);

  if (uv_accept(stream, &c->u.stream) != 0) {
    uv_close(&c->u.handle, on_client_close);
    return;
  }

  /* The reference serves nothing: report the socket, then destroy it, or,
   * on a server that holds its connections, keep it until its peer ends it.
   * Socket._destroy() decrements _connections and calls
   * _emitCloseIfDrained(), so a close() made by a 'connection' listener
   * emits 'close' once this socket is gone, as in Node. */
  s->connections++;
  lcr__emit(s, LCR_EV_CONNECTION, NULL, &c->u.stream);
  if (s->hold_connections && !s->freed &&
      uv_read_start(&c->u.stream, on_client_alloc, on_client_read) == 0) {
    c->next = s->clients;
    if (c->next != NULL)
      c->next->prev = &c->next;
    c->prev = &s->clients;
    s->clients = c;
    return;
  }
  uv_close(&c->u.handle, on_client_close);
  s->connections--;
  emit_close_if_drained(s);
}

void lcr__setup_listen_handle(lcr_server_t *s, const lcr__bind_spec_t *spec) {
  const char *address;
  lcr__handle_t *h;
  unsigned int flags;
  int port;
  int err;

  address = spec->address;
  port = spec->port;
  h = NULL;

  if (spec->family == -1) {
    address = NULL; /* pipes report their path below */
    err = create_pipe(s, spec->path, spec->path_len, &h);
  } else if (spec->fd >= 0) {
    port = 0; /* Node passes null: err.port is not set */
    err = create_from_fd(s, spec->fd, &h);
  } else if (address == NULL) {
    /* "Try to bind to the unspecified IPv6 address, see if IPv6 is
     * available" -- and on ANY failure fall back to 0.0.0.0, so that for
     * example EACCES on a low port is reported for 0.0.0.0.
     * ipv6Only: Node 20 passes its flags only from lookupAndListen(),
     * never to the host-less listenInCluster() call, so the socket stays
     * dual-stack (scenario ipv6.ipv6only-ignored-without-host; the docs
     * read otherwise); newer Node passes them here too
     * (LCR__NODE_IPV6ONLY_WITHOUT_HOST).  Never to the IPv4 fallback. */
    flags = 0;
    if (lcr__node_has(s->loop, LCR__NODE_IPV6ONLY_WITHOUT_HOST))
      flags = spec->flags;
    err = create_tcp(s, 6, LCR_DEFAULT_IPV6_ADDR, port, flags, spec->reuse_port,
                     &h);
    if (err != 0) {
      address = LCR_DEFAULT_IPV4_ADDR;
      err = create_tcp(s, 4, address, port, 0, spec->reuse_port, &h);
    } else {
      address = LCR_DEFAULT_IPV6_ADDR;
    }
  } else {
    /* IPV6_V6ONLY means nothing to an IPv4 socket: Node binds those with
     * bind(), which takes no flags (libuv would refuse them with EINVAL). */
    err = create_tcp(s, spec->family, address, port,
                     spec->family == 6 ? spec->flags : 0, spec->reuse_port, &h);
  }

  if (err == 0) {
    s->handle = h;
    /* Node: this._handle.listen(backlog || 511) */
    err = uv_listen(&h->u.stream,
                    spec->backlog != 0 ? spec->backlog : LCR_DEFAULT_BACKLOG,
                    on_connection);
    if (err != 0) {
      close_handle(h);
      s->handle = NULL;
    }
  }

  if (err != 0) {
    /* Node reports syscall 'listen' for bind failures too. */
    if (spec->family == -1) {
      char *path = strndup(spec->path, spec->path_len);
      queue_error(s, err, "listen", path, -1);
      free(path);
    } else {
      queue_error(s, err, "listen", address, port);
    }
    return;
  }

  lcr__tick(s, LCR__TICK_LISTENING, NULL);
}

/* ------------------------------------------------------------------------ */
/* The server's ticks: emitListeningNT(), emitErrorNT(), emitCloseNT()       */

static void run_tick(lcr_tick_t *t) {
  lcr__errbox_t *err;
  lcr_server_t *s;

  s = t->server;
  err = t->data;
  switch (t->kind) {
  case LCR__TICK_LISTENING:
    /* emitListeningNT(): "Ensure handle hasn't closed" */
    if (s->handle != NULL)
      lcr__emit(s, LCR_EV_LISTENING, NULL, NULL);
    break;
  case LCR__TICK_ERROR: lcr__emit(s, LCR_EV_ERROR, &err->e, NULL); break;
  case LCR__TICK_CLOSE: lcr__emit(s, LCR_EV_CLOSE, NULL, NULL); break;
  case LCR__TICK_ABORT: lcr_server_close(s, NULL, NULL); break;
  }
  lcr__errbox_free(err);
}

static void discard_tick(lcr_tick_t *t) {
  lcr__errbox_free(t->data);
}

int lcr__tick(lcr_server_t *s, lcr__tick_kind_t kind, lcr__errbox_t *err) {
  return lcr__next_tick(s, run_tick, discard_tick, kind, err);
}

/* ------------------------------------------------------------------------ */
/* listen() on a path                                                        */

int lcr__listen_path(lcr_server_t *s, const lcr_listen_t *a, int backlog,
                     lcr_error_t *err) {
  lcr__bind_spec_t spec;
  struct stat st;
  mode_t want;
  char *name;
  char *bound;
  uv_os_fd_t fd;
  int r;

  /* this._pipeName: what address() returns, even after close() */
  name = malloc(a->path_len + 1);
  if (name == NULL) {
    lcr__error_uv(err, UV_ENOMEM, "listen", NULL, 0);
    return -1;
  }
  memcpy(name, a->path, a->path_len);
  name[a->path_len] = '\0';
  free(s->pipe_name);
  s->pipe_name = name;
  s->pipe_name_len = a->path_len;

  memset(&spec, 0, sizeof(spec));
  spec.family = -1;
  spec.port = -1;
  spec.path = a->path;
  spec.path_len = a->path_len;
  spec.fd = -1;
  spec.backlog = backlog;
  lcr__setup_listen_handle(s, &spec);
  if (s->handle == NULL)
    return 0; /* "an error shall be emitted in the next tick" */

  /* readableAll / writableAll: Node calls uv_pipe_chmod() with S_IR*** /
   * S_IW*** for everyone.  Before libuv 1.51 it ORs them into the file's
   * mode, and does nothing when they are there (so 0755 becomes 0755 /
   * 0777 under umask 022); from 1.51 on it sets the mode to exactly those
   * bits (0444 / 0222 / 0666), fchmod() on the socket, then chmod() of the
   * name.  uv_pipe_chmod() finds the name with getsockname(), i.e. the name
   * as bound (an overlong path truncated to sun_path); done here on our own
   * copy because getsockname() does not NUL-terminate a 108-byte name. */
  want = 0;
  if (a->readable_all)
    want |= S_IRUSR | S_IRGRP | S_IROTH;
  if (a->writable_all)
    want |= S_IWUSR | S_IWGRP | S_IWOTH;
  if (want == 0)
    return 0;

  bound = strndup(name, s->pipe_name_len < SUN_PATH_SIZE ? s->pipe_name_len
                                                         : SUN_PATH_SIZE);
  r = 0;
  if (bound == NULL) {
    r = UV_ENOMEM;
  } else if (lcr__node_has(s->loop, LCR__NODE_PIPE_CHMOD_EXACT)) {
    if (uv_fileno(&s->handle->u.handle, &fd) == 0 &&
        LCR__TRY(fchmod(fd, want)) != 0 && errno != EINVAL &&
        errno != EOPNOTSUPP)
      r = LCR__SYSERR();
    else if (LCR__TRY(chmod(bound, want)) != 0)
      r = LCR__SYSERR();
  } else if (LCR__TRY(stat(bound, &st)) != 0) {
    r = LCR__SYSERR();
  } else if ((st.st_mode & want) != want &&
             LCR__TRY(chmod(bound, st.st_mode | want)) != 0) {
    r = LCR__SYSERR();
  }
  free(bound);
  if (r != 0) {
    close_handle(s->handle);
    s->handle = NULL;
    lcr__error_errno(err, r, "uv_pipe_chmod");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* close(), address(), listening                                             */

int lcr_server_close(lcr_server_t *s, lcr_listener_cb cb, void *data) {
  s->listening_id++;

  if (cb != NULL)
    lcr__listener_add(
        s, LCR_EV_CLOSE, 1,
        s->handle != NULL ? LCR__LISTENER_USER : LCR__LISTENER_NOT_RUNNING, cb,
        data, NULL);

  if (s->handle != NULL) {
    close_handle(s->handle);
    s->handle = NULL;
  }

  emit_close_if_drained(s);
  return 0;
}

int lcr_server_hold_connections(lcr_server_t *s, int hold) {
  s->hold_connections = hold != 0;
  return 0;
}

int lcr_server_address(lcr_server_t *s, lcr_address_t *out) {
  struct sockaddr_storage ss;
  size_t n;
  int len;
  int err;

  memset(out, 0, sizeof(*out));
  out->kind = LCR_ADDRESS_NULL;
  out->port = -1;

  /* "if (this._handle && this._handle.getsockname)": only TCP handles have
   * getsockname; a pipe server answers with _pipeName, which outlives the
   * handle (and is unset for a pipe fd given as a handle: null). */
  if (s->handle != NULL && !s->handle->is_pipe) {
    len = sizeof(ss);
    err = uv_tcp_getsockname(&s->handle->u.tcp, (struct sockaddr *)&ss, &len);
    if (err != 0)
      return err;
    out->kind = LCR_ADDRESS_INET;
    if (ss.ss_family == AF_INET6) {
      strcpy(out->family, "IPv6");
      uv_ip6_name((struct sockaddr_in6 *)&ss, out->address,
                  sizeof(out->address));
      out->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
      strcpy(out->family, "IPv4");
      uv_ip4_name((struct sockaddr_in *)&ss, out->address,
                  sizeof(out->address));
      out->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return 0;
  }

  if (s->pipe_name != NULL) {
    out->kind = LCR_ADDRESS_PIPE;
    /* path holds path_len bytes and no NUL (it may begin with one), so a
     * name as long as path is reported whole, as Node's _pipeName is */
    n = s->pipe_name_len;
    if (n > sizeof(out->path))
      n = sizeof(out->path);
    memcpy(out->path, s->pipe_name, n);
    out->path_len = n;
  }
  return 0;
}

int lcr_server_listening(const lcr_server_t *s) {
  return s->handle != NULL;
}

int lcr_server_fd(const lcr_server_t *s) {
  uv_os_fd_t fd;

  if (s->handle == NULL || uv_fileno(&s->handle->u.handle, &fd) != 0)
    return -1;
  return fd;
}
