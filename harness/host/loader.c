/* loader.c — loading the shim: dlopen (by its path, or through the fd
 * opened before the privileges were dropped), the lc_shim_entry handshake
 * and the checks of the descriptor it returns, done once in the zygote
 * before it serves; the listening sockets the load left in the zygote; and
 * `hello`, which reports what was loaded.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-internal.h"

/* The size of the 1.0 descriptor: the host reads no further from a 1.0 shim
 * (a later host compiled against a longer lc_shim_t still must not). */
#define LC_SHIM_SIZE_1_0 \
  (offsetof(lc_shim_t, server_free) + sizeof(((lc_shim_t *)0)->server_free))

/* ABI 1.2: the first minor whose descriptor has hold_connections, and the
 * size a descriptor must have to hold it. */
#define LC_ABI_1_2 ((1u << 16) | 2u)
#define LC_SHIM_SIZE_1_2                   \
  (offsetof(lc_shim_t, hold_connections) + \
   sizeof(((lc_shim_t *)0)->hold_connections))

#define MAX_PRELOAD_FDS 256

const char *lch__lib = "";
const lc_shim_t *lch__shim;
char lch__cannot_hold[256];
/* The zygote's fds before the shim loaded: not the shim's. */
static int g_preload_fds[MAX_PRELOAD_FDS], g_n_preload_fds;

static void abi_string(uint32_t v, char *buf, size_t n) {
  snprintf(buf, n, "%u.%u", (unsigned)(v >> 16), (unsigned)(v & 0xFFFF));
}

void lch__load_shim(const char *lib, int fd) {
  char via[64];
  const char *path = lib;
  /* By its path when the user the host now is can read it ($ORIGIN works),
   * else (a checkout under a 0700 home) through the fd opened before. */
  if (fd >= 0 && access(lib, R_OK) < 0) {
    snprintf(via, sizeof(via), "/proc/self/fd/%d", fd);
    path = via;
  }
  /* All but fd, which is closed once loaded: a socket may take its number. */
  int n = lch__open_fds(g_preload_fds, MAX_PRELOAD_FDS);
  for (int i = 0; i < n; i++)
    if (g_preload_fds[i] != fd)
      g_preload_fds[g_n_preload_fds++] = g_preload_fds[i];
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (fd >= 0)
    close(fd);
  if (!h) {
    const char *e = dlerror();
    lch__fatal("[%s] is not a loadable shared library%s: %s", lib,
               path == lib ? ""
                           : " (loaded through the fd opened before the "
                             "privileges were dropped)",
               e ? e : "unknown error");
  }
  dlerror();
  void *sym = dlsym(h, LC_SHIM_ENTRY_SYMBOL);
  if (!sym)
    lch__fatal("no entry point [%s] in shared library [%s]",
               LC_SHIM_ENTRY_SYMBOL, lib);
  lc_shim_entry_fn entry;
  memcpy(&entry, &sym, sizeof(entry)); /* POSIX: object to function pointer */
  const lc_shim_t *d = entry(LC_ABI_VERSION);
  char mine[32], theirs[32];
  abi_string(LC_ABI_VERSION, mine, sizeof(mine));
  if (!d)
    lch__fatal("[%s] refused shim ABI %s: %s(%s) returned NULL", lib, mine,
               LC_SHIM_ENTRY_SYMBOL, mine);
  abi_string(d->abi_version, theirs, sizeof(theirs));
  if ((d->abi_version >> 16) != LC_ABI_VERSION_MAJOR)
    lch__fatal("[%s] speaks shim ABI %s, this host speaks %s", lib, theirs,
               mine);
  if (d->abi_version > LC_ABI_VERSION)
    lch__fatal("[%s] answered shim ABI %s, newer than the %s this host offered",
               lib, theirs, mine);
  if (d->size < LC_SHIM_SIZE_1_0)
    lch__fatal("[%s] descriptor size %u is smaller than the ABI 1.0 size %zu",
               lib, (unsigned)d->size, (size_t)LC_SHIM_SIZE_1_0);
  static const struct {
    const char *name;
    size_t off;
  } fns[] = {
      {"init", offsetof(lc_shim_t, init)},
      {"server_new", offsetof(lc_shim_t, server_new)},
      {"on", offsetof(lc_shim_t, on)},
      {"listen", offsetof(lc_shim_t, listen)},
      {"close", offsetof(lc_shim_t, close)},
      {"address", offsetof(lc_shim_t, address)},
      {"listening", offsetof(lc_shim_t, listening)},
      {"abort", offsetof(lc_shim_t, abort)},
      {"fd", offsetof(lc_shim_t, fd)},
      {"run", offsetof(lc_shim_t, run)},
      {"server_free", offsetof(lc_shim_t, server_free)},
  };
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    void (*fp)(void);
    memcpy(&fp, (const char *)d + fns[i].off, sizeof(fp));
    if (!fp)
      lch__fatal("[%s] descriptor has no [%s] function (NULL in ABI 1.0)", lib,
                 fns[i].name);
  }
  /* Optional members of later minors: read only when the shim answered that
   * minor and its descriptor is long enough; absent is no error. */
  if (d->abi_version < LC_ABI_1_2)
    snprintf(lch__cannot_hold, sizeof(lch__cannot_hold),
             "the shim speaks ABI %s; keeping accepted connections open "
             "needs ABI 1.2 (lc_shim_t.hold_connections)",
             theirs);
  else if (d->size < LC_SHIM_SIZE_1_2)
    snprintf(lch__cannot_hold, sizeof(lch__cannot_hold),
             "the shim's descriptor (size %u) ends before "
             "hold_connections (ABI 1.2)",
             (unsigned)d->size);
  else if (!d->hold_connections)
    snprintf(lch__cannot_hold, sizeof(lch__cannot_hold),
             "the shim cannot keep accepted connections open "
             "(hold_connections is NULL)");
  lch__shim = d;
}

