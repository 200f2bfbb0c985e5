/* loop.c — Node's process.nextTick() queue on a uv loop.
 *
 * Node emits 'listening', 'close' and listen-time 'error' with
 * process.nextTick() (lib/net.js emitListeningNT, emitCloseNT, emitErrorNT),
 * and the order of those ticks across servers is observable: it is one FIFO
 * per process.  One uv_idle_t per lcr_loop_t drains one FIFO: an active
 * idle handle also keeps uv_run() from blocking in poll while ticks wait.
 * (One idle handle per server would not do: libuv runs idle handles newest
 * first, src/unix/loop-watcher.c inserts at the head.)
 *
 * A tick carries its own callbacks (run, and discard for a tick dropped
 * unrun): the queue knows nothing of the work it schedules.
 */
#include <stdlib.h>

#include "lcr-internal.h"

static void on_idle(uv_idle_t *idle) {
  lcr_loop_t *loop;
  lcr_tick_t *t;

  loop = idle->data;

  /* Like Node's processTicksAndRejections(), keep going until the queue is
   * empty, ticks queued by listeners included. */
  while ((t = loop->head) != NULL) {
    loop->head = t->next;
    if (loop->head == NULL)
      loop->tail = NULL;
    t->run(t);
    free(t);
  }

  uv_idle_stop(&loop->idle);
}

int lcr_loop_init(lcr_loop_t *loop, uv_loop_t *uv) {
  int err;

  loop->uv = uv;
  loop->head = NULL;
  loop->tail = NULL;
  lcr_loop_set_node_version(loop, 0, 0, 0); /* the newest */
  err = uv_idle_init(uv, &loop->idle);
  if (err != 0)
    return err;
  loop->idle.data = loop;
  return 0;
}

void lcr_loop_close(lcr_loop_t *loop) {
  lcr_tick_t *t;

  /* Servers cancel their ticks when freed; anything left has no owner. */
  while ((t = loop->head) != NULL) {
    loop->head = t->next;
    if (t->discard != NULL)
      t->discard(t);
    free(t);
  }
  loop->tail = NULL;
  uv_close((uv_handle_t *)&loop->idle, NULL);
}

int lcr_loop_pending(const lcr_loop_t *loop) {
  const lcr_tick_t *t;
  int n;

  n = 0;
  for (t = loop->head; t != NULL; t = t->next)
    n++;
  return n;
}

int lcr__next_tick(lcr_server_t *server, lcr__tick_cb run, lcr__tick_cb discard,
                   int kind, void *data) {
  lcr_loop_t *loop;
  lcr_tick_t *t;

  t = calloc(1, sizeof(*t));
  if (t == NULL)
    return UV_ENOMEM;
  t->run = run;
  t->discard = discard;
  t->server = server;
  t->kind = kind;
  t->data = data;

  loop = server->loop;
  if (loop->tail != NULL)
    loop->tail->next = t;
  else
    loop->head = t;
  loop->tail = t;

  return uv_idle_start(&loop->idle, on_idle);
}

void lcr__tick_cancel(lcr_loop_t *loop, lcr_server_t *server) {
  lcr_tick_t **pp;
  lcr_tick_t *t;

  loop->tail = NULL;
  pp = &loop->head;
  while ((t = *pp) != NULL) {
    if (t->server == server) {
      *pp = t->next;
      if (t->discard != NULL)
        t->discard(t);
      free(t);
      continue;
    }
    loop->tail = t;
    pp = &t->next;
  }
}
