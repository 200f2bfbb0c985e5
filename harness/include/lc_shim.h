/* lc_shim.h — the listen-conformance shim ABI.
 *
 * This header is the only thing an implementation under test must provide:
 * a shared library that exports one function, lc_shim_entry(), returning a
 * descriptor (lc_shim_t) whose function pointers drive one or more Node-style
 * servers.  The host (harness/host) loads the library with dlopen() in a
 * process of its own, calls the functions on the driver's behalf and reports
 * everything back; the implementation never talks to the driver directly.
 *
 * Versioning (the LV2 / SQLite / Vulkan-loader rules):
 *   - The first call the host makes is the handshake lc_shim_entry(offered),
 *     where `offered` is the highest LC_ABI_VERSION the host knows.  The shim
 *     MUST return a descriptor whose `abi_version` is <= `offered`, or NULL
 *     when it cannot speak any version <= `offered` (the host then refuses
 *     the library with one clear line).
 *   - The descriptor carries its own `size`.  The host MUST NOT read a member
 *     at or past `size`; members are only ever added at the end, each marked
 *     with the ABI version that added it.  Every struct the host passes in
 *     carries a `size` too, and the shim MUST NOT read past it.
 *   - Same major version (LC_ABI_VERSION >> 16), ABI stable; minors add.
 *     A host of a later minor still accepts a shim that answers an earlier
 *     one (a 1.0 shim runs under a 1.1 host), and passes structs that are
 *     at least as long as that minor's; the shim reads a member added later
 *     only when the struct's `size` reaches past its end.
 *
 * History:
 *   1.0  the first ABI.
 *   1.1  lc_host_t.node_major, node_minor, node_patch: the Node.js release
 *        the run holds the shim to (lc-host --node-version).
 *   1.2  lc_shim_t.hold_connections: keep accepted connections open until
 *        their peer ends them, so that close() has connections to wait for
 *        (optional: NULL when the shim cannot).
 *
 * Threading: every function is called on the host's one thread, and the shim
 * MUST report events (lc_host_t.event) only on that thread, from inside
 * run() (directly, or from a callback of the shim's event loop that run()
 * drives) — never from another thread or a signal handler.  Events MUST NOT
 * be reported from inside listen(), close() or abort(): Node emits nothing
 * synchronously from them, so the shim queues what they cause and reports
 * it from a later run().  The host notes whether a report arrived while the
 * driver's call was in progress (synchronous, which fails the scenario) or
 * from run() (after the call returned); that is how L-ASYNC is observed.
 * (lc_shim_util.h, next to this header, has an optional tick queue and
 * listener list for this.)
 *
 * Errors are named by their Node.js code strings ("ERR_SERVER_ALREADY_LISTEN",
 * "EADDRINUSE", ...), never by numbers alone, so that a C library and
 * JavaScript runtimes are compared on one scale.
 */
#ifndef LC_SHIM_H
#define LC_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version: major << 16 | minor. */
#define LC_ABI_VERSION_MAJOR 1
#define LC_ABI_VERSION_MINOR 2
#define LC_ABI_VERSION       ((LC_ABI_VERSION_MAJOR << 16) | LC_ABI_VERSION_MINOR)

/* The one exported symbol.  Its name as a string, for dlsym(). */
#define LC_SHIM_ENTRY_SYMBOL "lc_shim_entry"

#if defined(__GNUC__)
#define LC_SHIM_EXPORT __attribute__((visibility("default")))
#else
#define LC_SHIM_EXPORT
#endif

typedef struct lc_server_s lc_server_t; /* opaque, owned by the shim */

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* An error as Node.js reports it.  Strings are borrowed: they MUST stay
 * valid until the function that produced them returns (for a synchronous
 * error) or until the event callback returns (for a reported event). */
