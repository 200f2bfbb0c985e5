/* emitter.c — the part of Node's EventEmitter a net.Server uses.
 *
 * EventEmitter.prototype.emit() calls a copy of the listener array
 * (arrayClone in lib/events.js), so a listener added during an emission
 * runs from the next one; a once() wrapper removes itself before it calls
 * the function (_onceWrap).  Both rules are kept here.
 */
#include <stdlib.h>
#include <string.h>

#include "lcr-internal.h"

static const char *const event_names[LCR_EV_COUNT_] = {"listening", "error",
                                                       "close", "connection"};

const char *lcr_event_name(lcr_event_t ev) {
  if ((int)ev < 0 || ev >= LCR_EV_COUNT_)
    return NULL;
  return event_names[ev];
}

int lcr_event_from_name(const char *name) {
  int i;

  if (name == NULL)
    return -1;
  for (i = 0; i < LCR_EV_COUNT_; i++)
    if (strcmp(name, event_names[i]) == 0)
      return i;
  return -1;
}

int lcr__listener_add(lcr_server_t *s, lcr_event_t ev, int once,
                      lcr__listener_kind_t kind, lcr_listener_cb cb, void *data,
                      lcr_signal_t *signal) {
  lcr__listeners_t *l;
  lcr__listener_t *v;
  int cap;

  if ((int)ev < 0 || ev >= LCR_EV_COUNT_)
    return UV_EINVAL;

  l = &s->listeners[ev];
  if (l->n == l->cap) {
    cap = l->cap != 0 ? l->cap * 2 : 4;
    v = realloc(l->v, (size_t)cap * sizeof(*v));
    if (v == NULL)
      return UV_ENOMEM;
    l->v = v;
    l->cap = cap;
  }

  v = &l->v[l->n++];
  v->id = ++s->next_listener_id;
  v->once = once;
  v->kind = kind;
  v->cb = cb;
  v->data = data;
  v->signal = signal;
  return 0;
}

static void remove_at(lcr__listeners_t *l, int i) {
  memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(l->v[0]));
  l->n--;
}

/* Remove the listener with this id; 0 when it was already gone. */
static int remove_id(lcr__listeners_t *l, unsigned int id) {
  int i;

  for (i = 0; i < l->n; i++) {
    if (l->v[i].id == id) {
      remove_at(l, i);
      return 1;
    }
  }
  return 0;
}

void lcr__listener_remove_signal(lcr_server_t *s, lcr_signal_t *signal) {
  lcr__listeners_t *l;
  int i;

  l = &s->listeners[LCR_EV_CLOSE];
  for (i = 0; i < l->n;) {
    if (l->v[i].kind == LCR__LISTENER_SIGNAL_DISPOSE &&
        l->v[i].signal == signal) {
      remove_at(l, i);
      continue;
    }
    i++;
  }
}

int lcr_server_on(lcr_server_t *server, lcr_event_t ev, lcr_listener_cb cb,
                  void *data) {
  if (cb == NULL)
    return UV_EINVAL;
  return lcr__listener_add(server, ev, 0, LCR__LISTENER_USER, cb, data, NULL);
}

int lcr_server_once(lcr_server_t *server, lcr_event_t ev, lcr_listener_cb cb,
                    void *data) {
  if (cb == NULL)
    return UV_EINVAL;
  return lcr__listener_add(server, ev, 1, LCR__LISTENER_USER, cb, data, NULL);
}

void lcr_server_set_observer(lcr_server_t *server, lcr_observer_cb cb,
                             void *data) {
  server->observer = cb;
  server->observer_data = data;
}

void lcr__emit(lcr_server_t *s, lcr_event_t ev, const lcr_error_t *err,
               uv_stream_t *connection) {
  static const lcr_error_t not_running_template = {
      "ERR_SERVER_NOT_RUNNING", 0, NULL, NULL, -1, NULL, NULL, {0}};
  lcr__listeners_t *l;
  lcr__listener_t *copy;
  lcr_error_t not_running;
  lcr_emit_t emit;
  int i, n;

  if (s->freed)
    return;

  emit.event = ev;
  emit.error = err;
  emit.connection = connection;

  /* A listener may call lcr_server_free(): keep the memory until we are
   * done walking, and stop calling listeners of a freed server. */
  lcr__server_ref(s);

  if (s->observer != NULL)
    s->observer(s, &emit, s->observer_data);

  l = &s->listeners[ev];
  n = l->n;
  copy = NULL;
  if (n > 0) {
    copy = malloc((size_t)n * sizeof(*copy));
    if (copy == NULL)
      n = 0; /* out of memory: nothing sensible to call */
    else
      memcpy(copy, l->v, (size_t)n * sizeof(*copy));
  }

  for (i = 0; i < n && !s->freed; i++) {
    if (copy[i].once && !remove_id(&s->listeners[ev], copy[i].id))
      continue; /* a once listener already consumed */

    switch (copy[i].kind) {
    case LCR__LISTENER_USER: copy[i].cb(s, &emit, copy[i].data); break;
    case LCR__LISTENER_NOT_RUNNING: {
      /* net.js close(): cb(new ERR_SERVER_NOT_RUNNING()) from a 'close'
       * listener. */
      lcr_emit_t e2 = emit;
      not_running = not_running_template;
      not_running.message = "Server is not running.";
      e2.error = &not_running;
      copy[i].cb(s, &e2, copy[i].data);
      break;
    }
    case LCR__LISTENER_SIGNAL_DISPOSE:
      lcr__signal_unwatch(copy[i].signal, s);
      break;
    }
  }

  free(copy);
  lcr__server_unref(s);
}
