/* test-listen-close.c — close(): 'close' always, asynchronously; the
 * callback after it, with ERR_SERVER_NOT_RUNNING when nothing listened. */
#include "helpers.h"

TestSuite(listen_close, .init = t_setup, .fini = t_teardown, .timeout = 20);

Test(listen_close, not_running) {
  lcr_server_t *s = t_server(NULL);

  t_close(s, "C1");
  t_close(s, NULL);
  cr_assert(eq(int, t_nlog, 0));
  t_run_until(3, 2000);
  t_settle();
  T_EXPECT(0, "emit close", "call C1 ERR_SERVER_NOT_RUNNING", "emit close");
  lcr_server_free(s);
}

Test(listen_close, twice_while_listening) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT);
  lcr_error_t err;

  t_listen(s, &a, &err);
  t_run_until(1, 2000);
  t_close(s, "C1");
  t_close(s, "C2");
  t_run_until(5, 2000);
  t_settle();
  /* Both once('close') callbacks run on the first emission. */
  T_EXPECT(0, "emit listening", "emit close", "call C1",
           "call C2 ERR_SERVER_NOT_RUNNING", "emit close");
  lcr_server_free(s);
}

Test(listen_close, before_listening_fired) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT);
  lcr_address_t addr;
  lcr_error_t err;

  a.callback = t_call;
  a.callback_data = "cb";
  t_listen(s, &a, &err);
  t_close(s, "C1");
  cr_assert(eq(int, lcr_server_listening(s), 0));
  lcr_server_address(s, &addr);
  cr_assert(eq(int, addr.kind, LCR_ADDRESS_NULL));
  t_run_until(2, 2000);
  t_settle();
  T_EXPECT(0, "emit close", "call C1"); /* no 'listening' */
  lcr_server_free(s);
}

Test(listen_close, close_during_lookup) {
  lcr_server_t *s = t_server(NULL);
  lcr_error_t err;

  lcr_listen_port(s, 0, "localhost", t_call, "cb", &err);
  t_close(s, "C1");
  t_run_until(2, 2000);
  /* the lookup's answer is stale; keep running until it came back */
  t_run_until(LOG_MAX, 300);
  T_EXPECT(0, "emit close", "call C1 ERR_SERVER_NOT_RUNNING");
  lcr_server_free(s);
}

Test(listen_close, relisten_before_close_emitted) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT);
  lcr_error_t err;

  t_listen(s, &a, &err);
  t_run_until(1, 2000);
  t_close(s, "C1");
  a.callback = t_call;
  a.callback_data = "cb2";
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(5, 2000);
  T_EXPECT(0, "emit listening", "emit close", "call C1", "emit listening",
           "call cb2");
  lcr_server_free(s);
}

Test(listen_close, listener_order) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT);
  lcr_error_t err;

  lcr_server_on(s, LCR_EV_LISTENING, t_call, "L0");
  a.callback = t_call;
  a.callback_data = "cb";
  t_listen(s, &a, &err);
  lcr_server_on(s, LCR_EV_LISTENING, t_call, "L1");
  lcr_server_on(s, LCR_EV_CLOSE, t_call, "K1");
  t_run_until(4, 2000);
  T_EXPECT(0, "emit listening", "call L0", "call cb", "call L1");
  lcr_server_close(s, t_call, "C1");
  t_run_until(7, 2000);
  T_EXPECT(4, "emit close", "call K1", "call C1");
  lcr_server_free(s);
}

/* A client socket connected to 127.0.0.1:port and left open. */
static int held_client(int port) {
  struct sockaddr_storage ss;
  socklen_t len = t_sockaddr(AF_INET, "127.0.0.1", port, &ss);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  cr_assert(ge(int, fd, 0));
  cr_assert(eq(int, connect(fd, (struct sockaddr *)&ss, len), 0));
  return fd;
}

/* lcr_server_hold_connections(): close() stops listening at once, 'close'
 * waits for every held connection to end (net.js _emitCloseIfDrained). */
Test(listen_close, waits_for_held_connections) {
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;
  int c1, c2;

  cr_assert(eq(int, lcr_server_hold_connections(s, 1), 0));
  lcr_listen_port(s, 0, "127.0.0.1", NULL, NULL, &err);
  t_run_until(1, 2000);
  lcr_server_address(s, &addr);
  c1 = held_client(addr.port);
  c2 = held_client(addr.port);
  t_run_until(3, 2000);
  T_EXPECT(0, "emit listening", "emit connection", "emit connection");
  t_close(s, "C1");
  cr_assert(eq(int, lcr_server_listening(s), 0));
  cr_assert(eq(int, t_connect("127.0.0.1", addr.port), -ECONNREFUSED));
  t_settle();
  cr_assert(eq(int, t_nlog, 3), "'close' while two connections are open");
  close(c1);
  t_run_until(LOG_MAX, 300);
  cr_assert(eq(int, t_nlog, 3), "'close' while one connection is open");
  close(c2);
  t_run_until(5, 2000);
  t_settle();
  T_EXPECT(3, "emit close", "call C1");
  lcr_server_free(s);
}

/* lcr_server_free() closes the held connections, emitting nothing. */
Test(listen_close, free_closes_held_connections) {
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;
  char b;
  int c;

  lcr_server_hold_connections(s, 1);
  lcr_listen_port(s, 0, "127.0.0.1", NULL, NULL, &err);
  t_run_until(1, 2000);
  lcr_server_address(s, &addr);
  c = held_client(addr.port);
  t_run_until(2, 2000);
  lcr_server_free(s);
  t_settle();
  cr_assert(eq(int, t_nlog, 2));
  cr_assert(eq(sz, (size_t)read(c, &b, 1), 0), "the server's side is closed");
  close(c);
}