typedef struct lc_error_s {
  const char *code;    /* "EADDRINUSE", "ERR_SERVER_ALREADY_LISTEN", ... */
  int errnum;          /* negative errno for system errors (-98), else 0 */
  const char *syscall; /* "listen", "bind", ... or NULL */
  const char *address; /* the address or path the call was for, or NULL */
  int port;            /* the port, or -1 when there is none */
  const char *message; /* a human message, or NULL */
} lc_error_t;

/* ------------------------------------------------------------------------ */
/* Events the shim reports to the host                                       */

typedef enum lc_event_type_e {
  /* The server emitted an event (before any listener of it runs). */
  LC_EVENT_EMIT = 1,
  /* A labelled listener added with on(), or the callback given to listen()
   * or close(), was invoked. */
  LC_EVENT_CALL = 2
} lc_event_type_t;

typedef struct lc_event_s {
  uint32_t size; /* sizeof(lc_event_t) as the shim was compiled */
  lc_event_type_t type;
  void *tag;               /* the tag given to server_new() */
  const char *name;        /* "listening", "error", "close", "connection" */
  const char *label;       /* LC_EVENT_CALL: the listener's label; else NULL */
  const lc_error_t *error; /* 'error' emissions and calls that receive an
                              error argument (close callback); else NULL */
} lc_event_t;

/* What the host gives the shim.  `size` is sizeof(lc_host_t) as the host was
 * compiled: a 1.0 host's struct ends at host_ctx, so read a later member only
 * when `size` covers it (lc_shim_util.h: LCU_END_OF, lcu_node_version). */
typedef struct lc_host_s {
  /* ---- ABI 1.0 ---- */
  uint32_t size;
  /* Report one event.  The shim MUST report, in emission order:
   *   - every emission of 'listening', 'error', 'close' and 'connection'
   *     (LC_EVENT_EMIT), then
   *   - each listener invocation for it (LC_EVENT_CALL), in the order the
   *     listeners run.
   * The host copies what it needs before returning. */
  void (*event)(void *host_ctx, const lc_event_t *ev);
  void *host_ctx;

  /* ---- ABI 1.1 ---- */
  /* The Node.js release the run holds the shim to, e.g. 22, 23, 5 for
   * v22.23.5 (lc-host --node-version 22.23.5); all three 0 when none was
   * given, which means "behave as the newest Node.js".
   *
   * Node 20, 22 and 24 differ in a few listen() behaviours (how readableAll
   * and writableAll set a socket file's mode, whether ipv6Only counts
   * without a host, whether an overlong Unix socket path is truncated or
   * refused; docs/SPEC.md says which scenario holds for which releases).
   * A shim that can behave as more than one release line SHOULD read these
   * in init() and, for each such behaviour, do what that release does;
   * one that cannot may ignore them.  Either way the driver judges the
   * shim against the release named here (the host reports it in `hello`):
   * scenarios pinned to other releases are skipped.  The values are passed
   * as given, each in [0, 9999]; a shim treats a release it has no rule
   * for as the nearest one it knows (a newer one as its newest).
   *
   * A 1.0 shim never reads these members (its lc_host_t ends at host_ctx)
   * and is judged against the requested release all the same.  A shim
   * under a 1.0 host (`size` short of node_patch) behaves as the newest. */
  uint32_t node_major, node_minor, node_patch;
  /* ---- end of ABI 1.1; later versions add members below this line ---- */
} lc_host_t;

/* ------------------------------------------------------------------------ */
/* listen() arguments: the call as the user wrote it                         */

typedef enum lc_form_e {
  LC_FORM_PORT = 1,   /* listen([port[, host[, backlog]]][, callback]);
                          with nothing in `has` but maybe CALLBACK this is
                          listen() / listen(callback) */
  LC_FORM_PATH = 2,   /* listen(path[, backlog][, callback])            */
  LC_FORM_HANDLE = 3, /* listen(handle[, backlog][, callback]), handle = {fd} */
  LC_FORM_OPTIONS = 4 /* listen(options[, callback])                    */
} lc_form_t;

