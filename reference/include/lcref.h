/* lcref.h — the listen-conformance reference listener.
 *
 * A small C model of Node.js's net.Server.listen() / close() contract on top
 * of libuv.  lib/net.js of Node.js v20 is the authority for every behaviour;
 * where Node >= 22.12 adds something (reusePort) the current documentation
 * is followed.  Where releases differ (readableAll / writableAll modes,
 * ipv6Only without a host, overlong socket paths) a loop behaves as the
 * release given to lcr_loop_set_node_version(), by default as the newest
 * (src/node_line.h has the table).  The functions map one to one onto
 * Node's:
 *
 *   Node.js                         lcref
 *   new net.Server()                lcr_server_new()
 *   server.on(ev, fn)               lcr_server_on()
 *   server.once(ev, fn)             lcr_server_once()
 *   server.listen(...)              lcr_listen()
 *   server.close([cb])              lcr_server_close()
 *   server.address()                lcr_server_address()
 *   server.listening                lcr_server_listening()
 *   new AbortController().signal    lcr_signal_new(), lcr_signal_abort()
 *   process.nextTick()              the lcr_loop_t tick queue
 *
 * Rules (the libuv ones):
 *   - Every function runs on the thread that runs the uv loop.
 *   - Errors are negative errno values (UV_E*), or, for the synchronous throws
 *     of Node (ERR_SERVER_ALREADY_LISTEN, ...), -1 with an lcr_error_t filled.
 *   - 'listening', 'close' and listen-time 'error' are never emitted from
 *     inside the call that caused them: they are queued on the loop's tick
 *     queue, like Node's process.nextTick(), and emitted from uv_run().
 *   - A server's memory is released by lcr_server_free() once the loop has
 *     run the close callbacks of its handles; keep running the loop.
 */
#ifndef LCREF_H
#define LCREF_H

#include <stddef.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LCR_VERSION_MAJOR 0
#define LCR_VERSION_MINOR 1
#define LCR_VERSION_PATCH 0
#define LCR_VERSION_HEX \
  ((LCR_VERSION_MAJOR << 16) | (LCR_VERSION_MINOR << 8) | LCR_VERSION_PATCH)

unsigned int lcr_version(void);
const char *lcr_version_string(void);

/* Node's defaults (lib/net.js). */
#define LCR_DEFAULT_BACKLOG   511 /* "511 (not 512)": the kernel rounds up */
#define LCR_DEFAULT_IPV6_ADDR "::"
#define LCR_DEFAULT_IPV4_ADDR "0.0.0.0"

typedef struct lcr_loop_s lcr_loop_t;
typedef struct lcr_server_s lcr_server_t;
typedef struct lcr_signal_s lcr_signal_t;
typedef struct lcr_tick_s lcr_tick_t;

/* ------------------------------------------------------------------------ */
/* Errors, shaped like Node's error objects                                 */

typedef struct lcr_error_s {
  const char *code;     /* "EADDRINUSE", "ERR_SERVER_ALREADY_LISTEN", ... */
  int errnum;           /* negative errno (err.errno), or 0 */
  const char *syscall;  /* "listen", "getaddrinfo", "accept", ... or NULL */
  const char *address;  /* err.address, or NULL when Node leaves it unset */
  int port;             /* err.port, or -1 when Node leaves it unset */
  const char *hostname; /* err.hostname (DNS errors), or NULL */
  const char *message;  /* Node's message text */
  char buf[512];        /* storage for message, owned by this struct */
} lcr_error_t;

/* ------------------------------------------------------------------------ */
/* The loop: a uv loop plus Node's nextTick queue                            */

struct lcr_loop_s {
  /* public, read-only */
  uv_loop_t *uv;
  /* private */
  uv_idle_t idle; /* drains the tick queue; active only when needed */
  lcr_tick_t *head;
  lcr_tick_t *tail;
  unsigned node_version[3]; /* lcr_loop_set_node_version(); 0.0.0: newest */
};

/* Attach to a uv loop.  Returns 0 or a UV_E* error. */
int lcr_loop_init(lcr_loop_t *loop, uv_loop_t *uv);
/* Close the loop's own handle.  Every server must have been freed; run the
 * uv loop afterwards so that the close callback runs. */
