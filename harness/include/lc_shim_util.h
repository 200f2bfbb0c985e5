/* lc_shim_util.h — optional helpers for shim authors (header-only).
 *
 * lc_shim.h is the ABI; this header is not part of it.  It holds, once, the
 * parts every shim otherwise writes for itself and that are easy to get
 * subtly wrong:
 *
 *   1. Reporting and the listener list (lcu_host_t, lcu_emitter_t):
 *      listeners added with on(), listen()'s callback and close()'s
 *      callback, and an emission reported as lc_shim.h requires: one
 *      LC_EVENT_EMIT, then one LC_EVENT_CALL per listener in the order the
 *      listeners were added, once-listeners removed before they run.
 *   2. Errno names (lcu_errno_name): EADDRINUSE -> "EADDRINUSE", as Node
 *      names system errors; lcu_error_* to shape an lc_error_t as Node's
 *      UVExceptionWithHostPort does, lcu_throw for a synchronous throw.
 *   3. A tick queue (lcu_ticks_t): Node's process.nextTick().  listen(),
 *      close() and abort() queue what they must not report themselves
 *      ('listening', 'error', 'close'); the shim's run() — or a callback of
 *      the event loop that run() drives — drains it.
 *   4. The Node.js release the run holds the shim to (lcu_node_version,
 *      lcu_node_at_least, next to lcu_host_init; ABI 1.1), read without
 *      going past the `size` of an older host's lc_host_t.
 *
 * A shim may use any part and ignore the rest, or none of it: everything
 * here can be written by hand (docs/implementers-guide.md, "The helper
 * header", lists what a shim then does itself).
 *
 * Requirements: C11, libc and lc_shim.h only.  Every function is
 * `static inline` (the API is prefixed lcu_, macros LCU_; names with lcu__
 * are internal), so the header can be included by several files of one shim.
 * The helpers keep no global state: the shim owns every object (usually one
 * lcu_host_t and one lcu_ticks_t for the process, one lcu_emitter_t per
 * server).  Like the ABI, they assume the host's one thread.
 *
 * Words: MUST / SHOULD mark a duty of the ABI (lc_shim.h) that a call
 * carries or that its caller has to keep.
 */
#ifndef LC_SHIM_UTIL_H
#define LC_SHIM_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc_shim.h"

/* The end of `member` in `type`: a struct the host passes covers `member`
 * when LCU_END_OF(type, member) <= its `size` (lc_shim.h, "Versioning": the
 * shim MUST NOT read past `size`). */
#define LCU_END_OF(type, member) \
  (offsetof(type, member) + sizeof(((type *)0)->member))

/* ======================================================================== */
/* 1. Reporting and listeners                                               */

/* The host, as init() received it, and a count of the events reported. */
typedef struct lcu_host_s {
  const lc_host_t *host;
  int reported; /* every lcu_report() adds one: run()'s return value is the
                   difference across the run */
} lcu_host_t;

/* Keep `host` for the life of the process.  Call it from init().  Returns 0,
 * or -EINVAL when `host` is NULL or too small to hold event and host_ctx
 * (init() then returns that, and the host runs nothing). */
static inline int lcu_host_init(lcu_host_t *lh, const lc_host_t *host) {
  if (!host || host->size < LCU_END_OF(lc_host_t, host_ctx) || !host->event)
    return -EINVAL;
  lh->host = host;
  lh->reported = 0;
  return 0;
}

/* The Node.js release the run holds the shim to (lc_host_t.node_major,
 * node_minor, node_patch, ABI 1.1) into v[0], v[1], v[2]: all 0, meaning
 * "the newest Node.js", when none was given or when the host is older than
 * 1.1 (its `size` does not reach node_patch).  Returns 1 when a version was
 * given, else 0.  Call it from init(). */