/* Which arguments (or, for LC_FORM_OPTIONS, which option properties) the
 * user passed.  An argument that is absent MUST take its Node.js default:
 * port 0, host '::' with IPv4 fallback, backlog 511, no callback. */
enum {
  LC_HAS_PORT = 1u << 0,
  LC_HAS_HOST = 1u << 1,
  LC_HAS_BACKLOG = 1u << 2,
  LC_HAS_PATH = 1u << 3,
  LC_HAS_FD = 1u << 4,
  LC_HAS_EXCLUSIVE = 1u << 5,
  LC_HAS_IPV6ONLY = 1u << 6,
  LC_HAS_READABLEALL = 1u << 7,
  LC_HAS_WRITABLEALL = 1u << 8,
  LC_HAS_REUSEPORT = 1u << 9,
  LC_HAS_SIGNAL = 1u << 10, /* options.signal: an abort signal the host can
                               trigger later with abort() */
  LC_HAS_CALLBACK = 1u << 11
};

typedef struct lc_listen_s {
  uint32_t size;
  lc_form_t form;
  uint32_t has;     /* LC_HAS_* */
  int32_t port;     /* may be out of range: validation is the shim's */
  const char *host; /* NUL-terminated */
  int32_t backlog;
  const char *path; /* NOT NUL-terminated when abstract: use path_len */
  size_t path_len;  /* bytes in path; path[0] == '\0' means abstract */
  int32_t fd;       /* LC_FORM_HANDLE, or options {fd} */
  int32_t exclusive, ipv6_only, readable_all, writable_all, reuse_port;
  const char *callback_label; /* LC_HAS_CALLBACK: label the host reports */
} lc_listen_t;

/* address() result, shaped like Node's server.address(). */
typedef enum lc_address_kind_e {
  LC_ADDRESS_NULL = 0, /* address() returned null */
  LC_ADDRESS_INET = 1, /* { address, family, port } */
  LC_ADDRESS_PIPE = 2  /* the path string */
} lc_address_kind_t;

typedef struct lc_address_s {
  uint32_t size;
  lc_address_kind_t kind;
  char family[8]; /* "IPv4" / "IPv6" */
  char address[64];
  int32_t port;
  char path[256]; /* may begin with '\0' (abstract): use path_len */
  size_t path_len;
} lc_address_t;

/* ------------------------------------------------------------------------ */
/* The descriptor                                                            */

