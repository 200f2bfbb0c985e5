/* lcr-internal.h — shared between the lcref sources; not installed. */
#ifndef LCR_INTERNAL_H
#define LCR_INTERNAL_H

#include <errno.h>

#include "lcref.h"
#include "node_line.h"

/* A negative libuv error from errno (libuv keeps UV__ERR internal). */
#define LCR__ERR(x) (-(x))

/* A system call made with errno cleared first, so that LCR__SYSERR() right
 * after it is this call's error and never a code an earlier call left. */
#define LCR__TRY(call) (errno = 0, (call))

/* The error of the system call LCR__TRY() just made, as a negative errno:
 * EIO when it left errno 0, so that asking about a call that did not fail
 * gives an error, deterministically, never "no error" or a stale code. */
#define LCR__SYSERR() (errno != 0 ? -errno : -EIO)

/* The struct that holds `field` at `ptr`. */
#define CONTAINER_OF(ptr, type, field) \
  ((type *)((char *)(ptr)-offsetof(type, field)))

/* ---- errors (error.c) ---------------------------------------------------- */

/* An error that outlives the call that made it (queued on a tick): the
 * strings it points to are owned copies. */
typedef struct lcr__errbox_s {
  lcr_error_t e;
  char *address;
  char *hostname;
} lcr__errbox_t;

/* Node's UVExceptionWithHostPort(err, syscall, address, port): the message is
 * "<syscall> <code>: <uv message>[ <address>[:<port>]]"; port is set only
 * when non-zero (so -1 for pipes, unset for port 0). */
void lcr__error_uv(lcr_error_t *e, int uverr, const char *syscall,
                   const char *address, int port);
/* Node's ErrnoException(err, syscall): "<syscall> <code>". */
void lcr__error_errno(lcr_error_t *e, int uverr, const char *syscall);
/* Node's DNSException(err, 'getaddrinfo', hostname). */
void lcr__error_dns(lcr_error_t *e, int uverr, const char *hostname);
/* ERR_SOCKET_BAD_PORT for a string that reads as a port out of range:
 * "options.port should be >= 0 and < 65536. Received type string ('...')."
 * (errors.js determineSpecificType()). */
void lcr__error_bad_port_string(lcr_error_t *e, const char *s, size_t len);
/* ERR_INVALID_ARG_VALUE for the options object: "The argument 'options'
 * <reason>. Received <util.inspect(options)>", the object made from the
 * arguments present in `a` (the ABI keeps no property order: they are
 * written in lcr_listen_t's order, port, host, backlog, path, fd, exclusive,
 * ipv6Only, readableAll, writableAll, reusePort, signal). */
void lcr__error_invalid_options(lcr_error_t *e, const char *reason,
                                const lcr_listen_t *a);