static inline int lcu_node_version(const lc_host_t *host, unsigned v[3]) {
  v[0] = v[1] = v[2] = 0;
  if (!host || host->size < LCU_END_OF(lc_host_t, node_patch))
    return 0;
  v[0] = host->node_major;
  v[1] = host->node_minor;
  v[2] = host->node_patch;
  return v[0] || v[1] || v[2];
}

/* Whether release v (from lcu_node_version) has a behaviour that Node.js
 * major.minor.patch introduced: 1 when v is that release or a later one, or
 * when v is 0.0.0 (the newest). */
static inline int lcu_node_at_least(const unsigned v[3], unsigned major,
                                    unsigned minor, unsigned patch) {
  if (!v[0] && !v[1] && !v[2])
    return 1;
  if (v[0] != major)
    return v[0] > major;
  if (v[1] != minor)
    return v[1] > minor;
  return v[2] >= patch;
}

/* lcu_listener_t.flags: LCU_ONCE, removed before it runs (EventEmitter.once);
 * LCU_NOT_RUNNING, receives ERR_SERVER_NOT_RUNNING whatever the emission
 * carries (the close() callback of a server that was not listening). */
#define LCU_ONCE        1u
#define LCU_NOT_RUNNING 2u

typedef struct lcu_listener_s {
  struct lcu_listener_s *next;
  char *event; /* owned copies */
  char *label;
  unsigned flags; /* LCU_ONCE | LCU_NOT_RUNNING */
} lcu_listener_t;

/* What a server reports through: the host, the server's tag and its
 * listeners, in the order they were added. */
typedef struct lcu_emitter_s {
  lcu_host_t *host;
  void *tag;
  lcu_listener_t *listeners;
} lcu_emitter_t;

/* Set up an emitter with no listeners; call it from server_new().  `tag` is
 * server_new()'s: lc_shim.h requires it on every event of the server. */
static inline void lcu_emitter_init(lcu_emitter_t *em, lcu_host_t *lh,
                                    void *tag) {
  em->host = lh;
  em->tag = tag;
  em->listeners = NULL;
}

static inline char *lcu__strdup(const char *str) {
  size_t n = strlen(str) + 1;
  char *p = malloc(n);
  if (p)
    memcpy(p, str, n);
  return p;
}

/* Append a listener of `event` with `label` (both copied).  Listeners run in
 * the order added, like EventEmitter (lc_shim.h, on()).  Returns 0, or
 * -ENOMEM with nothing added. */
static inline int lcu_add_listener(lcu_emitter_t *em, const char *event,
                                   const char *label, unsigned flags) {
  lcu_listener_t *li = calloc(1, sizeof(*li)), **pp = &em->listeners;
  if (!li || !(li->event = lcu__strdup(event)) ||
      !(li->label = lcu__strdup(label ? label : ""))) {
    if (li)
      free(li->event);
    free(li);
    return -ENOMEM;
  }
  li->flags = flags;
  while (*pp)
    pp = &(*pp)->next;
  *pp = li;
  return 0;
}

/* server.on(event, fn): what the shim's on() does.  Returns 0 or -ENOMEM. */
static inline int lcu_on(lcu_emitter_t *em, const char *event,
                         const char *label) {
  return lcu_add_listener(em, event, label, 0);
}

/* listen()'s callback: when the call has LC_HAS_CALLBACK and a label, add it
 * as a once-listener of 'listening', after the listeners already there.
 * Returns 0 (also when there is no callback) or -ENOMEM.
 *
 * The caller MUST call it where Node's lib/net.js adds the callback
 * (lc_shim.h, listen()): after the ERR_SERVER_ALREADY_LISTEN check — a call
 * that throws that adds nothing — and BEFORE validating the other arguments,
 * so that a call that throws ERR_SOCKET_BAD_PORT or ERR_INVALID_ARG_VALUE
 * leaves its callback registered, to run at the next successful listen.
 * `a` MUST have been checked to cover callback_label (LCU_END_OF). */
