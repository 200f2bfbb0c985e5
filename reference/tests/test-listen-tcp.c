/* test-listen-tcp.c — TCP listening: default host, literals, names,
 * socket options, connections. */
#include <errno.h>
#include <netdb.h>

#include "helpers.h"

TestSuite(listen_tcp, .init = t_setup, .fini = t_teardown, .timeout = 20);

Test(listen_tcp, default_dual_stack) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_PORT); /* server.listen(cb) */
  lcr_address_t addr;
  lcr_error_t err;
  int fd;

  a.callback = t_call;
  a.callback_data = "cb";
  cr_assert(eq(int, t_listen(s, &a, &err), 0));

  /* Bound synchronously: listening and address() before 'listening'. */
  cr_assert(eq(int, t_nlog, 0));
  cr_assert(eq(int, lcr_server_listening(s), 1));
  cr_assert(eq(int, lcr_server_address(s, &addr), 0));
  cr_assert(eq(int, addr.kind, LCR_ADDRESS_INET));
  cr_assert(eq(str, addr.address, "::"));
  cr_assert(eq(str, addr.family, "IPv6"));
  cr_assert(gt(int, addr.port, 0));

  fd = lcr_server_fd(s);
  cr_assert(ge(int, fd, 0));
  cr_assert(eq(int, t_sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 1));
  cr_assert(eq(int, t_sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 0));
  cr_assert(eq(int, t_sockopt(fd, SOL_SOCKET, SO_REUSEPORT), 0));

  t_run_until(2, 2000);
  T_EXPECT(0, "emit listening", "call cb");

  /* Dual stack: an IPv4 client reaches '::'. */
  cr_assert(eq(int, t_connect("127.0.0.1", addr.port), 0));
  t_run_until(3, 2000);
  T_EXPECT(2, "emit connection");

  lcr_server_free(s);
}

Test(listen_tcp, literal_host_is_async) {
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;
  int fd;

  cr_assert(eq(int, lcr_listen_port(s, 0, "127.0.0.1", t_call, "cb", &err), 0));
  /* dns.lookup() answers on a tick: nothing bound yet. */
  cr_assert(eq(int, lcr_server_listening(s), 0));
  lcr_server_address(s, &addr);
  cr_assert(eq(int, addr.kind, LCR_ADDRESS_NULL));

  t_run_until(2, 2000);
  T_EXPECT(0, "emit listening", "call cb");
  lcr_server_address(s, &addr);
  cr_assert(eq(str, addr.address, "127.0.0.1"));
  cr_assert(eq(str, addr.family, "IPv4"));
  fd = lcr_server_fd(s);
  cr_assert(eq(int, t_sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 1));
  lcr_server_free(s);
}

Test(listen_tcp, localhost_first_answer) {
  struct addrinfo hints, *res;
  char want[64];
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;

  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  cr_assert(eq(int, getaddrinfo("localhost", NULL, &hints, &res), 0));
  if (res->ai_family == AF_INET6)
    uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, want, sizeof(want));
  else
    uv_ip4_name((struct sockaddr_in *)res->ai_addr, want, sizeof(want));
  freeaddrinfo(res);

  cr_assert(eq(int, lcr_listen_port(s, 0, "localhost", NULL, NULL, &err), 0));
  cr_assert(eq(int, lcr_server_listening(s), 0));
  t_run_until(1, 5000);
  T_EXPECT(0, "emit listening");
  lcr_server_address(s, &addr);
  cr_assert(eq(str, addr.address, want));
  lcr_server_free(s);
}

Test(listen_tcp, ipv6_only_with_host) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_OPTIONS);
  lcr_address_t addr;
  lcr_error_t err;

  a.has = LCR_HAS_PORT | LCR_HAS_HOST; /* { port: 0, host: '::', ipv6Only } */
  a.host = "::";
  a.ipv6_only = 1;
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000); /* the bind follows the lookup */
  cr_assert(eq(int, t_sockopt(lcr_server_fd(s), IPPROTO_IPV6, IPV6_V6ONLY), 1));
  lcr_server_address(s, &addr);
  cr_assert(eq(int, t_connect("127.0.0.1", addr.port), -ECONNREFUSED));
  cr_assert(eq(int, t_connect("::1", addr.port), 0));
  lcr_server_free(s);
}

/* Node 20 passes ipv6Only only when a host is given: { port: 0, ipv6Only }
 * stays dual-stack (scenario ipv6.ipv6only-ignored-without-host); newer
 * Node (and a loop left at 0.0.0, the newest) honours it. */
