/* node_line.c — which Node.js release does what (node_line.h): the table of
 * the listen() behaviours that changed between releases, and the release a
 * loop follows.
 */
#include "node_line.h"

#include "lcr-internal.h"

/* From a threshold to the end of its release line, or on for good. */
#define UNTIL_NEXT_MAJOR(v) \
  { (v), ((v) & ~(uint64_t)0xFFFFFFFFu) + (1ull << 32) }
#define ONWARDS(v) \
  { (v), 0 }

const lcr__node_change_info_t lcr__node_changes[LCR__NODE_CHANGE_COUNT_] = {
    {LCR__NODE_PIPE_ABSTRACT_EXACT,
     "pipe-abstract-exact",
     {ONWARDS(LCR_NODE_SINCE_LIBUV_1_48)},
     "an abstract name is bound with addrlen sizeof(struct sockaddr_un): the "
     "kernel's name is padded with NULs to 108 bytes, so only clients that "
     "pad the same way reach it (libuv 1.46 uv_pipe_bind2)",
     "an abstract name is bound with its exact length (libuv >= 1.48)"},
    {LCR__NODE_PIPE_UNLINK_TRUNCATED,
     "pipe-unlink-truncated",
     {ONWARDS(LCR_NODE_SINCE_LIBUV_1_48)},
     "a path cut to sun_path keeps its full name as the pipe's name: close() "
     "unlinks the full, untruncated name (ENOENT, ignored), so the truncated "
     "socket file stays and a new listen() on the path gets EADDRINUSE",
     "the pipe's name is the cut name: close() removes the truncated file "
     "(libuv >= 1.48)"},
    {LCR__NODE_PIPE_NO_TRUNCATE,
     "pipe-no-truncate",
     {ONWARDS(LCR_NODE_SINCE_PIPE_NO_TRUNCATE)},
     "a path longer than sun_path (109+ bytes) is bound at its first 108 "
     "bytes with no error; address() reports the full path",
     "a path longer than sun_path is refused: an asynchronous 'error' EINVAL "
     "(syscall 'listen', address the path), no file created "
     "(UV_PIPE_NO_TRUNCATE)"},
    {LCR__NODE_PIPE_CHMOD_EXACT,
     "pipe-chmod-exact",
     {UNTIL_NEXT_MAJOR(LCR_NODE_SINCE_PIPE_CHMOD_EXACT_22),
      ONWARDS(LCR_NODE_SINCE_PIPE_CHMOD_EXACT_24)},
     "readableAll / writableAll OR S_IR* / S_IW* for everyone into the socket "
     "file's mode, with no chmod when the bits are there (libuv < 1.51 "
     "uv_pipe_chmod: 0755 stays 0755, 0755 + writableAll is 0777)",
     "readableAll / writableAll set the mode to exactly 0444 / 0222 / 0666, "
     "whatever the umask (libuv >= 1.51 uv_pipe_chmod: fchmod, then chmod of "
     "the name)"},
    {LCR__NODE_IPV6ONLY_WITHOUT_HOST,
     "ipv6only-without-host",
     {UNTIL_NEXT_MAJOR(LCR_NODE_SINCE_LISTEN_FLAGS_22),
      ONWARDS(LCR_NODE_SINCE_LISTEN_FLAGS_23)},
     "listen({port, ipv6Only: true}) without a host ignores ipv6Only: "
     "lib/net.js "
     "passes its flags on the host branch only (lookupAndListen), so the "
     "default '::' socket stays dual-stack (IPV6_V6ONLY=0)",
     "ipv6Only counts without a host too: the default '::' socket gets "
     "IPV6_V6ONLY=1 (the IPv4 fallback when '::' fails is unchanged)"},
    {LCR__NODE_REUSE_PORT,
     "reuse-port",
     {UNTIL_NEXT_MAJOR(LCR_NODE_SINCE_LISTEN_FLAGS_22),
      ONWARDS(LCR_NODE_SINCE_LISTEN_FLAGS_23)},
     "there is no reusePort option: listen({reusePort: true}) is accepted and "
     "SO_REUSEPORT stays unset",
     "reusePort: true binds with UV_TCP_REUSEPORT (SO_REUSEPORT=1)"},
    {LCR__NODE_SKIP_LINK_LOCAL,
     "skip-link-local",
     {ONWARDS(LCR_NODE_SINCE_SKIP_LINK_LOCAL)},
     "listen(port, host) binds the resolver's first answer for the host, an "
     "IPv6 link-local address (fe80::/10) included",
     "listen(port, host) binds the first of the resolver's answers that is "
     "not an IPv6 link-local address (fe80::/10), and the first answer only "
     "when they all are"},
};

int lcr__node_version_has(uint64_t version, lcr__node_change_t change) {
  const lcr__node_range_t *r;
  int i;

  if (version == 0)
    return 1;
  for (i = 0; i < LCR__NODE_MAX_RANGES; i++) {
    r = &lcr__node_changes[change].after_in[i];
    if (r->from != 0 && version >= r->from &&
        (r->until == 0 || version < r->until))
      return 1;
  }
  return 0;
}

int lcr__node_has(const lcr_loop_t *loop, lcr__node_change_t change) {
  return lcr__node_version_has(
      LCR_NODE_V(loop->node_version[0], loop->node_version[1],
                 loop->node_version[2]),
      change);
}

void lcr_loop_set_node_version(lcr_loop_t *loop, unsigned major, unsigned minor,
                               unsigned patch) {
  /* LCR_NODE_V keeps 16 bits of minor and patch; no release comes near. */
  loop->node_version[0] = major;
  loop->node_version[1] = minor < 0xFFFF ? minor : 0xFFFF;
  loop->node_version[2] = patch < 0xFFFF ? patch : 0xFFFF;
}