void lcr_loop_close(lcr_loop_t *loop);
/* Number of queued ticks (for run loops that must not block on them). */
int lcr_loop_pending(const lcr_loop_t *loop);
/* Behave as Node.js major.minor.patch where releases differ in listen()
 * (src/node_line.h lists the changes and the first release of each).
 * 0.0.0, the default after lcr_loop_init(), is the newest Node.  Applies to
 * the listen() calls made after it. */
void lcr_loop_set_node_version(lcr_loop_t *loop, unsigned major, unsigned minor,
                               unsigned patch);

/* ------------------------------------------------------------------------ */
/* Events and listeners                                                      */

typedef enum lcr_event_e {
  LCR_EV_LISTENING = 0,
  LCR_EV_ERROR,
  LCR_EV_CLOSE,
  LCR_EV_CONNECTION,
  LCR_EV_COUNT_
} lcr_event_t;

/* "listening", "error", "close", "connection". */
const char *lcr_event_name(lcr_event_t ev);
/* The event named `name`, or -1. */
int lcr_event_from_name(const char *name);

typedef struct lcr_emit_s {
  lcr_event_t event;
  /* 'error' emissions: the error.  A close callback added by
   * lcr_server_close() on a server that was not listening: the
   * ERR_SERVER_NOT_RUNNING error it is called with.  Otherwise NULL. */
  const lcr_error_t *error;
  /* 'connection': the accepted socket, valid during the call only (the
   * reference closes it right after the emission, or, on a server that
   * holds its connections, when the peer ends it).  Otherwise NULL. */
  uv_stream_t *connection;
} lcr_emit_t;

typedef void (*lcr_listener_cb)(lcr_server_t *server, const lcr_emit_t *emit,
                                void *data);

/* Called for each emission before its listeners run (EventEmitter has no
 * such hook; the conformance shim uses it to report emissions). */
typedef void (*lcr_observer_cb)(lcr_server_t *server, const lcr_emit_t *emit,
                                void *data);

/* ------------------------------------------------------------------------ */
/* Servers                                                                   */

lcr_server_t *lcr_server_new(lcr_loop_t *loop);

/* Close everything the server holds, emit nothing more, and release it
 * when the loop has run the close callbacks.  The pointer is dead after. */
void lcr_server_free(lcr_server_t *server);

/* server.on(event, cb) / server.once(event, cb).  Listeners run in the
 * order added; an emission runs the listeners registered when it began.
 * Returns 0, UV_EINVAL or UV_ENOMEM. */
int lcr_server_on(lcr_server_t *server, lcr_event_t ev, lcr_listener_cb cb,
                  void *data);
int lcr_server_once(lcr_server_t *server, lcr_event_t ev, lcr_listener_cb cb,
                    void *data);

void lcr_server_set_observer(lcr_server_t *server, lcr_observer_cb cb,
                             void *data);

void *lcr_server_get_data(const lcr_server_t *server);
void lcr_server_set_data(lcr_server_t *server, void *data);

/* The four call forms of server.listen(). */
typedef enum lcr_form_e {
  LCR_FORM_PORT = 1,   /* listen([port[, host[, backlog]]][, cb])    */
  LCR_FORM_PATH = 2,   /* listen(path[, backlog][, cb])              */
  LCR_FORM_HANDLE = 3, /* listen({fd}[, backlog][, cb])              */
  LCR_FORM_OPTIONS = 4 /* listen(options[, cb])                      */
} lcr_form_t;

/* Which arguments / option properties the caller passed. */
enum {
  LCR_HAS_PORT = 1u << 0,
  LCR_HAS_HOST = 1u << 1,
  LCR_HAS_BACKLOG = 1u << 2,
  LCR_HAS_PATH = 1u << 3,
  LCR_HAS_FD = 1u << 4,
  /* The boolean options given (true or false); only their values count for
   * listening, their presence shows in a thrown error's message. */
  LCR_HAS_EXCLUSIVE = 1u << 5,
  LCR_HAS_IPV6ONLY = 1u << 6,
  LCR_HAS_READABLEALL = 1u << 7,
  LCR_HAS_WRITABLEALL = 1u << 8,
  LCR_HAS_REUSEPORT = 1u << 9
};