typedef struct lc_shim_s {
  /* ---- ABI 1.0 ---- */
  uint32_t abi_version;     /* LC_ABI_VERSION the shim speaks */
  uint32_t size;            /* sizeof(lc_shim_t) as the shim was compiled */
  const char *name;         /* "reference", "libuv", ... */
  const char *impl_version; /* the implementation's own version string */

  /* Called once, after the handshake and before anything else, in the
   * process that will run the servers.  `host` stays valid for the life of
   * the process.  Returns 0, or a negative errno when the shim cannot run
   * (the host reports it and runs nothing). */
  int (*init)(const lc_host_t *host);

  /* A new server, not listening.  `tag` is reported with its events.
   * Returns NULL only on allocation failure. */
  lc_server_t *(*server_new)(void *tag);

  /* Add a labelled listener for `event` ("listening", "error", "close",
   * "connection").  Listeners run in the order added, like EventEmitter. */
  int (*on)(lc_server_t *server, const char *event, const char *label);

  /* server.listen(...).  Returns 0 when the call returned normally.  A
   * synchronous throw (ERR_SERVER_ALREADY_LISTEN, ERR_SOCKET_BAD_PORT,
   * ERR_INVALID_ARG_VALUE, ...) MUST be returned as -1 with *err filled in;
   * such a call MUST leave no socket open.  As in Node's lib/net.js, the
   * callback is added as a 'listening' listener (once) right after the
   * ERR_SERVER_ALREADY_LISTEN check and BEFORE the other arguments are
   * validated: a call that throws ERR_SERVER_ALREADY_LISTEN adds nothing,
   * one that throws a validation error leaves its callback registered, to
   * run at the next successful listen.  Bind and
   * listen failures (EADDRINUSE, EACCES, ...) MUST NOT be returned here:
   * they are reported later as an 'error' emission from run().
   * 'listening' MUST NOT be reported before listen() returns. */
  int (*listen)(lc_server_t *server, const lc_listen_t *args, lc_error_t *err);

  /* server.close([callback]).  `callback_label` is NULL for close() without
   * a callback.  The callback MUST be called after 'close' is emitted, with
   * ERR_SERVER_NOT_RUNNING when the server was not listening.  The host
   * also calls it from inside its event callback, while the shim reports a
   * listener's call (a listener that closes its server, PROTOCOL.md `on`
   * `then`): the shim MUST take that re-entrant call as Node does (inside
   * 'connection', stop listening at once and emit 'close' once that
   * connection is gone too). */
  int (*close)(lc_server_t *server, const char *callback_label,
               lc_error_t *err);

  /* server.address() into *out. Returns 0. */
  int (*address)(lc_server_t *server, lc_address_t *out);

  /* server.listening: 1 or 0. */
  int (*listening)(lc_server_t *server);

  /* Abort the signal passed as options.signal.  Returns 0, or -1 when the
   * last listen() had no signal. */
  int (*abort)(lc_server_t *server);

  /* The fd of the listening socket, or -1 when there is none (or the
   * implementation would rather not say).  A hint: the harness finds the
   * listening socket itself (sock_diag and /proc) and FAILs a scenario where
   * this names another socket.  The host never closes it. */
  int (*fd)(lc_server_t *server);

  /* Run the event loop: return after at least one callback ran, or after
   * timeout_ms (0: run only what is already due, without blocking).
   * Returns the number of events reported, or a negative errno. */
  int (*run)(int timeout_ms);

  /* Close everything the server holds without reporting events, and free
   * it.  Called at the end of a scenario; the server is not used again. */
  void (*server_free)(lc_server_t *server);
  /* ---- end of ABI 1.0 (1.1 added nothing here) ---- */

  /* ---- ABI 1.2 ---- */
  /* Keep the connections `server` accepts from now on open, as a Node
   * 'connection' listener that keeps its socket does, instead of closing
   * each at once after reporting 'connection'.  A kept connection reads
   * (and drops) what its peer sends; when the peer ends it (end of stream,
   * or an error such as a reset), the shim closes it: Node's net.Socket
   * with allowHalfOpen false ends and is destroyed then.  While any kept
   * connection is open, close() stops listening at once (listening() 0,
   * the socket file unlinked, new connections refused) but 'close' is
   * emitted, and the close() callbacks run, only after the last one is
   * closed (net.js _emitCloseIfDrained()).  server_free() closes them
   * without reporting events.  Returns 0, or a negative errno.
   *
   * Optional: a shim that cannot keep connections leaves it NULL.  The host
   * reads it only from a descriptor that answers ABI 1.2 or later and whose
   * `size` covers it; otherwise, or when NULL, `hello` lists "hold" in its
   * `lacks` and the scenarios that hold connections SKIP with that reason
   * (harness/PROTOCOL.md). */
  int (*hold_connections)(lc_server_t *server);
  /* ---- end of ABI 1.2; later versions add members below this line ---- */
} lc_shim_t;

/* The entry point every shim exports.  See "Versioning" above. */
typedef const lc_shim_t *(*lc_shim_entry_fn)(uint32_t offered_abi_version);
LC_SHIM_EXPORT const lc_shim_t *lc_shim_entry(uint32_t offered_abi_version);

#ifdef __cplusplus
}
#endif
#endif /* LC_SHIM_H */
