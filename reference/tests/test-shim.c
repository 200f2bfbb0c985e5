/* test-shim.c — the reference shim through its one exported symbol, as
 * the host loads it. */
#include <dlfcn.h>

#include "helpers.h"
#include "lc_shim.h"

TestSuite(shim, .timeout = 20);

static char events[32][96];
static int nevents;

static void on_event(void *ctx, const lc_event_t *ev) {
  (void)ctx;
  if (nevents >= 32)
    return;
  if (ev->type == LC_EVENT_EMIT)
    snprintf(events[nevents++], sizeof(events[0]), "%s emit %s%s%s",
             (const char *)ev->tag, ev->name, ev->error ? " " : "",
             ev->error ? ev->error->code : "");
  else
    snprintf(events[nevents++], sizeof(events[0]), "%s call %s%s%s",
             (const char *)ev->tag, ev->label, ev->error ? " " : "",
             ev->error ? ev->error->code : "");
}

Test(shim, handshake_and_listen) {
  lc_host_t host = {sizeof(lc_host_t), on_event, NULL};
  lc_shim_entry_fn entry;
  const lc_shim_t *shim;
  lc_server_t *s;
  lc_listen_t a;
  lc_address_t addr;
  lc_error_t err;
  void *dl;
  int n;

  dl = dlopen(LCR_SHIM_PATH, RTLD_NOW | RTLD_LOCAL);
  cr_assert(dl != NULL, "%s", dlerror());
  entry = (lc_shim_entry_fn)(uintptr_t)dlsym(dl, LC_SHIM_ENTRY_SYMBOL);
  cr_assert(entry != NULL);
  /* only lc_shim_entry is exported */
  cr_assert(dlsym(dl, "lcr_listen") == NULL);

  cr_assert(entry(0) == NULL); /* a host older than 1.0 */
  shim = entry(LC_ABI_VERSION);
  cr_assert(shim != NULL);
  cr_assert(eq(u32, shim->abi_version, LC_ABI_VERSION));
  cr_assert(eq(u32, shim->size, (uint32_t)sizeof(lc_shim_t)));
  cr_assert(eq(str, (char *)shim->name, "reference"));
  cr_assert(eq(int, shim->init(&host), 0));

  s = shim->server_new("A");
  cr_assert(eq(int, shim->on(s, "listening", "L1"), 0));
  memset(&a, 0, sizeof(a));
  a.size = sizeof(a);
  a.form = LC_FORM_PORT;
  a.has = LC_HAS_PORT | LC_HAS_HOST | LC_HAS_CALLBACK;
  a.port = 0;
  a.host = "127.0.0.1";
  a.callback_label = "cb";
  cr_assert(eq(int, shim->listen(s, &a, &err), 0));
  cr_assert(eq(int, nevents, 0));
  cr_assert(eq(int, shim->abort(s), -1)); /* no signal */

  n = 0;
  while (nevents < 3 && n < 50)
    n += shim->run(100) >= 0;
  cr_assert(eq(int, nevents, 3));
  cr_assert(eq(str, events[0], "A emit listening"));
  cr_assert(eq(str, events[1], "A call L1"));
  cr_assert(eq(str, events[2], "A call cb"));

  addr.size = sizeof(addr);
  cr_assert(eq(int, shim->address(s, &addr), 0));
  cr_assert(eq(int, addr.kind, LC_ADDRESS_INET));
  cr_assert(eq(str, addr.address, "127.0.0.1"));
  cr_assert(eq(int, shim->listening(s), 1));
  cr_assert(ge(int, shim->fd(s), 0));

  /* a synchronous throw */
  cr_assert(eq(int, shim->listen(s, &a, &err), -1));
  cr_assert(eq(str, (char *)err.code, "ERR_SERVER_ALREADY_LISTEN"));

  cr_assert(eq(int, shim->close(s, "C1", &err), 0));
  while (nevents < 5 && shim->run(100) >= 0 && n++ < 50)
    ;
  cr_assert(eq(str, events[3], "A emit close"));
  cr_assert(eq(str, events[4], "A call C1"));
  cr_assert(eq(int, shim->run(0), 0));

  /* options.signal */
  memset(&a, 0, sizeof(a));
  a.size = sizeof(a);
  a.form = LC_FORM_OPTIONS;
  a.has = LC_HAS_PORT | LC_HAS_SIGNAL;
  cr_assert(eq(int, shim->listen(s, &a, &err), 0));
  cr_assert(eq(int, shim->abort(s), 0));
  while (nevents < 6 && shim->run(100) >= 0 && n++ < 50)
    ;
  cr_assert(eq(str, events[5], "A emit close"));

  shim->server_free(s);
  shim->run(0);
  /* No dlclose(): the shim's loop lives as long as the process (the ABI
   * has no shutdown call), and unmapping it would turn that memory into
   * a leak in valgrind's eyes. */
}
