/* test-listen-pipe.c — IPC servers: paths, abstract names, length limits,
 * stale files, modes, unlink on close. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "helpers.h"

static char dir[64];

static void pipe_setup(void) {
  t_setup();
  strcpy(dir, "/tmp/lcref-pipe-XXXXXX");
  cr_assert(mkdtemp(dir) != NULL);
}

static void pipe_teardown(void) {
  char cmd[128];
  t_teardown();
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert(eq(int, system(cmd), 0));
}

TestSuite(listen_pipe, .init = pipe_setup, .fini = pipe_teardown,
          .timeout = 20);

static lcr_listen_t path_args(const char *path, size_t len) {
  lcr_listen_t a = t_args(LCR_FORM_PATH);
  a.has = LCR_HAS_PATH;
  a.path = path;
  a.path_len = len;
  return a;
}

static int file_mode(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return -errno;
  cr_assert(eq(int, S_ISSOCK(st.st_mode) ? 1 : 0, 1));
  return (int)(st.st_mode & 0777);
}

/* An absolute path of exactly n bytes in dir. */
static void long_path(char *buf, size_t n) {
  size_t k = strlen(dir);
  memcpy(buf, dir, k);
  buf[k] = '/';
  memset(buf + k + 1, 'x', n - k - 1);
  buf[n] = '\0';
}

Test(listen_pipe, path_listen_and_unlink_on_close) {
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;
  char path[128];
  lcr_listen_t a;

  snprintf(path, sizeof(path), "%s/s.sock", dir);
  a = path_args(path, strlen(path));
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  cr_assert(eq(int, lcr_server_listening(s), 1));
  lcr_server_address(s, &addr);
  cr_assert(eq(int, addr.kind, LCR_ADDRESS_PIPE));
  cr_assert(eq(str, addr.path, path));
  cr_assert(eq(int, file_mode(path), 0777 & ~(int)umask(022)));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");

  lcr_server_close(s, NULL, NULL);
  cr_assert(eq(int, file_mode(path), -ENOENT));
  /* _pipeName outlives the handle */
  lcr_server_address(s, &addr);
  cr_assert(eq(str, addr.path, path));
  t_run_until(2, 2000);
  lcr_server_free(s);
}

Test(listen_pipe, relative_path) {
  lcr_server_t *s = t_server(NULL);
  lcr_error_t err;
  char cwd[256], full[128];
  lcr_listen_t a = path_args("rel.sock", 8);

  cr_assert(getcwd(cwd, sizeof(cwd)) != NULL);
  cr_assert(eq(int, chdir(dir), 0));
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000);
  snprintf(full, sizeof(full), "%s/rel.sock", dir);
  cr_assert(gt(int, file_mode(full), 0));
  lcr_server_close(s, NULL, NULL);
  cr_assert(eq(int, file_mode(full), -ENOENT));
  cr_assert(eq(int, chdir(cwd), 0));
  lcr_server_free(s);
}

Test(listen_pipe, length_limits) {
  lcr_server_t *s107 = t_server("107"), *s108 = t_server("108");
  lcr_server_t *s109 = t_server("109");
  char p107[128], p108[128], p109[128];
  lcr_listen_t a;
  lcr_error_t err;

  long_path(p107, 107);
  long_path(p108, 108);
  long_path(p109, 109);
  a = path_args(p107, 107);
  cr_assert(eq(int, t_listen(s107, &a, &err), 0));
  a = path_args(p108, 108); /* a full sun_path, no NUL: Linux takes it */
  cr_assert(eq(int, t_listen(s108, &a, &err), 0));
  a = path_args(p109, 109); /* refused, not truncated onto p108 */
  cr_assert(eq(int, t_listen(s109, &a, &err), 0));
  t_run_until(3, 2000);
  T_EXPECT(0, "107: emit listening", "108: emit listening",
           "109: emit error EINVAL");
  cr_assert(eq(str, (char *)t_last_error.syscall, "listen"));
  cr_assert(eq(int, t_last_error.errnum, -EINVAL));
  cr_assert(eq(int, t_last_error.port, -1));
  cr_assert(eq(int, strncmp(t_last_error.address, p109, 100), 0));
  cr_assert(gt(int, file_mode(p108), 0));
  lcr_server_close(s108, NULL, NULL);
  cr_assert(eq(int, file_mode(p108), -ENOENT));
  lcr_server_free(s107);
  lcr_server_free(s108);
  lcr_server_free(s109);
  cr_assert(eq(int, file_mode(p107), -ENOENT));
}

