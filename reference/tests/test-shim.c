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
  lc_host_t host = {sizeof(lc_host_t), on_event, NULL, 0, 0, 0};
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
  shim = entry(1u << 16);      /* a 1.0 host: the same shim, as 1.0 */
  cr_assert(shim != NULL);
  cr_assert(eq(u32, shim->abi_version, 1u << 16));
  cr_assert(eq(u32, shim->size, (uint32_t)sizeof(lc_shim_t)));
  cr_assert(shim->hold_connections == NULL); /* not a 1.0 member */
  shim = entry((1u << 16) | 1u); /* a 1.1 host: 1.1 added nothing here */
  cr_assert(shim != NULL);
  cr_assert(eq(u32, shim->abi_version, 1u << 16));
  shim = entry(LC_ABI_VERSION);
  cr_assert(shim != NULL);
  cr_assert(eq(u32, shim->abi_version, LC_ABI_VERSION));
  cr_assert(eq(u32, shim->size, (uint32_t)sizeof(lc_shim_t)));
  cr_assert(shim->hold_connections != NULL); /* ABI 1.2 */
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

/* run(ms) returns by its timeout whatever the loop holds: nothing at all, or
 * a listening server with nothing due.  The loop's cached time goes stale
 * while the host does other work (the sleeps), and a short timeout can be
 * due by the loop's first timer pass: run() once blocked in poll for good
 * then.  The bound is generous (valgrind, loaded machines); the bug was a
 * hang. */
static const lc_shim_t *timed_shim;

static int64_t timed_run(int ms) {
  uint64_t t0 = uv_hrtime();
  cr_assert(eq(int, timed_shim->run(ms), 0));
  return (int64_t)((uv_hrtime() - t0) / 1000000);
}

Test(shim, run_returns_by_its_timeout) {
  static lc_host_t host = {sizeof(lc_host_t), on_event, NULL, 0, 0, 0};
  lc_shim_entry_fn entry;
  lc_server_t *s;
  lc_listen_t a;
  lc_error_t err;
  void *dl;
  int i;

  dl = dlopen(LCR_SHIM_PATH, RTLD_NOW | RTLD_LOCAL);
  cr_assert(dl != NULL, "%s", dlerror());
  entry = (lc_shim_entry_fn)(uintptr_t)dlsym(dl, LC_SHIM_ENTRY_SYMBOL);
  cr_assert(entry != NULL);
  timed_shim = entry(LC_ABI_VERSION);
  cr_assert(timed_shim != NULL);
  cr_assert(eq(int, timed_shim->init(&host), 0));

  /* Nothing active. */
  cr_assert(lt(i64, timed_run(50), 2000));
  usleep(20000);
  cr_assert(lt(i64, timed_run(5), 2000));

  /* A listening server, its 'listening' already reported. */
  s = timed_shim->server_new("A");
  memset(&a, 0, sizeof(a));
  a.size = sizeof(a);
  a.form = LC_FORM_PORT;
  a.has = LC_HAS_PORT | LC_HAS_HOST;
  a.port = 0;
  a.host = "127.0.0.1";
  cr_assert(eq(int, timed_shim->listen(s, &a, &err), 0));
  for (i = 0; i < 50 && nevents < 1; i++)
    timed_shim->run(100);
  cr_assert(eq(str, events[0], "A emit listening"));

  cr_assert(lt(i64, timed_run(50), 2000));
  for (i = 0; i < 10; i++) {
    usleep(20000); /* the loop's time is 20 ms stale */
    cr_assert(lt(i64, timed_run(5), 2000));
    cr_assert(lt(i64, timed_run(1), 2000)); /* due at the next ms tick */
    cr_assert(lt(i64, timed_run(1), 2000));
  }

  timed_shim->server_free(s);
  timed_shim->run(0);
}