int lch__loadtime_sockets(char *buf, size_t size) {
  int fds[MAX_PRELOAD_FDS], n = lch__open_fds(fds, MAX_PRELOAD_FDS), found = 0;
  size_t used = strlen(buf);
  for (int i = 0; i < n; i++) {
    char link[64], target[256];
    int listening = 0, known = 0;
    socklen_t len = sizeof(listening);
    for (int k = 0; k < g_n_preload_fds && !known; k++)
      known = g_preload_fds[k] == fds[i];
    if (known ||
        getsockopt(fds[i], SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
        !listening)
      continue;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
    ssize_t k = readlink(link, target, sizeof(target) - 1);
    target[k > 0 ? k : 0] = '\0';
    int w = snprintf(buf + used, size - used,
                     "fd %d (%s) opened at load time\n", fds[i], target);
    if (w > 0 && (size_t)w < size - used)
      used += (size_t)w;
    found++;
  }
  return found;
}

/* ------------------------------------------------------------------------ */
/* Commands answered by both the zygote and the scenario child */

void lch__do_hello(const lch__cmd_t *cmd) {
  char abi[32];
  abi_string(lch__shim->abi_version, abi, sizeof(abi));
  lch__resp_begin("ok", 1, cmd->seq);
  lch__jw_cstr(&lch__resp, "runner", "c-host");
  lch__jw_cstr(&lch__resp, "impl", lch__shim->name);
  lch__jw_cstr(&lch__resp, "impl_version", lch__shim->impl_version);
  lch__jw_cstr(&lch__resp, "abi", abi);
  if (lch__node_version[0] || lch__node_version[1] || lch__node_version[2]) {
    char node[48];
    snprintf(node, sizeof(node), "%u.%u.%u", (unsigned)lch__node_version[0],
             (unsigned)lch__node_version[1], (unsigned)lch__node_version[2]);
    lch__jw_cstr(&lch__resp, "node_version", node);
  } else {
    lch__jw_null(&lch__resp, "node_version");
  }
  if (lch__cannot_hold[0]) {
    /* What this shim cannot do: the scenarios that need it SKIP. */
    lch__jw_arr(&lch__resp, "lacks");
    lch__jw_begin(&lch__resp);
    lch__jw_cstr(&lch__resp, "capability", "hold");
    lch__jw_cstr(&lch__resp, "reason", lch__cannot_hold);
    lch__jw_end(&lch__resp);
    lch__jw_arr_end(&lch__resp);
  }
  lch__resp_send();
}
