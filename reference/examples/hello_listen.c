/* hello_listen.c — lcref as a library: the C spelling of
 *
 *   const server = net.createServer();
 *   server.on('error', (e) => { console.error(e.message); });
 *   server.listen(port, host, () => {
 *     console.log('listening on', server.address());
 *     server.close(() => console.log('closed'));
 *   });
 *
 * usage: lc_example_hello [port [host]]     (defaults: 0, all addresses)
 */
#include <stdio.h>
#include <stdlib.h>

#include "lcref.h"

static void on_error(lcr_server_t *server, const lcr_emit_t *emit, void *data) {
  (void)server;
  (void)data;
  fprintf(stderr, "error: %s (%s)\n", emit->error->message, emit->error->code);
}

static void on_closed(lcr_server_t *server, const lcr_emit_t *emit,
                      void *data) {
  (void)server;
  (void)data;
  if (emit->error != NULL)
    printf("close: %s\n", emit->error->code);
  else
    printf("closed\n");
}

static void on_listening(lcr_server_t *server, const lcr_emit_t *emit,
                         void *data) {
  lcr_address_t a;

  (void)emit;
  (void)data;
  if (lcr_server_address(server, &a) == 0 && a.kind == LCR_ADDRESS_INET)
    printf("listening on %s port %d (%s)\n", a.address, a.port, a.family);
  lcr_server_close(server, on_closed, NULL);
}

int main(int argc, char **argv) {
  lcr_server_t *server;
  lcr_error_t err;
  lcr_loop_t loop;
  uv_loop_t uv;
  int port;
  int rc;

  port = argc > 1 ? atoi(argv[1]) : 0;

  if (uv_loop_init(&uv) != 0 || lcr_loop_init(&loop, &uv) != 0)
    return 1;

  rc = 0;
  server = lcr_server_new(&loop);
  if (server == NULL)
    return 1;
  lcr_server_on(server, LCR_EV_ERROR, on_error, NULL);

  /* Like server.listen(), a bad argument is refused at once; a port in use
   * is an 'error' event later. */
  if (lcr_listen_port(server, port, argc > 2 ? argv[2] : NULL, on_listening,
                      NULL, &err) != 0) {
    fprintf(stderr, "listen: %s: %s\n", err.code, err.message);
    rc = 1;
  }

  uv_run(&uv, UV_RUN_DEFAULT);

  lcr_server_free(server);
  lcr_loop_close(&loop);
  uv_run(&uv, UV_RUN_DEFAULT); /* let the close callbacks run */
  if (uv_loop_close(&uv) != 0)
    rc = 1;
  return rc;
}
