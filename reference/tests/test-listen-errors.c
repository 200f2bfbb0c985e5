/* test-listen-errors.c — bind/listen failures: asynchronous 'error' with
 * Node's fields, and listening again after one. */
#include <errno.h>

#include "helpers.h"

TestSuite(listen_errors, .init = t_setup, .fini = t_teardown, .timeout = 20);

Test(listen_errors, eaddrinuse_fields) {
  lcr_server_t *s = t_server(NULL);
  lcr_error_t err;
  int occ, port;

  occ = t_tcp_socket(AF_INET, "127.0.0.1", 0, 1);
  port = t_local_port(occ);

  cr_assert(
      eq(int, lcr_listen_port(s, port, "127.0.0.1", t_call, "cb", &err), 0));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit error EADDRINUSE");
  cr_assert(eq(str, (char *)t_last_error.syscall, "listen"));
  cr_assert(eq(int, t_last_error.errnum, -EADDRINUSE));
  cr_assert(eq(str, (char *)t_last_error.address, "127.0.0.1"));
  cr_assert(eq(int, t_last_error.port, port));
  cr_assert(eq(int, lcr_server_listening(s), 0));

  /* L-RELISTEN: allowed after an error; the first callback is still a
   * 'listening' listener and runs now, before the second one. */
  close(occ);
  cr_assert(
      eq(int, lcr_listen_port(s, port, "127.0.0.1", t_call, "cb2", &err), 0));
  t_run_until(4, 2000);
  T_EXPECT(1, "emit listening", "call cb", "call cb2");
  lcr_server_free(s);
}

Test(listen_errors, eaddrinuse_default_host) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT);
  lcr_error_t err;
  int occ, port;

  occ = t_tcp_socket(AF_INET6, "::", 0, 1);
  port = t_local_port(occ);
  a.has = LCR_HAS_PORT;
  a.port = port;
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  /* The handle is gone at once: not listening, and listen() is allowed
   * again even before the 'error' is emitted. */
  cr_assert(eq(int, lcr_server_listening(s), 0));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit error EADDRINUSE");
  cr_assert(eq(str, (char *)t_last_error.address, "::"));
  cr_assert(eq(int, t_last_error.port, port));
  cr_assert(eq(int,
               strncmp(t_last_error.message,
                       "listen EADDRINUSE: address already in use :::", 44),
               0));
  close(occ);
  lcr_server_free(s);
}

Test(listen_errors, retry_reading_a_close_then_listen) {
  lcr_server_t *s = t_server(NULL);
  lcr_error_t err;
  int occ, port;

  occ = t_tcp_socket(AF_INET, "127.0.0.1", 0, 1);
  port = t_local_port(occ);
  lcr_listen_port(s, port, "127.0.0.1", NULL, NULL, &err);
  t_run_until(1, 2000);
  close(occ);
  /* server.close(); server.listen(PORT, HOST): close emits 'close' even
   * though nothing was listening. */
  t_close(s, "C1");
  cr_assert(
      eq(int, lcr_listen_port(s, port, "127.0.0.1", NULL, NULL, &err), 0));
  t_run_until(4, 2000);
  T_EXPECT(0, "emit error EADDRINUSE", "emit close",
           "call C1 ERR_SERVER_NOT_RUNNING", "emit listening");
  lcr_server_free(s);
}

Test(listen_errors, dns_failure) {
  lcr_server_t *s = t_server(NULL);
  lcr_error_t err;

  cr_assert(eq(
      int, lcr_listen_port(s, 0, "nonexistent.invalid", NULL, NULL, &err), 0));
  t_run_until(1, 10000);
  cr_assert(eq(int, t_nlog, 1));
  cr_assert(eq(str, (char *)t_last_error.syscall, "getaddrinfo"));
  /* ENOTFOUND where resolving is possible; EAI_AGAIN offline */
  cr_assert(eq(int,
               strcmp(t_last_error.code, "ENOTFOUND") == 0 ||
                   strcmp(t_last_error.code, "EAI_AGAIN") == 0,
               1),
            "code %s", t_last_error.code);
  lcr_server_free(s);
}