static inline int lcu_listen_callback(lcu_emitter_t *em, const lc_listen_t *a) {
  if (!(a->has & LC_HAS_CALLBACK) || !a->callback_label)
    return 0;
  return lcu_add_listener(em, "listening", a->callback_label, LCU_ONCE);
}

/* close()'s callback: `label` (NULL: close() had none, nothing is added) as
 * a once-listener of 'close'.  `was_listening` is whether the server had a
 * listening handle when close() was called: when 0 the callback receives
 * ERR_SERVER_NOT_RUNNING (lc_shim.h, close()).  Returns 0 or -ENOMEM.  The
 * caller MUST then queue the 'close' emission (lcu_tick_push) — also for a
 * server that was not listening, as Node emits it then too. */
static inline int lcu_close_callback(lcu_emitter_t *em, const char *label,
                                     int was_listening) {
  if (!label)
    return 0;
  return lcu_add_listener(em, "close", label,
                          LCU_ONCE | (was_listening ? 0 : LCU_NOT_RUNNING));
}

/* Report one event to the host (lc_host_t.event) with the emitter's tag,
 * and count it.  Prefer lcu_emit(), which keeps the order; this is for an
 * event the list does not know. */
static inline void lcu_report(lcu_emitter_t *em, lc_event_type_t type,
                              const char *name, const char *label,
                              const lc_error_t *err) {
  lc_event_t ev;
  memset(&ev, 0, sizeof(ev));
  ev.size = sizeof(ev);
  ev.type = type;
  ev.tag = em->tag;
  ev.name = name;
  ev.label = label;
  ev.error = err;
  em->host->reported++;
  em->host->host->event(em->host->host->host_ctx, &ev);
}

/* The error a LCU_NOT_RUNNING listener receives. */
static inline const lc_error_t *lcu_not_running(void) {
  static const lc_error_t e = {"ERR_SERVER_NOT_RUNNING", 0, NULL, NULL, -1,
                               "Server is not running."};
  return &e;
}

/* server.emit(name[, err]): report the emission (LC_EVENT_EMIT, with `err`
 * for 'error'), then one LC_EVENT_CALL per listener of `name`, in the order
 * they were added, each with its label and the error it receives (`err`,
 * or ERR_SERVER_NOT_RUNNING for a LCU_NOT_RUNNING one).  A once-listener is
 * removed before it is reported and freed after.  As in EventEmitter, the
 * listeners are those present when the emission starts.  Returns the number
 * of events reported.  `err` and its strings need only outlive the call.
 *
 * The caller MUST call it only from run() (directly or from a callback of
 * the event loop that run() drives, a tick included), never from inside
 * listen(), close() or abort(): the host marks an event reported while one
 * of those runs as synchronous, and Node emits nothing synchronously from
 * them (L-ASYNC).  Emit 'error' with its lc_error_t filled as Node names it
 * (lcu_error_errno). */
static inline int lcu_emit(lcu_emitter_t *em, const char *name,
                           const lc_error_t *err) {
  lcu_listener_t **pp = &em->listeners, *last = NULL;
  int before = em->host->reported;
  for (lcu_listener_t *li = em->listeners; li; li = li->next)
    last = li;
  lcu_report(em, LC_EVENT_EMIT, name, NULL, err);
  while (*pp) {
    lcu_listener_t *li = *pp;
    int is_last = li == last;
    if (strcmp(li->event, name) != 0) {
      pp = &li->next;
    } else {
      if (li->flags & LCU_ONCE)
        *pp = li->next;
      else
        pp = &li->next;
      lcu_report(em, LC_EVENT_CALL, name, li->label,
                 (li->flags & LCU_NOT_RUNNING) ? lcu_not_running() : err);
      if (li->flags & LCU_ONCE) {
        free(li->event);
        free(li->label);
        free(li);
      }
    }
    if (is_last)
      break;
  }
  return em->host->reported - before;
}

