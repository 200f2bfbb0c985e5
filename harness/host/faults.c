/* faults.c — one-shot failures of system calls the implementation makes
 * (the protocol's `fail` op, PROTOCOL.md).
 *
 * lc-host defines accept, accept4, chmod and fchmod itself and exports just
 * these (host/faults.list, --dynamic-list): the executable comes first in
 * the dynamic linker's lookup scope, so a dlopen'ed shim and the libraries
 * it pulls in (libuv.so.1, libevent) call the host's definitions, not
 * glibc's.  Unarmed, each one is the system call itself (syscall(2), errno
 * as the kernel set it).  `fail` arms one kind: the next call of that kind
 * returns -1 with the given errno, without reaching the kernel, and the
 * kind is disarmed again.  The state is the scenario process's own (a fork
 * starts with nothing armed).  fchmodat is not wrapped: neither the shims
 * of this tree nor libuv nor libevent call it (nm -D). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host-internal.h"

static int armed[LCH_FAULT_COUNT]; /* errno to fail with; 0: not armed */

static const char *const names[LCH_FAULT_COUNT] = {"accept", "chmod"};

int lch__fault_kind(const char *name) {
  for (int i = 0; i < LCH_FAULT_COUNT; i++)
    if (strcmp(names[i], name) == 0)
      return i;
  return -1;
}

void lch__fault_arm(int kind, int err) {
  armed[kind] = err;
}

/* 1 with errno set when `kind` was armed (now disarmed). */
static int fire(int kind) {
  int e = armed[kind];
  if (e == 0)
    return 0;
  armed[kind] = 0;
  errno = e;
  return 1;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  if (fire(LCH_FAULT_ACCEPT))
    return -1;
  return (int)syscall(SYS_accept4, fd, addr, len, flags);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  if (fire(LCH_FAULT_ACCEPT))
    return -1;
  /* accept(2) is accept4(2) without flags (the only one some ports have). */
  return (int)syscall(SYS_accept4, fd, addr, len, 0);
}

int chmod(const char *path, mode_t mode) {
  if (fire(LCH_FAULT_CHMOD))
    return -1;
  /* chmod(2) is fchmodat(2) at the working directory (the only one some
   * ports have). */
  return (int)syscall(SYS_fchmodat, AT_FDCWD, path, mode);
}

int fchmod(int fd, mode_t mode) {
  if (fire(LCH_FAULT_CHMOD))
    return -1;
  return (int)syscall(SYS_fchmod, fd, mode);
}
