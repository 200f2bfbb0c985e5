/* proto.h — commands of the runner protocol (harness/PROTOCOL.md), parsed.
 *
 * lch__proto_parse() turns one line into an lch__cmd_t, checking every field's
 * presence and type; it touches no process state, so it can be fuzzed
 * (harness/fuzz/) and tested on its own (test_proto.c).
 */
#ifndef LCH_PROTO_H
#define LCH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "lc_shim.h"

/* Longest line the driver may send, without its '\n' (PROTOCOL.md). */
#define LCH_PROTO_LINE_MAX 65536

typedef enum lch__op_e {
  LCH_OP_HELLO = 1,
  LCH_OP_BEGIN,
  LCH_OP_SERVER,
  LCH_OP_ON,
  LCH_OP_LISTEN,
  LCH_OP_CLOSE,
  LCH_OP_ADDRESS,
  LCH_OP_LISTENING,
  LCH_OP_ABORT,
  LCH_OP_FD,
  LCH_OP_MKSOCK,
  LCH_OP_RUN,
  LCH_OP_SETTLE,
  LCH_OP_END,
  LCH_OP_QUIT,
  LCH_OP_HOLD,
  LCH_OP_FAIL
} lch__op_t;

typedef enum lch__family_e {
  LCH_FAMILY_TCP4 = 1,
  LCH_FAMILY_TCP6 = 2,
  LCH_FAMILY_UNIX = 3,
  LCH_FAMILY_FILE = 4 /* a regular file, not a socket */
} lch__family_t;

/* Strings point into `json` and live as long as the command. */
typedef struct lch__cmd_s {
  lch__op_t op;
  const char *op_name;
  int has_seq; /* seq was read (also set when parsing failed later) */
  int64_t seq;
  const char *srv; /* server name; "A" when absent */

  /* begin */
  const char *id, *cwd;
  int umask; /* the scenario process's umask, or -1 to keep the host's */
  /* on */
  const char *event, *label;
  int then_close; /* then: "close": the listener calls close() when it ran */
  /* close: callback label or NULL */
  const char *cb;
  /* listen: ready to pass to the shim (size, form, has, fields) */
  lc_listen_t listen;
  /* mksock */
  const char *name;
  lch__family_t family;
  const char *address; /* NULL: the family's loopback address */
  int32_t port;
  const char *path;
  size_t path_len;
  int bind, do_listen;        /* bind defaults to true, listen to false */
  int32_t backlog;            /* for listen: 511 when absent */
  int has_ipv6only, ipv6only; /* tcp6: IPV6_V6ONLY when given */
  /* run */
  const char *until;
  int64_t ms; /* 3000 when absent */
  /* fail: the kind of call ("accept", "chmod") and the errno to fail with */
  const char *call;
  int fail_errno;

  lch__json_object_t json;
} lch__cmd_t;

/* Parse one line (without its '\n').  Returns 0, or -1 with a message in
 * errbuf naming the problem; out->has_seq/seq then say whether the seq could
 * be read, so the error can echo it.  Call lch__cmd_free() either way. */
int lch__proto_parse(const char *line, size_t len, lch__cmd_t *out,
                     char *errbuf, size_t errlen);
void lch__cmd_free(lch__cmd_t *cmd);

/* Best effort for a line that is not valid JSON: finds `"seq": <integer>`
 * so the error answer can still echo it.  Returns 1 when found. */
int lch__proto_sniff_seq(const char *line, size_t len, int64_t *seq);

#endif /* LCH_PROTO_H */
