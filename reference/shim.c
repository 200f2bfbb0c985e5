/* shim.c — harness/include/lc_shim.h on top of lcref: the reference shim
 * (build/lib/lc-shim-reference.so).
 *
 * One uv loop per process (the host runs one scenario per process), one
 * lcr_loop_t on it, and one lc_server_t per lcr_server_t.  Emissions are
 * reported by the server's observer, listener invocations by the listener
 * itself, so the host sees "emit X" before the "call L" lines of X.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lc_shim.h"
#include "lcref.h"

/* Does the struct the host gave us (with its own `size`) reach `member`? */
#define LC_HAS_MEMBER(p, type, member) \
  ((p)->size >= offsetof(type, member) + sizeof(((type *)0)->member))

typedef struct label_s {
  struct label_s *next;
  lc_server_t *owner;
  char text[];
} label_t;

struct lc_server_s {
  lcr_server_t *srv;
  void *tag;
  lcr_signal_t *signal; /* options.signal; reused by every listen() that
                            passes one, like the scenario's AbortSignal */
  int last_had_signal;
  label_t *labels;
};

static const lc_host_t *host;
static uv_loop_t uv;
static uv_timer_t run_timer;
static lcr_loop_t loop;
static int initialized;
static int events_reported;
static int timed_out;
static lcr_error_t sync_error; /* strings of a synchronous error outlive the
                                  call that returns it, until the next one */

/* ------------------------------------------------------------------------ */
/* Reporting                                                                 */

static void to_lc_error(const lcr_error_t *in, lc_error_t *out) {
  out->code = in->code;
  out->errnum = in->errnum;
  out->syscall = in->syscall;
  out->address = in->address;
  out->port = in->port;
  out->message = in->message;
}

static void report(lc_server_t *ss, lc_event_type_t type, lcr_event_t ev,
                   const char *label, const lcr_error_t *err) {
  lc_error_t e;
  lc_event_t out;

  memset(&out, 0, sizeof(out));
  out.size = sizeof(out);
  out.type = type;
  out.tag = ss->tag;
  out.name = lcr_event_name(ev);
  out.label = label;
  if (err != NULL) {
    to_lc_error(err, &e);
    out.error = &e;
  }
  events_reported++;
  if (host != NULL && host->event != NULL)
    host->event(host->host_ctx, &out);
}

static void on_emit(lcr_server_t *srv, const lcr_emit_t *emit, void *data) {
  (void)srv;
  report(data, LC_EVENT_EMIT, emit->event, NULL, emit->error);
}

static void on_call(lcr_server_t *srv, const lcr_emit_t *emit, void *data) {
  label_t *l;

  (void)srv;
  l = data;
  report(l->owner, LC_EVENT_CALL, emit->event, l->text, emit->error);
}

static label_t *label_new(lc_server_t *ss, const char *text) {
  label_t *l;
  size_t n;

  if (text == NULL)
    text = "";
  n = strlen(text);
  l = malloc(sizeof(*l) + n + 1);
  if (l == NULL)
    return NULL;
  memcpy(l->text, text, n + 1);
  l->owner = ss;
  l->next = ss->labels;
  ss->labels = l;
  return l;
}

static int fail(lc_error_t *err, const char *code, int errnum) {
  memset(&sync_error, 0, sizeof(sync_error));
  sync_error.code = code;
  sync_error.errnum = errnum;
  sync_error.port = -1;
  sync_error.message = code;
  if (err != NULL)
    to_lc_error(&sync_error, err);
  return -1;
}

/* ------------------------------------------------------------------------ */
/* The descriptor's functions                                                */

static void on_run_timer(uv_timer_t *t) {
  timed_out = 1;
  /* libuv 1.44's UV_RUN_ONCE runs due timers both before and after its
   * poll: a timer that fires in the first pass would otherwise leave the
   * poll that follows to block with no timeout at all (nothing else armed,
   * a listening handle keeping the loop alive).  uv_stop() makes that poll
   * non-blocking; uv_run() clears the flag when it returns. */
  uv_stop(t->loop);
}

static int shim_init(const lc_host_t *h) {
  int err;

  if (initialized)
    return 0;
  host = h;
  err = uv_loop_init(&uv);
  if (err != 0)
    return err;
  err = lcr_loop_init(&loop, &uv);
  if (err != 0)
    return err;
  /* ABI 1.1: the Node.js release to behave as; a 1.0 host's struct ends
   * before it, and 0.0.0 (none given) is the newest, lcr_loop_init()'s. */
  if (LC_HAS_MEMBER(h, lc_host_t, node_patch))
    lcr_loop_set_node_version(&loop, h->node_major, h->node_minor,
                              h->node_patch);
  err = uv_timer_init(&uv, &run_timer);
  if (err != 0)
    return err;
  initialized = 1;
  return 0;
}

