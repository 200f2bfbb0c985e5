/* signal.c — options.signal, as lib/net.js addServerAbortSignalOption():
 *
 *   if (signal.aborted) process.nextTick(onAborted);
 *   else {
 *     const disposable = addAbortListener(signal, onAborted);
 *     self.once('close', disposable[SymbolDispose]);
 *   }
 *
 * with onAborted = () => self.close().  A signal keeps one entry per watch
 * (a server that listens twice with one signal is closed twice, as in Node);
 * each entry has a matching once('close') dispose listener on the server.
 */
#include <stdlib.h>
#include <string.h>

#include "lcr-internal.h"

struct lcr_signal_s {
  int aborted;
  lcr_server_t **servers;
  int n;
  int cap;
};

lcr_signal_t *lcr_signal_new(void) {
  return calloc(1, sizeof(lcr_signal_t));
}

int lcr_signal_aborted(const lcr_signal_t *signal) {
  return signal->aborted;
}

int lcr__signal_watch(lcr_server_t *s, lcr_signal_t *signal) {
  lcr_server_t **v;
  int cap;
  int err;

  if (signal->aborted)
    return lcr__tick(s, LCR__TICK_ABORT, NULL);

  if (signal->n == signal->cap) {
    cap = signal->cap != 0 ? signal->cap * 2 : 4;
    v = realloc(signal->servers, (size_t)cap * sizeof(*v));
    if (v == NULL)
      return UV_ENOMEM;
    signal->servers = v;
    signal->cap = cap;
  }

  err = lcr__listener_add(s, LCR_EV_CLOSE, 1, LCR__LISTENER_SIGNAL_DISPOSE,
                          NULL, NULL, signal);
  if (err != 0)
    return err;
  signal->servers[signal->n++] = s;
  return 0;
}

void lcr__signal_unwatch(lcr_signal_t *signal, lcr_server_t *s) {
  int i;

  for (i = 0; i < signal->n; i++) {
    if (signal->servers[i] == s) {
      memmove(&signal->servers[i], &signal->servers[i + 1],
              (size_t)(signal->n - i - 1) * sizeof(signal->servers[0]));
      signal->n--;
      return;
    }
  }
}

/* Forget every watch of `s` (the server is being freed). */
static void forget_server(lcr_signal_t *signal, lcr_server_t *s) {
  int i;

  for (i = 0; i < signal->n;) {
    if (signal->servers[i] == s) {
      lcr__signal_unwatch(signal, s);
      continue;
    }
    i++;
  }
}

void lcr_signal_abort(lcr_signal_t *signal) {
  lcr_server_t **servers;
  int i, n;

  if (signal->aborted)
    return;
  signal->aborted = 1;

  /* The abort listeners are removed once they ran, so drop the servers'
   * dispose listeners too: nothing may point at the signal afterwards. */
  servers = signal->servers;
  n = signal->n;
  signal->servers = NULL;
  signal->n = 0;
  signal->cap = 0;

  for (i = 0; i < n; i++)
    lcr__listener_remove_signal(servers[i], signal);
  /* 'abort' listeners run synchronously inside abort(): server.close(). */
  for (i = 0; i < n; i++)
    lcr_server_close(servers[i], NULL, NULL);

  free(servers);
}

void lcr_signal_free(lcr_signal_t *signal) {
  int i;

  if (signal == NULL)
    return;
  for (i = 0; i < signal->n; i++)
    lcr__listener_remove_signal(signal->servers[i], signal);
  free(signal->servers);
  free(signal);
}

void lcr__signal_forget_server(lcr_server_t *s) {
  lcr__listeners_t *l;
  lcr_signal_t *signal;
  int i;

  l = &s->listeners[LCR_EV_CLOSE];
  for (i = 0; i < l->n; i++) {
    if (l->v[i].kind == LCR__LISTENER_SIGNAL_DISPOSE) {
      signal = l->v[i].signal;
      forget_server(signal, s);
      lcr__listener_remove_signal(s, signal);
      i = -1; /* the list changed: start again */
    }
  }
}
