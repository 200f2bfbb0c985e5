/* test-listen-handle.c — listen(handle): an fd made outside lcref. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "helpers.h"

TestSuite(listen_handle, .init = t_setup, .fini = t_teardown, .timeout = 20);

static lcr_listen_t fd_args(int fd) {
  lcr_listen_t a = t_args(LCR_FORM_HANDLE);
  a.has = LCR_HAS_FD;
  a.fd = fd;
  return a;
}

Test(listen_handle, tcp_bound_fd) {
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;
  lcr_listen_t a;
  int fd, port;

  fd = t_tcp_socket(AF_INET, "127.0.0.1", 0, 0);
  port = t_local_port(fd);
  a = fd_args(fd);
  a.has |= LCR_HAS_BACKLOG;
  a.backlog = 3;
  a.callback = t_call;
  a.callback_data = "cb";
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  cr_assert(eq(int, lcr_server_listening(s), 1));
  lcr_server_address(s, &addr);
  cr_assert(eq(str, addr.address, "127.0.0.1"));
  cr_assert(eq(int, addr.port, port));
  cr_assert(eq(int, lcr_server_fd(s), fd));
  t_run_until(2, 2000);
  T_EXPECT(0, "emit listening", "call cb");
  cr_assert(eq(int, t_connect("127.0.0.1", port), 0));
  t_run_until(3, 2000);
  T_EXPECT(2, "emit connection");
  lcr_server_free(s); /* closes the fd, as Node's handle.close() does */
}

Test(listen_handle, unix_fd_has_null_address) {
  struct sockaddr_un sun;
  lcr_server_t *s = t_server(NULL);
  char dir[] = "/tmp/lcref-h-XXXXXX";
  lcr_address_t addr;
  lcr_error_t err;
  lcr_listen_t a;
  int fd;

  cr_assert(mkdtemp(dir) != NULL);
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/u", dir);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  cr_assert(eq(int, bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0));
  a = fd_args(fd);
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  lcr_server_address(s, &addr);
  cr_assert(eq(int, addr.kind, LCR_ADDRESS_NULL)); /* a Pipe has no
                                                      getsockname in Node */
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");
  lcr_server_close(s, NULL, NULL);
  t_run_until(2, 2000);
  /* the file is not the server's: it stays */
  cr_assert(eq(int, access(sun.sun_path, F_OK), 0));
  unlink(sun.sun_path);
  rmdir(dir);
  lcr_server_free(s);
}

Test(listen_handle, not_a_stream_socket) {
  lcr_server_t *u = t_server("udp"), *f = t_server("file");
  lcr_server_t *c = t_server("closed");
  lcr_error_t err;
  lcr_listen_t a;
  int udp, file;

  udp = socket(AF_INET, SOCK_DGRAM, 0);
  file = open("/dev/null", O_RDONLY);
  a = fd_args(udp);
  t_listen(u, &a, &err);
  a = fd_args(file);
  t_listen(f, &a, &err);
  a = fd_args(987);
  t_listen(c, &a, &err);
  t_run_until(3, 2000);
  T_EXPECT(0, "udp: emit error EINVAL", "file: emit error EINVAL",
           "closed: emit error EINVAL");
  cr_assert(eq(str, (char *)t_last_error.syscall, "listen"));
  cr_assert(eq(int, t_last_error.address == NULL, 1));
  cr_assert(eq(int, t_last_error.port, -1));
  close(udp);
  close(file);
  lcr_server_free(u);
  lcr_server_free(f);
  lcr_server_free(c);
}
