/* lc-bench-server: the reference listener accepting and closing, for make bench.
 *
 * The C spelling of the Node.js server it is compared with:
 *   net.createServer(c => c.destroy()).listen(0, '127.0.0.1', () => print port)
 * The reference closes each accepted connection right after 'connection'.
 * Prints "port N" once listening; runs until SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdio.h>

#include "lcref.h"

static uv_signal_t sig_term, sig_int;

static void on_listening(lcr_server_t *server, const lcr_emit_t *emit,
                         void *data) {
  lcr_address_t a;
  (void)emit;
  (void)data;
  if (lcr_server_address(server, &a) == 0 && a.kind == LCR_ADDRESS_INET)
    printf("port %d\n", a.port);
  fflush(stdout);
}

static void on_error(lcr_server_t *server, const lcr_emit_t *emit, void *data) {
  (void)server;
  (void)data;
  fprintf(stderr, "lc-bench-server: %s\n", emit->error->message);
  uv_stop(((lcr_loop_t *)uv_handle_get_data((uv_handle_t *)&sig_term))->uv);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  uv_stop(h->loop);
}

int main(void) {
  uv_loop_t uv;
  lcr_loop_t loop;
  lcr_error_t err;
  lcr_server_t *server;

  if (uv_loop_init(&uv) != 0 || lcr_loop_init(&loop, &uv) != 0)
    return 1;
  server = lcr_server_new(&loop);
  if (server == NULL)
    return 1;
  uv_signal_init(&uv, &sig_term);
  uv_signal_init(&uv, &sig_int);
  uv_handle_set_data((uv_handle_t *)&sig_term, &loop);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  lcr_server_on(server, LCR_EV_ERROR, on_error, NULL);
  if (lcr_listen_port(server, 0, "127.0.0.1", on_listening, NULL, &err) != 0) {
    fprintf(stderr, "lc-bench-server: listen: %s\n", err.message);
    return 1;
  }
  uv_run(&uv, UV_RUN_DEFAULT);
  return 0;
}
