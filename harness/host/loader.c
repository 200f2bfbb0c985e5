/* loader.c — loading the shim: dlopen, the lc_shim_entry handshake and the
 * checks of the descriptor it returns, done once in the zygote before it
 * serves; and `hello`, which reports what was loaded.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "host-internal.h"

/* The size of the 1.0 descriptor: the host reads no further from a 1.0 shim
 * (a later host compiled against a longer lc_shim_t still must not). */
#define LC_SHIM_SIZE_1_0 \
  (offsetof(lc_shim_t, server_free) + sizeof(((lc_shim_t *)0)->server_free))

const char *lch__lib = "";
const lc_shim_t *lch__shim;

static void abi_string(uint32_t v, char *buf, size_t n) {
  snprintf(buf, n, "%u.%u", (unsigned)(v >> 16), (unsigned)(v & 0xFFFF));
}

void lch__load_shim(const char *lib) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    lch__fatal("[%s] is not a loadable shared library: %s", lib,
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
  lch__shim = d;
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
  lch__jw_null(&lch__resp, "node_version");
  lch__resp_send();
}