static lc_server_t *shim_server_new(void *tag) {
  lc_server_t *ss;

  if (!initialized)
    return NULL;
  ss = calloc(1, sizeof(*ss));
  if (ss == NULL)
    return NULL;
  ss->srv = lcr_server_new(&loop);
  if (ss->srv == NULL) {
    free(ss);
    return NULL;
  }
  ss->tag = tag;
  lcr_server_set_observer(ss->srv, on_emit, ss);
  return ss;
}

static int shim_on(lc_server_t *ss, const char *event, const char *label) {
  label_t *l;
  int ev;

  ev = lcr_event_from_name(event);
  if (ev < 0)
    return UV_EINVAL;
  l = label_new(ss, label);
  if (l == NULL)
    return UV_ENOMEM;
  return lcr_server_on(ss->srv, (lcr_event_t)ev, on_call, l);
}

static int shim_listen(lc_server_t *ss, const lc_listen_t *args,
                       lc_error_t *err) {
  lcr_listen_t a;
  label_t *l;
  uint32_t has;
  int r;

  if (args == NULL || !LC_HAS_MEMBER(args, lc_listen_t, has))
    return fail(err, "ERR_INVALID_ARG_VALUE", 0);

  memset(&a, 0, sizeof(a));
  a.fd = -1;
  a.form = (lcr_form_t)args->form;
  has = args->has;

#define TAKE(bit, member, dst)                                     \
  do {                                                             \
    if ((has & (bit)) && LC_HAS_MEMBER(args, lc_listen_t, member)) \
      dst = args->member;                                          \
    else                                                           \
      has &= ~(uint32_t)(bit);                                     \
  } while (0)

  TAKE(LC_HAS_PORT, port, a.port);
  TAKE(LC_HAS_HOST, host, a.host);
  TAKE(LC_HAS_BACKLOG, backlog, a.backlog);
  TAKE(LC_HAS_PATH, path, a.path);
  TAKE(LC_HAS_PATH, path_len, a.path_len);
  TAKE(LC_HAS_FD, fd, a.fd);
  TAKE(LC_HAS_EXCLUSIVE, exclusive, a.exclusive);
  TAKE(LC_HAS_IPV6ONLY, ipv6_only, a.ipv6_only);
  TAKE(LC_HAS_READABLEALL, readable_all, a.readable_all);
  TAKE(LC_HAS_WRITABLEALL, writable_all, a.writable_all);
  TAKE(LC_HAS_REUSEPORT, reuse_port, a.reuse_port);
#undef TAKE

  if (has & LC_HAS_PORT)
    a.has |= LCR_HAS_PORT;
  if (has & LC_HAS_HOST)
    a.has |= LCR_HAS_HOST;
  if (has & LC_HAS_BACKLOG)
    a.has |= LCR_HAS_BACKLOG;
  if (has & LC_HAS_PATH)
    a.has |= LCR_HAS_PATH;
  if (has & LC_HAS_FD)
    a.has |= LCR_HAS_FD;
  if (has & LC_HAS_EXCLUSIVE)
    a.has |= LCR_HAS_EXCLUSIVE;
  if (has & LC_HAS_IPV6ONLY)
    a.has |= LCR_HAS_IPV6ONLY;
  if (has & LC_HAS_READABLEALL)
    a.has |= LCR_HAS_READABLEALL;
  if (has & LC_HAS_WRITABLEALL)
    a.has |= LCR_HAS_WRITABLEALL;
  if (has & LC_HAS_REUSEPORT)
    a.has |= LCR_HAS_REUSEPORT;
  /* A path form carries its path whether or not the host set the bit. */
  if (a.form == LCR_FORM_PATH && a.path == NULL &&
      LC_HAS_MEMBER(args, lc_listen_t, path_len)) {
    a.path = args->path;
    a.path_len = args->path_len;
  }
  if (a.form == LCR_FORM_HANDLE && !(has & LC_HAS_FD) &&
      LC_HAS_MEMBER(args, lc_listen_t, fd))
    a.fd = args->fd;

  if (has & LC_HAS_SIGNAL) {
    if (ss->signal == NULL) {
      ss->signal = lcr_signal_new();
      if (ss->signal == NULL)
        return fail(err, "ENOMEM", UV_ENOMEM);
    }
    a.signal = ss->signal;
  }

  if ((has & LC_HAS_CALLBACK) &&
      LC_HAS_MEMBER(args, lc_listen_t, callback_label)) {
    l = label_new(ss, args->callback_label);
    if (l == NULL)
      return fail(err, "ENOMEM", UV_ENOMEM);
    a.callback = on_call;
    a.callback_data = l;
  }

  /* Set before the call: Node watches options.signal before it validates
   * the other arguments, so even a listen() that throws can be aborted. */
  ss->last_had_signal = a.signal != NULL;
  r = lcr_listen(ss->srv, &a, &sync_error);
  if (r != 0) {
    if (err != NULL)
      to_lc_error(&sync_error, err);
    return -1;
  }
  return 0;
}