Test(listen_pipe, abstract) {
  lcr_server_t *s = t_server(NULL);
  lcr_server_t *b = t_server("B");
  lcr_address_t addr;
  lcr_error_t err;
  char name[64];
  size_t n;
  lcr_listen_t a;

  name[0] = '\0';
  n = 1 + (size_t)snprintf(name + 1, sizeof(name) - 1, "lcref-%d", getpid());
  a = path_args(name, n);
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  lcr_server_address(s, &addr);
  cr_assert(eq(int, addr.kind, LCR_ADDRESS_PIPE));
  cr_assert(eq(int, (int)addr.path_len, (int)n));
  cr_assert(eq(int, memcmp(addr.path, name, n), 0));
  t_run_until(1, 2000);

  /* the same name with its length is in use */
  cr_assert(eq(int, t_listen(b, &a, &err), 0));
  t_run_until(2, 2000);
  T_EXPECT(0, "emit listening", "B: emit error EADDRINUSE");

  /* readableAll on an abstract name throws */
  a = t_args(LCR_FORM_OPTIONS);
  a.has = LCR_HAS_PATH;
  a.path = name;
  a.path_len = n;
  a.readable_all = 1;
  cr_assert(eq(int, t_listen(b, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_INVALID_ARG_VALUE"));
  lcr_server_free(s);
  lcr_server_free(b);
}

Test(listen_pipe, stale_file_is_kept) {
  struct sockaddr_un sun;
  lcr_server_t *s = t_server(NULL);
  lcr_error_t err;
  lcr_listen_t a;
  int fd;

  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/stale", dir);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  cr_assert(eq(int, bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0));
  close(fd); /* a socket file with no listener */

  a = path_args(sun.sun_path, strlen(sun.sun_path));
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit error EADDRINUSE");
  cr_assert(eq(str, (char *)t_last_error.address, sun.sun_path));
  cr_assert(eq(int, t_last_error.port, -1));
  lcr_server_close(s, t_call, "C1");
  t_run_until(3, 2000);
  T_EXPECT(1, "emit close", "call C1 ERR_SERVER_NOT_RUNNING");
  cr_assert(gt(int, file_mode(sun.sun_path), 0)); /* not removed */
  lcr_server_free(s);
}

Test(listen_pipe, missing_directory_is_eacces) {
  lcr_server_t *s = t_server(NULL);
  lcr_error_t err;
  char path[128];
  lcr_listen_t a;

  snprintf(path, sizeof(path), "%s/nodir/s", dir);
  a = path_args(path, strlen(path));
  t_listen(s, &a, &err);
  t_run_until(1, 2000);
  T_EXPECT(0, "emit error EACCES");
  lcr_server_free(s);
}

Test(listen_pipe, readable_writable_all) {
  lcr_server_t *r = t_server(NULL), *w = t_server(NULL);
  char pr[128], pw[128];
  lcr_error_t err;
  lcr_listen_t a;
  mode_t old = umask(022);

  snprintf(pr, sizeof(pr), "%s/r", dir);
  snprintf(pw, sizeof(pw), "%s/w", dir);
  a = t_args(LCR_FORM_OPTIONS);
  a.has = LCR_HAS_PATH;
  a.path = pr;
  a.path_len = strlen(pr);
  a.readable_all = 1;
  cr_assert(eq(int, t_listen(r, &a, &err), 0));
  a.path = pw;
  a.path_len = strlen(pw);
  a.readable_all = 0;
  a.writable_all = 1;
  cr_assert(eq(int, t_listen(w, &a, &err), 0));
  umask(old);
  /* uv_pipe_chmod ORs the bits in: 0755|0444, 0755|0222 (as Node) */
  cr_assert(eq(int, file_mode(pr), 0755));
  cr_assert(eq(int, file_mode(pw), 0777));
  t_run_until(2, 2000);
  lcr_server_free(r);
  lcr_server_free(w);
}