/* A Node "ERR_*" error with a fixed or formatted message. */
void lcr__error_node(lcr_error_t *e, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

lcr__errbox_t *lcr__errbox_new(const lcr_error_t *e);
void lcr__errbox_free(lcr__errbox_t *box);

/* ---- the tick queue (loop.c) --------------------------------------------- */

/* A tick's callbacks: `run` does its work and releases t->data; `discard`
 * only releases t->data, for a tick dropped without running.  The queue
 * frees the tick itself after either. */
typedef void (*lcr__tick_cb)(lcr_tick_t *t);

struct lcr_tick_s {
  lcr_tick_t *next;
  lcr__tick_cb run;     /* from the loop */
  lcr__tick_cb discard; /* or NULL: nothing to release */
  lcr_server_t *server; /* whose tick it is (lcr__tick_cancel) */
  int kind;             /* for run: which work, in its own numbering */
  void *data;           /* for run and discard */
};

/* process.nextTick(): append a tick that calls run(t) from the loop, never
 * synchronously. */
int lcr__next_tick(lcr_server_t *server, lcr__tick_cb run, lcr__tick_cb discard,
                   int kind, void *data);
/* Drop every queued tick of a server that is being freed. */
void lcr__tick_cancel(lcr_loop_t *loop, lcr_server_t *server);

/* ---- listeners (emitter.c) ----------------------------------------------- */

typedef enum lcr__listener_kind_e {
  LCR__LISTENER_USER = 0,
  LCR__LISTENER_NOT_RUNNING,   /* close(cb) on a server not listening */
  LCR__LISTENER_SIGNAL_DISPOSE /* once('close', disposable[SymbolDispose]) */
} lcr__listener_kind_t;

typedef struct lcr__listener_s {
  unsigned int id;
  int once;
  lcr__listener_kind_t kind;
  lcr_listener_cb cb;
  void *data;
  lcr_signal_t *signal; /* LCR__LISTENER_SIGNAL_DISPOSE */
} lcr__listener_t;

typedef struct lcr__listeners_s {
  lcr__listener_t *v;
  int n;
  int cap;
} lcr__listeners_t;

int lcr__listener_add(lcr_server_t *s, lcr_event_t ev, int once,
                      lcr__listener_kind_t kind, lcr_listener_cb cb, void *data,
                      lcr_signal_t *signal);
void lcr__listener_remove_signal(lcr_server_t *s, lcr_signal_t *signal);
void lcr__emit(lcr_server_t *s, lcr_event_t ev, const lcr_error_t *err,
               uv_stream_t *connection);

/* ---- servers (server.c) -------------------------------------------------- */

/* The listening handle.  Allocated per listen() because uv_close() finishes
 * after the server may already hold a new one (close() then listen()). */
/* A TCP or pipe handle, seen as any of its libuv types. */
typedef union lcr__stream_u {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
} lcr__stream_t;

typedef struct lcr__handle_s {
  lcr__stream_t u;
  int is_pipe;
  char *unlink_path; /* the socket file this handle created, or NULL */
  lcr_server_t *server;
} lcr__handle_t;

struct lcr_server_s {
  lcr_loop_t *loop;
  int refs;                  /* the user's + one per open handle / request */
  int freed;                 /* lcr_server_free() was called */
  unsigned int listening_id; /* net.js _listeningId: stales old lookups */
  lcr__handle_t *handle;     /* net.js _handle; non-NULL means "listening" */
  int connections;           /* net.js _connections */
  int hold_connections;      /* keep accepted connections open */
  struct lcr__client_s *clients; /* the connections kept open */
  char *pipe_name;               /* net.js _pipeName: survives close() */
  size_t pipe_name_len;
  lcr__listeners_t listeners[LCR_EV_COUNT_];
  unsigned int next_listener_id;
  lcr_observer_cb observer;
  void *observer_data;
  void *data;
};

void lcr__server_ref(lcr_server_t *s);
void lcr__server_unref(lcr_server_t *s);

/* The server's own ticks. */
typedef enum lcr__tick_kind_e {
  LCR__TICK_LISTENING = 1, /* emitListeningNT: emit if a handle exists */
  LCR__TICK_ERROR,         /* emitErrorNT */
  LCR__TICK_CLOSE,         /* emitCloseNT */
  LCR__TICK_ABORT          /* an options.signal that was already aborted */
} lcr__tick_kind_t;

/* process.nextTick() of one of the above.  Once queued (0 returned), the
 * tick owns `err` (LCR__TICK_ERROR's error, else NULL). */
int lcr__tick(lcr_server_t *s, lcr__tick_kind_t kind, lcr__errbox_t *err);

/* What createServerHandle() + setupListenHandle() need. */
typedef struct lcr__bind_spec_s {
  const char *address; /* IP string, or NULL for the default '::' / 0.0.0.0 */
  int family;          /* 4, 6; -1 for a pipe; 0 for an fd */
  int port;
  const char *path; /* pipe */
  size_t path_len;
  int fd;             /* handle form, else -1 */
  unsigned int flags; /* UV_TCP_IPV6ONLY */
  int reuse_port;
  int backlog; /* 0 means the default */
} lcr__bind_spec_t;

/* setupListenHandle(): on success s->handle is set and 'listening' queued;
 * on failure 'error' is queued. */
void lcr__setup_listen_handle(lcr_server_t *s, const lcr__bind_spec_t *spec);
/* listen() on a path (a->path, a->path_len): this._pipeName, the handle,
 * then readableAll / writableAll.  0, or -1 with *err filled. */
int lcr__listen_path(lcr_server_t *s, const lcr_listen_t *a, int backlog,
                     lcr_error_t *err);

/* ---- host lookup (lookup.c) ---------------------------------------------- */

/* lookupAndListen(): resolve `host`, then lcr__setup_listen_handle().
 * Returns 0 (a lookup error is emitted later) or a UV_E* error. */
int lcr__lookup_and_listen(lcr_server_t *s, int port, const char *host,
                           int backlog, unsigned int flags, int reuse_port);

/* ---- signals (signal.c) -------------------------------------------------- */

/* addServerAbortSignalOption(): watch `signal` for `s`. */
int lcr__signal_watch(lcr_server_t *s, lcr_signal_t *signal);
/* Drop one registration of s (the dispose listener ran). */
void lcr__signal_unwatch(lcr_signal_t *signal, lcr_server_t *s);
/* lcr_server_free(): forget every watch of s (its dispose listeners name
 * the signals). */
void lcr__signal_forget_server(lcr_server_t *s);

#endif /* LCR_INTERNAL_H */