/* Free every listener, reporting nothing.  Call it from server_free(). */
static inline void lcu_emitter_clear(lcu_emitter_t *em) {
  while (em->listeners) {
    lcu_listener_t *li = em->listeners;
    em->listeners = li->next;
    free(li->event);
    free(li->label);
    free(li);
  }
}

/* ======================================================================== */
/* 2. Errno names and errors                                                 */

/* The name Node gives a system error: lcu_errno_name(EADDRINUSE) is
 * "EADDRINUSE".  `err` may be positive (errno) or negative (libuv, and
 * lc_error_t.errnum).  Returns NULL for an errno not in the table (the
 * errors a listen can meet); the caller picks its own word for those. */
static inline const char *lcu_errno_name(int err) {
  int e = err < 0 ? -err : err;
  switch (e) {
    /* clang-format 14 would fold the macro into the #ifdef after it. */
    /* clang-format off */
#define LCU__NAME(x) \
  case x:            \
    return #x;
#ifdef EADDRINUSE
    LCU__NAME(EADDRINUSE)
#endif
#ifdef EADDRNOTAVAIL
    LCU__NAME(EADDRNOTAVAIL)
#endif
#ifdef EACCES
    LCU__NAME(EACCES)
#endif
#ifdef EPERM
    LCU__NAME(EPERM)
#endif
#ifdef EINVAL
    LCU__NAME(EINVAL)
#endif
#ifdef ENOENT
    LCU__NAME(ENOENT)
#endif
#ifdef ENOTDIR
    LCU__NAME(ENOTDIR)
#endif
#ifdef ENAMETOOLONG
    LCU__NAME(ENAMETOOLONG)
#endif
#ifdef ENOTSOCK
    LCU__NAME(ENOTSOCK)
#endif
#ifdef EBADF
    LCU__NAME(EBADF)
#endif
#ifdef EAFNOSUPPORT
    LCU__NAME(EAFNOSUPPORT)
#endif
#ifdef EEXIST
    LCU__NAME(EEXIST)
#endif
#ifdef EROFS
    LCU__NAME(EROFS)
#endif
#ifdef ENOMEM
    LCU__NAME(ENOMEM)
#endif
#ifdef EMFILE
    LCU__NAME(EMFILE)
#endif
#undef LCU__NAME
    /* clang-format on */
#ifdef EOPNOTSUPP
  case EOPNOTSUPP: /* libuv names it ENOTSUP (the same value on Linux) */
    return "ENOTSUP";
#endif
#if defined(ENOTSUP) && (!defined(EOPNOTSUPP) || ENOTSUP != EOPNOTSUPP)
  case ENOTSUP: return "ENOTSUP";
#endif
  default: return NULL;
  }
}

/* The description Node puts in a system error's message, libuv's
 * uv_strerror() wording: lcu_errno_text(EADDRINUSE) is "address already in
 * use" (the C library's strerror() says "Address already in use").  For the
 * errnos lcu_errno_name() knows; NULL for others. */
static inline const char *lcu_errno_text(int err) {
  int e = err < 0 ? -err : err;
  static const struct {
    int e;
    const char *text;
  } texts[] = {{EADDRINUSE, "address already in use"},
               {EADDRNOTAVAIL, "address not available"},
               {EACCES, "permission denied"},
               {EPERM, "operation not permitted"},
               {EINVAL, "invalid argument"},
               {ENOENT, "no such file or directory"},
               {ENOTDIR, "not a directory"},
               {ENAMETOOLONG, "name too long"},
               {ENOTSOCK, "socket operation on non-socket"},
               {EBADF, "bad file descriptor"},
               {EAFNOSUPPORT, "address family not supported"},
               {EEXIST, "file already exists"},
               {EROFS, "read-only file system"},
               {ENOMEM, "not enough memory"},
               {EMFILE, "too many open files"}};
  size_t i;

  for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
    if (texts[i].e == e)
      return texts[i].text;
  return NULL;
}

