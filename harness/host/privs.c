/* privs.c — what the host does to itself before the shim loads, so that no
 * code of the shim (its constructors and lc_shim_entry included) runs as
 * root or outside its limits: dropping privileges (--run-as, checked in
 * /proc/self/status), the resource limits (--limit-*), and the parent-death
 * signal, which a credential change clears.  The scenario processes inherit
 * all of it from the zygote.
 */
#define _GNU_SOURCE /* setresuid, setresgid */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host-internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_ASAN 1
#endif
#endif

/* Every capability out of the bounding set, so that nothing (an execve of a
 * set-uid or file-capability program included) can get one back. */
static void drop_bounding_set(void) {
  for (int cap = 0; cap < 64; cap++) {
    int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (r < 0 && errno == EINVAL)
      return; /* past the last capability this kernel knows */
    if (r < 0)
      lch__fatal("--run-as: reading capability %d of the bounding set: %s", cap,
                 strerror(errno));
    if (r == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
      lch__fatal(
          "--run-as: dropping capability %d from the bounding set: %s "
          "(the host must run as root to use --run-as)",
          cap, strerror(errno));
  }
}

/* The value of /proc/self/status's `name:` line, or NULL. */
static const char *status_field(const char *status, const char *name) {
  size_t n = strlen(name);
  for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
    if (strncmp(p, name, n) == 0 && p[n] == ':')
      return p + n + 1;
  return NULL;
}

/* All four ids of a Uid: or Gid: line equal to want. */
static int ids_are(const char *status, const char *name, unsigned long want) {
  const char *v = status_field(status, name);
  unsigned long id[4];
  return v &&
         sscanf(v, "%lu %lu %lu %lu", &id[0], &id[1], &id[2], &id[3]) == 4 &&
         id[0] == want && id[1] == want && id[2] == want && id[3] == want;
}

/* The kernel's word, not the return values: /proc/self/status must show
 * the ids, no groups, no capability in any set, and no_new_privs. */
static void check_status(uid_t uid, gid_t gid) {
  static const char *caps[] = {"CapInh", "CapPrm", "CapEff", "CapBnd",
                               "CapAmb"};
  char status[8192];
  size_t used = 0;
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    lch__fatal("--run-as: cannot check the privileges: /proc/self/status: %s",
               strerror(errno));
  for (;;) {
    ssize_t r = read(fd, status + used, sizeof(status) - 1 - used);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    used += (size_t)r;
  }
  close(fd);
  status[used] = '\0';
  if (!ids_are(status, "Uid", uid) || !ids_are(status, "Gid", gid))
    lch__fatal(
        "--run-as %lu:%lu: /proc/self/status shows other ids after "
        "the drop",
        (unsigned long)uid, (unsigned long)gid);
  const char *groups = status_field(status, "Groups");
  if (!groups || groups[strspn(groups, " \t")] != '\n')
    lch__fatal(
        "--run-as: /proc/self/status shows supplementary groups after "
        "the drop");
  for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
    const char *v = status_field(status, caps[i]);
    char *end;
    if (!v)
      lch__fatal("--run-as: /proc/self/status has no %s line", caps[i]);
    errno = 0;
    unsigned long long set = strtoull(v, &end, 16);
    if (errno || end == v || set != 0)
      lch__fatal("--run-as: capabilities remain after the drop (%s %.16s)",
                 caps[i], v + strspn(v, " \t"));
  }
  const char *nnp = status_field(status, "NoNewPrivs");
  if (!nnp || atoi(nnp) != 1)
    lch__fatal("--run-as: /proc/self/status does not show NoNewPrivs 1");
}

void lch__drop_privileges(uid_t uid, gid_t gid) {
  drop_bounding_set();
  /* Ambient capabilities go with the uid change too; clear them first
   * anyway (EINVAL: a kernel without them). */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
      errno != EINVAL)
    lch__fatal("--run-as: clearing the ambient capabilities: %s",
               strerror(errno));
  if (setgroups(0, NULL) < 0)
    lch__fatal("--run-as: setgroups: %s", strerror(errno));
  if (setresgid(gid, gid, gid) < 0)
    lch__fatal("--run-as: setresgid(%lu): %s", (unsigned long)gid,
               strerror(errno));
  if (setresuid(uid, uid, uid) < 0)
    lch__fatal("--run-as: setresuid(%lu): %s", (unsigned long)uid,
               strerror(errno));
  /* The uid change empties the permitted and effective sets, not the
   * inheritable one. */
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  memset(data, 0, sizeof(data));
  if (syscall(SYS_capset, &hdr, data) < 0)
    lch__fatal("--run-as: capset: %s", strerror(errno));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    lch__fatal("--run-as: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
  check_status(uid, gid);
  /* The uid change made the host undumpable, which gives /proc/self/ to
   * root: the host and the scenarios read their /proc/self/fd. */
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
    lch__fatal("--run-as: PR_SET_DUMPABLE: %s", strerror(errno));
}

/* Soft and hard limit to v, or to the hard limit already lower (raising it
 * would take a capability the host may not have). */
static void set_limit(int resource, const char *option, unsigned long long v) {
  struct rlimit rl;
  if (getrlimit(resource, &rl) < 0)
    lch__fatal("%s: getrlimit: %s", option, strerror(errno));
  rlim_t want = (rlim_t)v;
  if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
    want = rl.rlim_max;
  rl.rlim_cur = rl.rlim_max = want;
  if (setrlimit(resource, &rl) < 0)
    lch__fatal("%s %llu: setrlimit: %s", option, v, strerror(errno));
}

void lch__set_limits(const lch__limits_t *l) {
  if (l->mem) {
#ifdef HOST_ASAN
    fprintf(stderr,
            "lc-host: --limit-mem ignored: this host is built with "
            "AddressSanitizer, which reserves terabytes of address space\n");
#else
    set_limit(RLIMIT_AS, "--limit-mem", l->mem);
#endif
  }
  if (l->fds)
    set_limit(RLIMIT_NOFILE, "--limit-fds", l->fds);
  /* Counted per real uid, all namespaces together; root is exempt. */
  if (l->procs)
    set_limit(RLIMIT_NPROC, "--limit-procs", l->procs);
}

void lch__die_with_parent(pid_t parent) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    fprintf(stderr, "lc-host: PR_SET_PDEATHSIG: %s\n", strerror(errno));
  /* A parent that died before the prctl sent no signal.  (As PID 1 of a
   * namespace the parent is outside it and getppid() is 0 throughout;
   * `unshare --kill-child` set the signal at the start.) */
  if (getppid() != parent)
    exit(1);
}
