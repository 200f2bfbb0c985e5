/* test-listen-validate.c — what listen() throws synchronously. */
#include "helpers.h"

TestSuite(listen_validate, .init = t_setup, .fini = t_teardown, .timeout = 20);

Test(listen_validate, bad_port_keeps_callback) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT);
  lcr_error_t err;

  a.has = LCR_HAS_PORT;
  a.port = 65536;
  a.callback = t_call;
  a.callback_data = "cb";
  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_SOCKET_BAD_PORT"));
  cr_assert(eq(str, (char *)err.message,
               "options.port should be >= 0 and < 65536. "
               "Received type number (65536)."));
  a.port = -1;
  a.callback_data = "cb2";
  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_SOCKET_BAD_PORT"));
  cr_assert(eq(int, lcr_server_listening(s), 0));

  /* Node adds cb with once('listening') before validating: both run on
   * the next successful listen. */
  a.port = 0;
  a.callback_data = "cb3";
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(4, 2000);
  T_EXPECT(0, "emit listening", "call cb", "call cb2", "call cb3");
  lcr_server_free(s);
}

Test(listen_validate, options_without_port_or_path) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_OPTIONS);
  lcr_error_t err;

  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_INVALID_ARG_VALUE"));
  a.has = LCR_HAS_PATH; /* { path: '' } */
  a.path = "";
  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_INVALID_ARG_VALUE"));
  a = t_args(LCR_FORM_HANDLE); /* { fd: -1 } */
  a.has = LCR_HAS_FD;
  a.fd = -1;
  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_INVALID_ARG_VALUE"));
  t_settle();
  cr_assert(eq(int, t_nlog, 0));
  lcr_server_free(s);
}

Test(listen_validate, path_strings_that_are_ports) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PATH);
  lcr_address_t addr;
  lcr_error_t err;

  a.path = ""; /* listen(''): a port, and a bad one */
  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_SOCKET_BAD_PORT"));
  a.path = "0"; /* listen('0'): TCP on an ephemeral port */
  a.path_len = 1;
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  lcr_server_address(s, &addr);
  cr_assert(eq(int, addr.kind, LCR_ADDRESS_INET));
  t_run_until(1, 2000);
  lcr_server_free(s);
}

Test(listen_validate, already_listening) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT);
  lcr_error_t err;

  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  /* before 'listening' fired */
  a.callback = t_call;
  a.callback_data = "never";
  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_SERVER_ALREADY_LISTEN"));
  t_run_until(1, 2000);
  /* after */
  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_SERVER_ALREADY_LISTEN"));
  t_settle();
  T_EXPECT(0, "emit listening"); /* the refused callbacks were not added */
  lcr_server_free(s);
}

Test(listen_validate, relisten_during_lookup_is_allowed) {
  lcr_server_t *s = t_server(NULL);
  lcr_error_t err;

  /* No handle exists while dns.lookup runs: Node does not throw, and the
   * first lookup goes stale; both callbacks run on one 'listening'. */
  cr_assert(
      eq(int, lcr_listen_port(s, 0, "127.0.0.1", t_call, "cb1", &err), 0));
  cr_assert(
      eq(int, lcr_listen_port(s, 0, "127.0.0.1", t_call, "cb2", &err), 0));
  t_run_until(3, 2000);
  t_settle();
  T_EXPECT(0, "emit listening", "call cb1", "call cb2");
  lcr_server_free(s);
}

Test(listen_validate, backlog) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT);
  lcr_error_t err;

  a.has = LCR_HAS_BACKLOG; /* listen(0, -3): negative means the default */
  a.backlog = -3;
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");
  lcr_server_free(s);
}