/* An lc_error_t with room for its strings: lc_shim.h has the shim own them
 * until the event callback returns. */
typedef struct lcu_errbuf_s {
  lc_error_t err;
  char code[32];
  char syscall[32];
  char address[256];
  char message[512];
} lcu_errbuf_t;

/* Fill b->err as Node's UVExceptionWithHostPort(err, syscall, address,
 * port): `code` ("EADDRINUSE"), `errnum` (negative errno), `syscall`
 * (Node says "listen" for a failed bind too), `address` (NUL-terminated, or
 * NULL for an fd), err.port = `port` when > 0, else -1 (Node sets it only
 * then), and the message "<syscall> <code>: <detail> <address>:<port>"
 * (without ":<port>" when there is none), `detail` being the description
 * (strerror(), uv_strerror()).  Strings are copied into `b` (a longer one is
 * cut).  Returns &b->err. */
static inline const lc_error_t *lcu_error_set(lcu_errbuf_t *b, const char *code,
                                              int errnum, const char *detail,
                                              const char *syscall,
                                              const char *address, int port) {
  memset(&b->err, 0, sizeof(b->err));
  snprintf(b->code, sizeof(b->code), "%s", code ? code : "UNKNOWN");
  snprintf(b->syscall, sizeof(b->syscall), "%s", syscall ? syscall : "");
  b->err.code = b->code;
  b->err.errnum = errnum;
  b->err.syscall = syscall ? b->syscall : NULL;
  if (address) {
    snprintf(b->address, sizeof(b->address), "%s", address);
    b->err.address = b->address;
  }
  b->err.port = port > 0 ? port : -1;
  if (port > 0)
    snprintf(b->message, sizeof(b->message), "%s %s: %s %s:%d", b->syscall,
             b->code, detail ? detail : "", address ? b->address : "", port);
  else
    snprintf(b->message, sizeof(b->message), "%s %s: %s%s%s", b->syscall,
             b->code, detail ? detail : "", address ? " " : "",
             address ? b->address : "");
  b->err.message = b->message;
  return &b->err;
}

/* lcu_error_set() for an errno value `e` (positive): code
 * lcu_errno_name(e), or "UNKNOWN" (libuv's word) when it has none; errnum
 * -e; detail lcu_errno_text(e), or strerror(e) when it has none. */
static inline const lc_error_t *lcu_error_errno(lcu_errbuf_t *b, int e,
                                                const char *syscall,
                                                const char *address, int port) {
  const char *name = lcu_errno_name(e);
  const char *text = lcu_errno_text(e);
  return lcu_error_set(b, name ? name : "UNKNOWN", -e,
                       text ? text : strerror(e), syscall, address, port);
}

/* A synchronous throw from listen() or close(): fill *err with `code` and
 * `message` (static strings: lc_shim.h has them outlive the call), no
 * errno, syscall, address or port.  Returns -1, what the function returns.
 * A listen() that throws MUST leave no socket open (lc_shim.h). */
static inline int lcu_throw(lc_error_t *err, const char *code,
                            const char *message) {
  err->code = code;
  err->errnum = 0;
  err->syscall = NULL;
  err->address = NULL;
  err->port = -1;
  err->message = message;
  return -1;
}

/* The throws of listen() with Node's exact messages (lib/internal/errors.js),
 * written into `b` (which must outlive the call: a static buffer will do, as
 * the host calls on one thread).  Return -1, as lcu_throw. */

/* ERR_SOCKET_BAD_PORT for a port out of range: "options.port should be >= 0
 * and < 65536. Received type number (-1)." */
static inline int lcu_throw_bad_port(lc_error_t *err, lcu_errbuf_t *b,
                                     int port) {
  snprintf(b->message, sizeof(b->message),
           "options.port should be >= 0 and < 65536. Received type number "
           "(%d).",
           port);
  return lcu_throw(err, "ERR_SOCKET_BAD_PORT", b->message);
}

