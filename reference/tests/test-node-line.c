/* test-node-line.c — the table of what each Node.js release does
 * (src/node_line.h): the three release lines the suite checks, the newest,
 * and the edges of every range. */
#include "helpers.h"

TestSuite(node_line, .timeout = 20);

#define ALL_CHANGES ((1u << LCR__NODE_CHANGE_COUNT_) - 1)

static unsigned changes_of(uint64_t v) {
  unsigned got = 0;
  int c;

  for (c = 0; c < LCR__NODE_CHANGE_COUNT_; c++)
    if (lcr__node_version_has(v, (lcr__node_change_t)c))
      got |= 1u << c;
  return got;
}

#define BIT(c) (1u << (c))

Test(node_line, table_is_indexed_and_described) {
  int c, i;

  for (c = 0; c < LCR__NODE_CHANGE_COUNT_; c++) {
    const lcr__node_change_info_t *row = &lcr__node_changes[c];
    int open_ended = 0;
    cr_assert(eq(int, (int)row->change, c), "row %d is out of place", c);
    cr_assert(row->name != NULL && row->before != NULL && row->after != NULL);
    for (i = 0; i < LCR__NODE_MAX_RANGES; i++) {
      const lcr__node_range_t *r = &row->after_in[i];
      if (r->from == 0)
        continue;
      cr_assert(r->until == 0 || r->until > r->from, "%s: empty range",
                row->name);
      open_ended |= r->until == 0;
    }
    /* 0.0.0 is "the newest": every change must still hold at the end. */
    cr_assert(open_ended, "%s: no range reaches the newest release", row->name);
  }
}

Test(node_line, the_newest_has_every_change) {
  cr_assert(eq(u32, changes_of(0), ALL_CHANGES));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(9999, 9999, 9999)), ALL_CHANGES));
}

Test(node_line, the_checked_releases) {
  /* lines.py: 20.20.2, 22.23.5, 24.22.3 */
  cr_assert(eq(u32, changes_of(LCR_NODE_V(20, 20, 2)), 0));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(22, 23, 5)),
               ALL_CHANGES & ~BIT(LCR__NODE_PIPE_NO_TRUNCATE)));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(24, 22, 3)), ALL_CHANGES));
}

Test(node_line, releases_in_between) {
  unsigned libuv_1_48 =
      BIT(LCR__NODE_PIPE_ABSTRACT_EXACT) | BIT(LCR__NODE_PIPE_UNLINK_TRUNCATED);
  unsigned flags =
      BIT(LCR__NODE_IPV6ONLY_WITHOUT_HOST) | BIT(LCR__NODE_REUSE_PORT);
  unsigned link_local = BIT(LCR__NODE_SKIP_LINK_LOCAL);

  cr_assert(eq(u32, changes_of(LCR_NODE_V(21, 9999, 9999)), 0));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(22, 0, 0)), libuv_1_48));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(22, 7, 9999)), libuv_1_48));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(22, 8, 0)), libuv_1_48 | link_local));
  cr_assert(
      eq(u32, changes_of(LCR_NODE_V(22, 11, 0)), libuv_1_48 | link_local));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(22, 12, 0)),
               libuv_1_48 | link_local | flags));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(22, 16, 0)),
               libuv_1_48 | link_local | flags));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(22, 17, 0)),
               ALL_CHANGES & ~BIT(LCR__NODE_PIPE_NO_TRUNCATE)));
  /* 23.0.0: no truncation, but neither the flags nor the exact chmod */
  cr_assert(eq(u32, changes_of(LCR_NODE_V(23, 0, 0)),
               libuv_1_48 | link_local | BIT(LCR__NODE_PIPE_NO_TRUNCATE)));
  cr_assert(
      eq(u32, changes_of(LCR_NODE_V(23, 1, 0)),
         libuv_1_48 | link_local | BIT(LCR__NODE_PIPE_NO_TRUNCATE) | flags));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(23, 11, 1)),
               ALL_CHANGES & ~BIT(LCR__NODE_PIPE_CHMOD_EXACT)));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(24, 1, 0)),
               ALL_CHANGES & ~BIT(LCR__NODE_PIPE_CHMOD_EXACT)));
  cr_assert(eq(u32, changes_of(LCR_NODE_V(24, 2, 0)), ALL_CHANGES));
}

Test(node_line, a_loop_follows_its_release) {
  uv_loop_t uv;
  lcr_loop_t loop;

  cr_assert(eq(int, uv_loop_init(&uv), 0));
  cr_assert(eq(int, lcr_loop_init(&loop, &uv), 0));
  cr_assert(eq(int, lcr__node_has(&loop, LCR__NODE_PIPE_NO_TRUNCATE), 1));
  lcr_loop_set_node_version(&loop, 20, 20, 2);
  cr_assert(eq(int, lcr__node_has(&loop, LCR__NODE_PIPE_NO_TRUNCATE), 0));
  lcr_loop_set_node_version(&loop, 0, 0, 0);
  cr_assert(eq(int, lcr__node_has(&loop, LCR__NODE_PIPE_NO_TRUNCATE), 1));
  lcr_loop_close(&loop);
  uv_run(&uv, UV_RUN_DEFAULT);
  cr_assert(eq(int, uv_loop_close(&uv), 0));
}
