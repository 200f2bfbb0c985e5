/* proto.h — commands of the runner protocol (harness/PROTOCOL.md), parsed.
 *
 * lc_proto_parse() turns one line into an lc_cmd_t, checking every field's
 * presence and type; it touches no process state, so it can be fuzzed
 * (harness/fuzz/) and tested on its own (test_proto.c).
 */
#ifndef LC_PROTO_H
#define LC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "lc_shim.h"

/* Longest line the driver may send, without its '\n' (PROTOCOL.md). */
#define LC_PROTO_LINE_MAX 65536

typedef enum lc_op_e {
  LC_OP_HELLO = 1,
  LC_OP_BEGIN,
  LC_OP_SERVER,
  LC_OP_ON,
  LC_OP_LISTEN,
  LC_OP_CLOSE,
  LC_OP_ADDRESS,
  LC_OP_LISTENING,
  LC_OP_ABORT,
  LC_OP_FD,
  LC_OP_MKSOCK,
  LC_OP_RUN,
  LC_OP_SETTLE,
  LC_OP_END,
  LC_OP_QUIT
} lc_op_t;

typedef enum lc_family_e {
  LC_FAMILY_TCP4 = 1,
  LC_FAMILY_TCP6 = 2,
  LC_FAMILY_UNIX = 3
} lc_family_t;

/* Strings point into `json` and live as long as the command. */
typedef struct lc_cmd_s {
  lc_op_t op;
  const char *op_name;
  int has_seq; /* seq was read (also set when parsing failed later) */
  int64_t seq;
  const char *srv; /* server name; "A" when absent */

  /* begin */
  const char *id, *cwd;
  int umask; /* the scenario process's umask, or -1 to keep the host's */
  /* on */
  const char *event, *label;
  /* close: callback label or NULL */
  const char *cb;
  /* listen: ready to pass to the shim (size, form, has, fields) */
  lc_listen_t listen;
  /* mksock */
  const char *name;
  lc_family_t family;
  const char *address; /* NULL: the family's loopback address */
  int32_t port;
  const char *path;
  size_t path_len;
  int bind, do_listen; /* bind defaults to true, listen to false */
  int32_t backlog;      /* for listen: 511 when absent */
  int has_ipv6only, ipv6only; /* tcp6: IPV6_V6ONLY when given */
  /* run */
  const char *until;
  int64_t ms; /* 3000 when absent */

  lc_json_object_t json;
} lc_cmd_t;

/* Parse one line (without its '\n').  Returns 0, or -1 with a message in
 * errbuf naming the problem; out->has_seq/seq then say whether the seq could
 * be read, so the error can echo it.  Call lc_cmd_free() either way. */
int lc_proto_parse(const char *line, size_t len, lc_cmd_t *out, char *errbuf,
                   size_t errlen);
void lc_cmd_free(lc_cmd_t *cmd);

/* Best effort for a line that is not valid JSON: finds `"seq": <integer>`
 * so the error answer can still echo it.  Returns 1 when found. */
int lc_proto_sniff_seq(const char *line, size_t len, int64_t *seq);

#endif /* LC_PROTO_H */