/* util.inspect() of a string (util.js strEscape): quoted, control
 * characters, the quote and backslashes escaped.  Appends to out[*len]. */
static inline void lcu__put(char *out, size_t cap, size_t *len, const char *s,
                            size_t n) {
  size_t i;

  for (i = 0; i < n; i++, (*len)++)
    if (*len + 1 < cap)
      out[*len] = s[i];
  out[*len < cap ? *len : cap - 1] = '\0';
}

static inline void lcu__inspect_str(char *out, size_t cap, size_t *len,
                                    const char *s, size_t n) {
  static const char *const named[14] = {
      [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r"};
  char quote = '\'', hex[8];
  size_t i;

  if (memchr(s, '\'', n) != NULL) {
    if (memchr(s, '"', n) == NULL)
      quote = '"';
    else if (memchr(s, '`', n) == NULL) {
      quote = '`';
      for (i = 0; i + 1 < n; i++)
        if (s[i] == '$' && s[i + 1] == '{')
          quote = '\'';
    }
  }
  lcu__put(out, cap, len, &quote, 1);
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 14 && named[c] != NULL)
      lcu__put(out, cap, len, named[c], 2);
    else if (c < 32 || c == 0x7f) {
      snprintf(hex, sizeof(hex), "\\x%02X", c);
      lcu__put(out, cap, len, hex, 4);
    } else {
      if (c == (unsigned char)quote || c == '\\')
        lcu__put(out, cap, len, "\\", 1);
      lcu__put(out, cap, len, &s[i], 1);
    }
  }
  lcu__put(out, cap, len, &quote, 1);
}

/* Node's path form takes a string that Number() reads as a non-negative
 * number for a port, not a pipe name (isPipeName() and toNumber() in
 * lib/net.js): white space trimmed; decimal, hexadecimal, exponents,
 * "Infinity".  Returns 1, with *port the port or -1 when the number is no
 * valid port (not whole, above 65535, or a blank string), when `path` is
 * such a string; else 0: a pipe name. */
static inline int lcu_path_is_port(const char *path, size_t len, int *port) {
  static const char space[] = " \t\n\v\f\r";
  char buf[64], *end;
  size_t b, e;
  double d;

  if (len == 0 || len >= sizeof(buf) || memchr(path, '\0', len) != NULL)
    return 0; /* '' and names with a NUL (abstract) are pipe names */
  for (b = 0; b < len && strchr(space, path[b]) != NULL; b++)
    ;
  for (e = len; e > b && strchr(space, path[e - 1]) != NULL; e--)
    ;
  if (b == e) {
    *port = -1; /* Number(' ') is 0, but validatePort() refuses blanks */
    return 1;
  }
  memcpy(buf, path + b, e - b);
  buf[e - b] = '\0';
  if (strpbrk(buf, "nNpP") != NULL && strcmp(buf, "Infinity") != 0)
    return 0; /* strtod's "nan", "inf" and hex floats are no numbers */
  d = strtod(buf, &end);
  if (*end != '\0' || d != d || !(d >= 0))
    return 0;
  *port = (d <= 65535 && d == (double)(int)d) ? (int)d : -1;
  return 1;
}

/* ERR_SOCKET_BAD_PORT for a port given as a string: "options.port should be
 * >= 0 and < 65536. Received type string (' 65536 ')." */
static inline int lcu_throw_bad_port_string(lc_error_t *err, lcu_errbuf_t *b,
                                            const char *s, size_t n) {
  size_t len = 0;

  lcu__put(b->message, sizeof(b->message), &len,
           "options.port should be >= 0 and < 65536. Received type string (",
           63);
  lcu__inspect_str(b->message, sizeof(b->message), &len, s, n);
  lcu__put(b->message, sizeof(b->message), &len, ").", 2);
  return lcu_throw(err, "ERR_SOCKET_BAD_PORT", b->message);
}

