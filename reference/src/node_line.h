/* node_line.h — the listen() behaviours that differ between Node.js releases,
 * and the releases with the new behaviour of each: the one place that says
 * which release does what.  Everything else asks lcr__node_has().
 *
 * A loop follows one release (lcr_loop_set_node_version(); the shim takes it
 * from lc_host_t.node_major/minor/patch).  0.0.0, the default, means the
 * newest Node: the new side of every change.  Releases before 20.4.0 (libuv
 * < 1.46: 108-byte paths cut to 107, no abstract names) are not modelled:
 * they behave as 20.4.0.
 */
#ifndef LCR_NODE_LINE_H
#define LCR_NODE_LINE_H

#include <stdint.h>

#include "lcref.h"

/* A release as one number that compares like the release: each part must
 * be below 65536 (the host allows 9999). */
#define LCR_NODE_V(major, minor, patch) \
  (((uint64_t)(major) << 32) | ((uint64_t)(minor) << 16) | (uint64_t)(patch))

/* ---- The thresholds ------------------------------------------------------
 * The first Node.js release with each change, per release line where a
 * change reached lines at different releases.  Adjust them here and nowhere
 * else; node_line.c turns them into the ranges of the table.  The values
 * are those the scenario table's `node` ranges give (its `why` fields name
 * the releases measured); the reference itself never ran them. */

/* libuv 1.48.0 (libuv#4209, libuv#4266), in every Node 22: an abstract name
 * is bound with its exact length, no longer padded with NULs to the whole
 * sockaddr_un; and a path cut to sun_path keeps its cut name as the pipe's
 * name, so close() unlinks the file it created. */
#define LCR_NODE_SINCE_LIBUV_1_48 LCR_NODE_V(22, 0, 0)
/* nodejs/node#55408 ('net: add UV_TCP_REUSEPORT for tcp'), in 22.12.0 and
 * 23.1.0 (23.0.0 lacks it): the reusePort option, and listen flags passed on
 * the host-less branch (ipv6Only without a host). */
#define LCR_NODE_SINCE_LISTEN_FLAGS_22 LCR_NODE_V(22, 12, 0)
#define LCR_NODE_SINCE_LISTEN_FLAGS_23 LCR_NODE_V(23, 1, 0)
/* nodejs/node#52347 (semver-major, 23.0.0): bind with UV_PIPE_NO_TRUNCATE. */
#define LCR_NODE_SINCE_PIPE_NO_TRUNCATE LCR_NODE_V(23, 0, 0)
/* libuv 1.51.0 (libuv#4749, uv_pipe_chmod), through nodejs/node#58124 in
 * 22.17.0 and 24.2.0; no 23.x has it. */
#define LCR_NODE_SINCE_PIPE_CHMOD_EXACT_22 LCR_NODE_V(22, 17, 0)
#define LCR_NODE_SINCE_PIPE_CHMOD_EXACT_24 LCR_NODE_V(24, 2, 0)
/* nodejs/node#54264 ('net: exclude ipv6 loopback addresses from
 * server.listen', semver-minor), in 22.8.0 (hence every 23 and 24): a host is
 * looked up with all its answers, and the first that is not an IPv6
 * link-local address (fe80::/10) is bound; no 20.x has it. */
#define LCR_NODE_SINCE_SKIP_LINK_LOCAL LCR_NODE_V(22, 8, 0)

/* ------------------------------------------------------------------------ */

typedef enum lcr__node_change_e {
  LCR__NODE_PIPE_ABSTRACT_EXACT = 0, /* abstract names: exact length */
  LCR__NODE_PIPE_UNLINK_TRUNCATED,   /* a cut path's file removed at close */
  LCR__NODE_PIPE_NO_TRUNCATE,        /* an overlong path: EINVAL */
  LCR__NODE_PIPE_CHMOD_EXACT,        /* readableAll / writableAll: = mode */
  LCR__NODE_IPV6ONLY_WITHOUT_HOST,   /* ipv6Only counts without a host */
  LCR__NODE_REUSE_PORT,              /* the reusePort option exists */
  LCR__NODE_SKIP_LINK_LOCAL,         /* link-local answers passed over */
  LCR__NODE_CHANGE_COUNT_
} lcr__node_change_t;

/* [from, until): the releases from `from` up to, not including, `until`
 * (0: no end). */
typedef struct lcr__node_range_s {
  uint64_t from;
  uint64_t until;
} lcr__node_range_t;

#define LCR__NODE_MAX_RANGES 2

/* One row of the table: a change, the releases with its new behaviour (one
 * range per release line that got it separately; unused ranges are 0, 0),
 * and what changed. */
typedef struct lcr__node_change_info_s {
  lcr__node_change_t change;
  const char *name; /* a short id, e.g. "pipe-chmod-exact" */
  lcr__node_range_t after_in[LCR__NODE_MAX_RANGES];
  const char *before; /* the old behaviour (every other release) */
  const char *after;  /* the new behaviour */
} lcr__node_change_info_t;

/* The table, indexed by lcr__node_change_t. */
extern const lcr__node_change_info_t lcr__node_changes[LCR__NODE_CHANGE_COUNT_];

/* 1 when release `version` (LCR_NODE_V) has the new behaviour of `change`:
 * it lies in one of its ranges, or is 0 (the newest). */
int lcr__node_version_has(uint64_t version, lcr__node_change_t change);

/* 1 when the servers on `loop` have the new behaviour of `change`. */
int lcr__node_has(const lcr_loop_t *loop, lcr__node_change_t change);

#endif /* LCR_NODE_LINE_H */
