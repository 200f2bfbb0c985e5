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

Test(listen_pipe, length_limits) { /* the newest Node: 0.0.0 */
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

/* Node before LCR_NODE_SINCE_PIPE_NO_TRUNCATE (20, 22): a 109-byte path
 * listens at its first 108 bytes, and address() is the full path.  close()
 * unlinks the name libuv kept: the full one in Node 20, so the truncated
 * file stays and a second listen() finds it in use (scenario
 * ipc.longpath-109-bytes-silently-truncated); the cut one in Node 22
 * (LCR_NODE_SINCE_LIBUV_1_48), so the file goes and a second listen()
 * succeeds (ipc.longpath-109-bytes-truncated-removed-on-close). */
static void truncated_path(int unlinks_truncated) {
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;
  char p108[128], p109[128];
  lcr_listen_t a;

  long_path(p108, 108);
  long_path(p109, 109);
  a = path_args(p109, 109);
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");
  lcr_server_address(s, &addr);
  cr_assert(eq(int, (int)addr.path_len, 109));
  cr_assert(eq(str, addr.path, p109));
  cr_assert(gt(int, file_mode(p108), 0)); /* the name as bound */
  cr_assert(eq(int, file_mode(p109), -ENOENT));

  lcr_server_close(s, NULL, NULL);
  t_run_until(2, 2000);
  T_EXPECT(1, "emit close");
  if (unlinks_truncated) {
    cr_assert(eq(int, file_mode(p108), -ENOENT));
    cr_assert(eq(int, t_listen(s, &a, &err), 0));
    t_run_until(3, 2000);
    T_EXPECT(2, "emit listening");
    lcr_server_close(s, NULL, NULL);
    t_run_until(4, 2000);
    cr_assert(eq(int, file_mode(p108), -ENOENT));
  } else {
    cr_assert(gt(int, file_mode(p108), 0)); /* left behind */
    cr_assert(eq(int, t_listen(s, &a, &err), 0));
    t_run_until(3, 2000);
    T_EXPECT(2, "emit error EADDRINUSE");
    cr_assert(eq(str, (char *)t_last_error.syscall, "listen"));
    cr_assert(eq(int, strncmp(t_last_error.address, p109, 109), 0));
    cr_assert(eq(int, unlink(p108), 0));
  }
  lcr_server_free(s);
}

Test(listen_pipe, length_limits_node20_truncates_and_leaves) {
  lcr_loop_set_node_version(&t_loop, 20, 20, 2);
  truncated_path(0);
}

Test(listen_pipe, length_limits_node22_truncates_and_removes) {
  lcr_loop_set_node_version(&t_loop, 22, 23, 5);
  truncated_path(1);
}

Test(listen_pipe, length_limits_thresholds) {
  lcr_server_t *s;
  lcr_error_t err;
  char p108[128], p109[128];
  lcr_listen_t a;

  t_node_release(LCR_NODE_SINCE_LIBUV_1_48, 1);
  truncated_path(0);
  t_nlog = 0;
  t_node_release(LCR_NODE_SINCE_LIBUV_1_48, 0);
  truncated_path(1);
  t_nlog = 0;
  t_node_release(LCR_NODE_SINCE_PIPE_NO_TRUNCATE, 1);
  truncated_path(1);

  t_nlog = 0;
  t_node_release(LCR_NODE_SINCE_PIPE_NO_TRUNCATE, 0);
  s = t_server(NULL);
  long_path(p108, 108);
  long_path(p109, 109);
  a = path_args(p109, 109);
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit error EINVAL");
  cr_assert(eq(int, file_mode(p108), -ENOENT));
  lcr_server_free(s);
}

/* readableAll / writableAll on p (umask `mask`): the file's mode. */
static int mode_with(const char *name, int readable, int writable,
                     mode_t mask) {
  lcr_server_t *s = t_server(NULL);
  char path[128];
  lcr_error_t err;
  lcr_listen_t a;
  mode_t old;
  int mode;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  a = t_args(LCR_FORM_OPTIONS);
  a.has = LCR_HAS_PATH;
  a.path = path;
  a.path_len = strlen(path);
  a.readable_all = readable;
  a.writable_all = writable;
  old = umask(mask);
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  umask(old);
  mode = file_mode(path);
  t_nlog = 0;
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");
  lcr_server_free(s);
  return mode;
}

/* Node 20 (before LCR_NODE_SINCE_LIBUV_1_48) binds an abstract name padded
 * with NULs to the whole sockaddr_un: a client with the exact name is
 * refused, one that pads the same way connects (scenario
 * ipc.abstract-name-padded-to-sun-path). */
static int connect_abstract(const char *name, size_t n, int pad) {
  struct sockaddr_un sun;
  socklen_t len;
  int fd, r;

  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, name, n);
  len = pad ? (socklen_t)sizeof(sun)
            : (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  cr_assert(ge(int, fd, 0));
  r = connect(fd, (struct sockaddr *)&sun, len) == 0 ? 0 : -errno;
  close(fd);
  return r;
}

static void abstract_binding(int exact) {
  lcr_server_t *s = t_server(NULL);
  lcr_address_t addr;
  lcr_error_t err;
  char name[64];
  size_t n;
  lcr_listen_t a;

  name[0] = '\0';
  n = 1 +
      (size_t)snprintf(name + 1, sizeof(name) - 1, "lcref-pad-%d", getpid());
  a = path_args(name, n);
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");
  lcr_server_address(s, &addr);
  cr_assert(eq(int, (int)addr.path_len, (int)n));
  cr_assert(eq(int, connect_abstract(name, n, 0), exact ? 0 : -ECONNREFUSED));
  cr_assert(eq(int, connect_abstract(name, n, 1), exact ? -ECONNREFUSED : 0));
  lcr_server_free(s);
}

Test(listen_pipe, abstract_padded_node20) {
  lcr_loop_set_node_version(&t_loop, 20, 20, 2);
  abstract_binding(0);
}

Test(listen_pipe, abstract_exact_thresholds) {
  t_node_release(LCR_NODE_SINCE_LIBUV_1_48, 1);
  abstract_binding(0);
  t_nlog = 0;
  t_node_release(LCR_NODE_SINCE_LIBUV_1_48, 0);
  abstract_binding(1);
  t_nlog = 0;
  lcr_loop_set_node_version(&t_loop, 0, 0, 0);
  abstract_binding(1);
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

/* Before LCR_NODE_SINCE_PIPE_CHMOD_EXACT (Node 20): uv_pipe_chmod ORs the
 * bits into the mode (0755|0444, 0755|0222; 0700|0444 under umask 077). */
Test(listen_pipe, readable_writable_all_node20_ors) {
  lcr_loop_set_node_version(&t_loop, 20, 20, 2);
  cr_assert(eq(int, mode_with("r", 1, 0, 022), 0755));
  cr_assert(eq(int, mode_with("w", 0, 1, 022), 0777));
  cr_assert(eq(int, mode_with("rw", 1, 1, 022), 0777));
  cr_assert(eq(int, mode_with("r77", 1, 0, 077), 0744));
  cr_assert(eq(int, mode_with("w77", 0, 1, 077), 0722));
  cr_assert(eq(int, mode_with("rw77", 1, 1, 077), 0766));
  cr_assert(eq(int, mode_with("none", 0, 0, 077), 0700));
}

/* The newest (libuv >= 1.51): exactly 0444 / 0222 / 0666, whatever the
 * umask. */
Test(listen_pipe, readable_writable_all_newest_exact) {
  cr_assert(eq(int, mode_with("r", 1, 0, 022), 0444));
  cr_assert(eq(int, mode_with("w", 0, 1, 022), 0222));
  cr_assert(eq(int, mode_with("rw", 1, 1, 022), 0666));
  cr_assert(eq(int, mode_with("r77", 1, 0, 077), 0444));
  cr_assert(eq(int, mode_with("w77", 0, 1, 077), 0222));
  cr_assert(eq(int, mode_with("rw77", 1, 1, 077), 0666));
  cr_assert(eq(int, mode_with("none", 0, 0, 077), 0700));
}

Test(listen_pipe, readable_writable_all_thresholds) {
  /* libuv 1.51.0 reached 22.x at LCR_NODE_SINCE_PIPE_CHMOD_EXACT_22 and
   * 24.x at LCR_NODE_SINCE_PIPE_CHMOD_EXACT_24; no 23.x has it. */
  static const struct {
    uint64_t v;
    int before, want;
  } cases[] = {{LCR_NODE_SINCE_PIPE_CHMOD_EXACT_22, 1, 0722},
               {LCR_NODE_SINCE_PIPE_CHMOD_EXACT_22, 0, 0222},
               {LCR_NODE_V(23, 0, 0), 0, 0722},
               {LCR_NODE_V(23, 11, 1), 0, 0722},
               {LCR_NODE_SINCE_PIPE_CHMOD_EXACT_24, 1, 0722},
               {LCR_NODE_SINCE_PIPE_CHMOD_EXACT_24, 0, 0222}};
  char name[16];
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    t_node_release(cases[i].v, cases[i].before);
    snprintf(name, sizeof(name), "w%zu", i);
    cr_assert(eq(int, mode_with(name, 0, 1, 077), cases[i].want), "case %zu",
              i);
  }
}

/* An overlong path bound truncated (Node 20) is chmod-ed under the name it
 * was bound as, as uv_pipe_chmod finds it with getsockname(). */
Test(listen_pipe, chmod_on_truncated_path_node20) {
  lcr_server_t *s = t_server(NULL);
  char p108[128], p109[128];
  lcr_error_t err;
  lcr_listen_t a;
  mode_t old;

  lcr_loop_set_node_version(&t_loop, 20, 20, 2);
  long_path(p108, 108);
  long_path(p109, 109);
  a = path_args(p109, 109);
  a.form = LCR_FORM_OPTIONS;
  a.writable_all = 1;
  old = umask(077);
  cr_assert(eq(int, t_listen(s, &a, &err), 0));
  umask(old);
  cr_assert(eq(int, file_mode(p108), 0722));
  t_run_until(1, 2000);
  T_EXPECT(0, "emit listening");
  lcr_server_free(s);
  cr_assert(eq(int, unlink(p108), 0));
}