/* ERR_INVALID_ARG_VALUE about the options object: "The argument 'options'
 * <reason>. Received <util.inspect(options)>", the object being what the
 * user passed as far as `a` says: the properties in `has`, written in
 * lc_listen_t's order (port, host, backlog, path, fd, exclusive, ipv6Only,
 * readableAll, writableAll, reusePort, signal; the ABI keeps no order, the
 * suite's scenarios write them in this one).  The handle form {fd} is such
 * an object too.  reason: "must have the property \"port\" or \"path\"",
 * "is invalid", ... */
static inline int lcu_throw_invalid_options(lc_error_t *err, lcu_errbuf_t *b,
                                            const char *reason,
                                            const lc_listen_t *a) {
  static const struct {
    uint32_t bit;
    const char *name;
  } flags[] = {{LC_HAS_EXCLUSIVE, "exclusive"},
               {LC_HAS_IPV6ONLY, "ipv6Only"},
               {LC_HAS_READABLEALL, "readableAll"},
               {LC_HAS_WRITABLEALL, "writableAll"},
               {LC_HAS_REUSEPORT, "reusePort"}};
  char entry[12][320], ins[136];
  size_t lens[12], n = 0, i, total, len;
  int32_t values[5];

  values[0] = a->exclusive;
  values[1] = a->ipv6_only;
  values[2] = a->readable_all;
  values[3] = a->writable_all;
  values[4] = a->reuse_port;
#define LCU__ENTRY(...)                                \
  do {                                                 \
    snprintf(entry[n], sizeof(entry[n]), __VA_ARGS__); \
    lens[n] = strlen(entry[n]);                        \
    n++;                                               \
  } while (0)
  if (a->has & LC_HAS_PORT)
    LCU__ENTRY("port: %d", (int)a->port);
  if ((a->has & LC_HAS_HOST) && a->host != NULL) {
    len = 0;
    lcu__put(entry[n], sizeof(entry[n]), &len, "host: ", 6);
    lcu__inspect_str(entry[n], sizeof(entry[n]), &len, a->host,
                     strlen(a->host));
    lens[n++] = len;
  }
  if (a->has & LC_HAS_BACKLOG)
    LCU__ENTRY("backlog: %d", (int)a->backlog);
  if ((a->has & LC_HAS_PATH) && a->path != NULL) {
    len = 0;
    lcu__put(entry[n], sizeof(entry[n]), &len, "path: ", 6);
    lcu__inspect_str(entry[n], sizeof(entry[n]), &len, a->path, a->path_len);
    lens[n++] = len;
  }
  if (a->form == LC_FORM_HANDLE || (a->has & LC_HAS_FD))
    LCU__ENTRY("fd: %d", (int)a->fd);
  for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
    if (a->has & flags[i].bit)
      LCU__ENTRY("%s: %s", flags[i].name, values[i] ? "true" : "false");
  if (a->has & LC_HAS_SIGNAL)
    LCU__ENTRY("signal: AbortSignal { aborted: false }");
#undef LCU__ENTRY

  /* util.js reduceToSingleString() (breakLength 128): one line when the
   * entries, a separator each and (entries + 11) fit, else one a line. */
  total = n + n + 11;
  for (i = 0; i < n; i++)
    total += lens[i];
  len = 0;
  if (n == 0)
    lcu__put(ins, sizeof(ins), &len, "{}", 2);
  for (i = 0; i < n; i++) {
    const char *head =
        total <= 128 ? (i ? ", " : "{ ") : (i ? ",\n  " : "{\n  ");
    lcu__put(ins, sizeof(ins), &len, head, strlen(head));
    lcu__put(ins, sizeof(ins), &len, entry[i], lens[i]);
  }
  if (n > 0)
    lcu__put(ins, sizeof(ins), &len, total <= 128 ? " }" : "\n}", 2);
  /* errors.js: an inspected value longer than 128 is cut there, '...' added */
  if (len > 128)
    memcpy(ins + 128, "...", 4);
  snprintf(b->message, sizeof(b->message),
           "The argument 'options' %s. Received %s", reason, ins);
  return lcu_throw(err, "ERR_INVALID_ARG_VALUE", b->message);
}