static void ipv6_only_without_host(int want_v6only) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_OPTIONS);
  lcr_address_t addr;
  lcr_error_t err;

  a.has = LCR_HAS_PORT;
  a.ipv6_only = 1;
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  cr_assert(eq(int, t_sockopt(lcr_server_fd(s), IPPROTO_IPV6, IPV6_V6ONLY),
               want_v6only));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");
  lcr_server_address(s, &addr);
  cr_assert(eq(str, addr.address, "::"));
  cr_assert(eq(int, t_connect("127.0.0.1", addr.port),
               want_v6only ? -ECONNREFUSED : 0));
  cr_assert(eq(int, t_connect("::1", addr.port), 0));
  lcr_server_free(s);
}

Test(listen_tcp, ipv6_only_ignored_without_host_node20) {
  lcr_loop_set_node_version(&t_loop, 20, 20, 2);
  ipv6_only_without_host(0);
}

Test(listen_tcp, ipv6_only_without_host_newest) {
  ipv6_only_without_host(1); /* 0.0.0: the newest */
}

Test(listen_tcp, ipv6_only_without_host_thresholds) {
  /* nodejs/node#55408 reached 22.x at LCR_NODE_SINCE_LISTEN_FLAGS_22 and
   * 23.x at LCR_NODE_SINCE_LISTEN_FLAGS_23: 23.0.0 still ignores it. */
  static const struct {
    uint64_t v;
    int before, want;
  } cases[] = {{LCR_NODE_SINCE_LISTEN_FLAGS_22, 1, 0},
               {LCR_NODE_SINCE_LISTEN_FLAGS_22, 0, 1},
               {LCR_NODE_V(23, 0, 0), 0, 0},
               {LCR_NODE_SINCE_LISTEN_FLAGS_23, 0, 1}};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    t_nlog = 0;
    t_node_release(cases[i].v, cases[i].before);
    ipv6_only_without_host(cases[i].want);
  }
}

static void reuse_port(int want) {
  lcr_server_t *s = t_server(NULL);
  lcr_listen_t a = t_args(LCR_FORM_OPTIONS);
  lcr_error_t err;

  a.has = LCR_HAS_PORT | LCR_HAS_HOST;
  a.host = "127.0.0.1";
  a.reuse_port = 1;
  a.exclusive = 1; /* accepted, no effect */
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");
  cr_assert(
      eq(int, t_sockopt(lcr_server_fd(s), SOL_SOCKET, SO_REUSEPORT), want));
  cr_assert(eq(int, t_sockopt(lcr_server_fd(s), SOL_SOCKET, SO_REUSEADDR), 1));
  lcr_server_free(s);
}

Test(listen_tcp, reuse_port) {
  reuse_port(1); /* the newest */
}

/* Before nodejs/node#55408 there is no reusePort option. */
Test(listen_tcp, reuse_port_ignored_node20) {
  lcr_loop_set_node_version(&t_loop, 20, 20, 2);
  reuse_port(0);
}

Test(listen_tcp, reuse_port_thresholds) {
  t_node_release(LCR_NODE_SINCE_LISTEN_FLAGS_22, 1);
  reuse_port(0);
  t_nlog = 0;
  t_node_release(LCR_NODE_SINCE_LISTEN_FLAGS_22, 0);
  reuse_port(1);
  t_nlog = 0;
  t_node_release(LCR_NODE_SINCE_LISTEN_FLAGS_23, 1);
  reuse_port(0);
  t_nlog = 0;
  t_node_release(LCR_NODE_SINCE_LISTEN_FLAGS_23, 0);
  reuse_port(1);
}

static void close_in_connection(lcr_server_t *s, const lcr_emit_t *e,
                                void *data) {
  (void)e;
  (void)data;
  lcr_server_close(s, t_call, "C1");
}

Test(listen_tcp, close_from_connection_listener) {
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;

  lcr_server_on(s, LCR_EV_CONNECTION, close_in_connection, NULL);
  lcr_listen_port(s, 0, "127.0.0.1", NULL, NULL, &err);
  t_run_until(1, 2000);
  lcr_server_address(s, &addr);
  cr_assert(eq(int, t_connect("127.0.0.1", addr.port), 0));
  t_run_until(4, 2000);
  T_EXPECT(0, "emit listening", "emit connection", "emit close", "call C1");
  lcr_server_free(s);
}