typedef struct lcr_listen_s {
  lcr_form_t form;
  unsigned int has; /* LCR_HAS_* */
  int port;         /* validated: 0..65535 */
  const char *host; /* NUL-terminated; "" means none, like Node */
  int backlog;
  const char *path; /* path_len bytes; path[0] == '\0': abstract */
  size_t path_len;
  int fd;                   /* LCR_FORM_HANDLE, or options.fd */
  int exclusive;            /* accepted; no effect outside cluster */
  int ipv6_only;            /* IPV6_V6ONLY=1 (UV_TCP_IPV6ONLY) */
  int readable_all;         /* IPC: chmod a+r */
  int writable_all;         /* IPC: chmod a+w */
  int reuse_port;           /* SO_REUSEPORT=1 (Node >= 22.12) */
  lcr_signal_t *signal;     /* options.signal, or NULL */
  lcr_listener_cb callback; /* added with once('listening'), or NULL */
  void *callback_data;
} lcr_listen_t;

/* server.listen().  Returns 0, or -1 with *err filled for what Node throws
 * synchronously.  Bind and listen failures are never returned: they are
 * emitted as 'error' from the loop.  As in Node, the callback is added
 * (and options.signal watched) before the arguments are validated, so a
 * throw other than ERR_SERVER_ALREADY_LISTEN leaves the callback added. */
int lcr_listen(lcr_server_t *server, const lcr_listen_t *args,
               lcr_error_t *err);

/* Convenience: server.listen(port, host, cb). host may be NULL. */
int lcr_listen_port(lcr_server_t *server, int port, const char *host,
                    lcr_listener_cb cb, void *data, lcr_error_t *err);

/* server.close([cb]).  cb (may be NULL) is added with once('close'); it is
 * called with ERR_SERVER_NOT_RUNNING in emit->error when the server was not
 * listening.  'close' is always emitted, asynchronously.  Returns 0. */
int lcr_server_close(lcr_server_t *server, lcr_listener_cb cb, void *data);

/* Whether the connections the server accepts from now on are kept open:
 * 0 (the default), each is closed right after its 'connection' emission;
 * 1, each stays open, reading and dropping what its peer sends, until the
 * peer ends it (end of stream or an error), as a Node socket a 'connection'
 * listener keeps (allowHalfOpen false).  An open connection holds 'close'
 * back: lcr_server_close() stops listening at once, and 'close' is emitted
 * when the last connection is closed (net.js _emitCloseIfDrained()).
 * lcr_server_free() closes them.  Returns 0. */
int lcr_server_hold_connections(lcr_server_t *server, int hold);

/* server.address(). */
typedef enum lcr_address_kind_e {
  LCR_ADDRESS_NULL = 0,
  LCR_ADDRESS_INET = 1,
  LCR_ADDRESS_PIPE = 2
} lcr_address_kind_t;

typedef struct lcr_address_s {
  lcr_address_kind_t kind;
  char family[8]; /* "IPv4" / "IPv6" */
  char address[64];
  int port;
  char path[256]; /* path_len bytes, may start with '\0'; no NUL after 256 */
  size_t path_len;
} lcr_address_t;

/* Returns 0 or a UV_E* error from getsockname. */
int lcr_server_address(lcr_server_t *server, lcr_address_t *out);

/* server.listening: whether the server holds a listening handle. */
int lcr_server_listening(const lcr_server_t *server);

/* The listening socket's fd, or -1. */
int lcr_server_fd(const lcr_server_t *server);

/* ------------------------------------------------------------------------ */
/* Abort signals (options.signal)                                            */

lcr_signal_t *lcr_signal_new(void);
/* Abort: every server that listened with this signal is closed, as Node's
 * addAbortSignalOption does with server.close().  Aborting twice does
 * nothing more. */
void lcr_signal_abort(lcr_signal_t *signal);
int lcr_signal_aborted(const lcr_signal_t *signal);
void lcr_signal_free(lcr_signal_t *signal);

#ifdef __cplusplus
}
#endif
#endif /* LCREF_H */
