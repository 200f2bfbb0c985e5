/* test-listen-signal.c — options.signal closes the server. */
#include "helpers.h"

TestSuite(listen_signal, .init = t_setup, .fini = t_teardown, .timeout = 20);

Test(listen_signal, abort_after_listening) {
  lcr_server_t *s = t_server(NULL);
  lcr_signal_t *sig = lcr_signal_new();
  lcr_listen_t a = t_args(LCR_FORM_OPTIONS);
  lcr_error_t err;

  a.has = LCR_HAS_PORT | LCR_HAS_HOST;
  a.host = "127.0.0.1";
  a.signal = sig;
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000);
  t_in_call = 1;
  lcr_signal_abort(sig);
  t_in_call = 0;
  cr_assert(eq(int, lcr_server_listening(s), 0));
  t_run_until(2, 2000);
  T_EXPECT(0, "emit listening", "emit close");
  lcr_server_free(s);
  lcr_signal_free(sig);
}

Test(listen_signal, aborted_before_listen) {
  lcr_server_t *s = t_server(NULL);
  lcr_signal_t *sig = lcr_signal_new();
  lcr_listen_t a = t_args(LCR_FORM_OPTIONS);
  lcr_error_t err;

  lcr_signal_abort(sig);
  a.has = LCR_HAS_PORT;
  a.signal = sig;
  a.callback = t_call;
  a.callback_data = "cb";
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  cr_assert(eq(int, lcr_server_listening(s), 1)); /* bound, for one tick */
  t_run_until(1, 2000);
  t_settle();
  T_EXPECT(0, "emit close"); /* close() runs first: no 'listening' */

  /* with a bad port: throws, and the close() still comes */
  a.port = 70000;
  cr_assert(eq(int, t_listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_SOCKET_BAD_PORT"));
  t_run_until(2, 2000);
  T_EXPECT(1, "emit close");
  lcr_server_free(s);
  lcr_signal_free(sig);
}

Test(listen_signal, free_signal_and_server_in_any_order) {
  lcr_server_t *s = t_server(NULL);
  lcr_signal_t *sig = lcr_signal_new();
  lcr_listen_t a = t_args(LCR_FORM_OPTIONS);
  lcr_error_t err;

  a.has = LCR_HAS_PORT;
  a.signal = sig;
  t_listen(s, &a, &err);
  t_run_until(1, 2000);
  lcr_signal_free(sig); /* the server forgets it */
  lcr_server_close(s, NULL, NULL);
  t_run_until(2, 2000);
  T_EXPECT(0, "emit listening", "emit close");
  lcr_server_free(s);
}