/* ======================================================================== */
/* 3. The tick queue: process.nextTick()                                    */

typedef struct lcu_tick_s lcu_tick_t;
/* A tick's callback.  It runs from lcu_ticks_run(); the tick is freed when
 * it returns. */
typedef void (*lcu_tick_fn)(lcu_tick_t *t);

struct lcu_tick_s {
  lcu_tick_t *next;
  lcu_tick_fn fn;
  void *owner;        /* the server it is for: lcu_ticks_drop() */
  int kind;           /* free for the shim (0 when pushed) */
  lcu_errbuf_t error; /* an 'error' to emit (err.port -1 when pushed) */
  max_align_t data[]; /* `extra` bytes for the shim, zeroed: lcu_tick_data */
};

/* FIFO.  A zero-initialised lcu_ticks_t (a static one) is an empty queue. */
typedef struct lcu_ticks_s {
  lcu_tick_t *head;
  lcu_tick_t **tail; /* NULL means &head */
} lcu_ticks_t;

/* Queue `fn` for `owner` with `extra` zeroed bytes of the shim's own
 * (lcu_tick_data).  Returns the tick, to fill in before the next
 * lcu_ticks_run(), or NULL when out of memory (nothing is queued).
 *
 * This is how listen(), close() and abort() defer what lc_shim.h forbids
 * them to report: 'listening' (MUST NOT be reported before listen()
 * returns), a bind/listen failure (MUST be an 'error' from run(), not a
 * throw) and 'close'.  A shim whose loop needs waking to run the queue (an
 * idle handle, event_active()) does so after pushing. */
static inline lcu_tick_t *lcu_tick_push(lcu_ticks_t *q, void *owner,
                                        lcu_tick_fn fn, size_t extra) {
  lcu_tick_t *t = calloc(1, sizeof(*t) + extra);
  if (!t)
    return NULL;
  t->fn = fn;
  t->owner = owner;
  t->error.err.port = -1;
  if (!q->tail)
    q->tail = &q->head;
  *q->tail = t;
  q->tail = &t->next;
  return t;
}

/* The `extra` bytes given to lcu_tick_push(), aligned for any type. */
static inline void *lcu_tick_data(lcu_tick_t *t) {
  return (void *)t->data;
}

/* 1 when ticks are queued. */
static inline int lcu_ticks_pending(const lcu_ticks_t *q) {
  return q->head != NULL;
}

/* Run the ticks queued so far, in the order queued, each callback once, and
 * free them.  Ticks that the callbacks queue wait for the next call, so a
 * run() cannot spin forever.  Returns the number of ticks run.
 *
 * The caller MUST call it from run() (or a loop callback run() drives):
 * the callbacks report events. */
static inline int lcu_ticks_run(lcu_ticks_t *q) {
  lcu_tick_t *t = q->head;
  int n = 0;
  q->head = NULL;
  q->tail = &q->head;
  while (t) {
    lcu_tick_t *next = t->next;
    if (t->fn)
      t->fn(t);
    free(t);
    n++;
    t = next;
  }
  return n;
}

/* Remove and free every queued tick of `owner`, running none, keeping the
 * order of the others.  server_free() MUST call it (lc_shim.h: the server's
 * events are not reported after it), and not from inside a tick callback. */
static inline void lcu_ticks_drop(lcu_ticks_t *q, void *owner) {
  lcu_tick_t **pp = &q->head;
  while (*pp) {
    lcu_tick_t *t = *pp;
    if (t->owner == owner) {
      *pp = t->next;
      free(t);
    } else {
      pp = &t->next;
    }
  }
  q->tail = pp;
}

#endif /* LC_SHIM_UTIL_H */