static int shim_close(lc_server_t *ss, const char *callback_label,
                      lc_error_t *err) {
  label_t *l;

  (void)err;
  if (callback_label == NULL)
    return lcr_server_close(ss->srv, NULL, NULL);
  l = label_new(ss, callback_label);
  if (l == NULL)
    return fail(err, "ENOMEM", UV_ENOMEM);
  return lcr_server_close(ss->srv, on_call, l);
}

static int shim_address(lc_server_t *ss, lc_address_t *out) {
  lcr_address_t a;
  lc_address_t tmp;
  uint32_t size;
  int r;

  r = lcr_server_address(ss->srv, &a);
  memset(&tmp, 0, sizeof(tmp));
  tmp.kind = LC_ADDRESS_NULL;
  tmp.port = -1;
  if (r == 0 && a.kind == LCR_ADDRESS_INET) {
    tmp.kind = LC_ADDRESS_INET;
    memcpy(tmp.family, a.family, sizeof(tmp.family));
    memcpy(tmp.address, a.address, sizeof(tmp.address));
    tmp.port = a.port;
  } else if (r == 0 && a.kind == LCR_ADDRESS_PIPE) {
    tmp.kind = LC_ADDRESS_PIPE;
    memcpy(tmp.path, a.path, sizeof(tmp.path));
    tmp.path_len = a.path_len;
  }

  /* Write no further than the host's struct reaches. */
  size = out->size;
  tmp.size = size;
  memcpy(out, &tmp, size < sizeof(tmp) ? size : sizeof(tmp));
  return 0;
}

static int shim_listening(lc_server_t *ss) {
  return lcr_server_listening(ss->srv);
}

static int shim_abort(lc_server_t *ss) {
  if (!ss->last_had_signal || ss->signal == NULL)
    return -1;
  lcr_signal_abort(ss->signal);
  return 0;
}

static int shim_fd(lc_server_t *ss) {
  return lcr_server_fd(ss->srv);
}

static int shim_run(int timeout_ms) {
  int start;
  int i;

  if (!initialized)
    return UV_EINVAL;
  start = events_reported;

  if (timeout_ms <= 0) {
    /* Only what is due: one non-blocking turn, plus the turns that ticks
     * queued by it need (a close callback queues 'close'). */
    uv_run(&uv, UV_RUN_NOWAIT);
    for (i = 0; i < 8 && lcr_loop_pending(&loop) > 0; i++)
      uv_run(&uv, UV_RUN_NOWAIT);
    return events_reported - start;
  }

  timed_out = 0;
  /* The loop's cached time is as old as its last turn: count from now. */
  uv_update_time(&uv);
  uv_timer_start(&run_timer, on_run_timer, (uint64_t)timeout_ms, 0);
  while (events_reported == start && !timed_out)
    uv_run(&uv, UV_RUN_ONCE);
  uv_timer_stop(&run_timer);
  return events_reported - start;
}

static int shim_hold_connections(lc_server_t *ss) {
  return lcr_server_hold_connections(ss->srv, 1);
}

static void shim_server_free(lc_server_t *ss) {
  label_t *l;

  if (ss == NULL)
    return;
  /* The server first: it drops its watch of the signal and, being freed,
   * calls no listener again, so the labels can go too. */
  lcr_server_free(ss->srv);
  lcr_signal_free(ss->signal);
  while ((l = ss->labels) != NULL) {
    ss->labels = l->next;
    free(l);
  }
  free(ss);
}

/* The descriptor, as ABI 1.2 and as 1.0 (1.1 added nothing to it; a 1.0
 * or 1.1 host reads nothing past server_free). */
#define DESCRIPTOR(abi, hold)                                            \
  {                                                                      \
    (abi), sizeof(lc_shim_t), "reference", "0.1.0", shim_init,           \
        shim_server_new, shim_on, shim_listen, shim_close, shim_address, \
        shim_listening, shim_abort, shim_fd, shim_run, shim_server_free, \
        (hold)                                                           \
  }
static const lc_shim_t descriptor =
    DESCRIPTOR(LC_ABI_VERSION, shim_hold_connections);
static const lc_shim_t descriptor_1_0 = DESCRIPTOR(1u << 16, NULL);

LC_SHIM_EXPORT const lc_shim_t *lc_shim_entry(uint32_t offered_abi_version) {
  /* We speak 1.2, and 1.0 to a 1.0 or 1.1 host (init() reads the 1.1
   * members of lc_host_t only when its size covers them, and such a host
   * has no hold_connections).  A host older than 1.0 is refused; one of a
   * later major gets 1.2 and decides itself. */
  if (offered_abi_version < (1u << 16))
    return NULL;
  if (offered_abi_version < LC_ABI_VERSION)
    return &descriptor_1_0;
  return &descriptor;
}
