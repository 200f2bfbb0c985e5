/* proto.c — see proto.h. */
#include "proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct op_def_s {
  const char *name;
  lch__op_t op;
  const char *fields; /* allowed besides "op" and "seq", space-separated */
} op_def_t;

static const op_def_t op_defs[] = {
    {"hello", LCH_OP_HELLO, ""},
    {"begin", LCH_OP_BEGIN, "id cwd umask"},
    {"server", LCH_OP_SERVER, "srv"},
    {"on", LCH_OP_ON, "srv event label then"},
    {"listen", LCH_OP_LISTEN,
     "srv form port host backlog path fd exclusive ipv6Only readableAll "
     "writableAll reusePort signal cb"},
    {"close", LCH_OP_CLOSE, "srv cb"},
    {"address", LCH_OP_ADDRESS, "srv"},
    {"listening", LCH_OP_LISTENING, "srv"},
    {"abort", LCH_OP_ABORT, "srv"},
    {"fd", LCH_OP_FD, "srv"},
    {"hold", LCH_OP_HOLD, "srv"},
    {"mksock", LCH_OP_MKSOCK,
     "name family address port path bind listen backlog ipv6Only"},
    {"run", LCH_OP_RUN, "srv until ms"},
    {"settle", LCH_OP_SETTLE, ""},
    {"end", LCH_OP_END, ""},
    {"quit", LCH_OP_QUIT, ""},
    {"fail", LCH_OP_FAIL, "call errno"},
};

static int err(char *errbuf, size_t errlen, const char *fmt, ...) {
  if (errbuf && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static int word_in(const char *list, const char *w) {
  size_t n = strlen(w);
  const char *p = list;
  while (*p) {
    const char *e = strchr(p, ' ');
    size_t k = e ? (size_t)(e - p) : strlen(p);
    if (k == n && memcmp(p, w, n) == 0)
      return 1;
    p += k;
    while (*p == ' ')
      p++;
  }
  return 0;
}

typedef struct ctx_s {
  lch__cmd_t *cmd;
  char *errbuf;
  size_t errlen;
} ctx_t;

/* Each getter returns 1 when the field is present and well-typed, 0 when it
 * is absent (and not required), -1 with a message otherwise. */
static int get_bytes(ctx_t *c, const char *key, int required, const char **s,
                     size_t *n) {
  const lch__json_member_t *m = lch__json_get(&c->cmd->json, key);
  if (!m) {
    if (required)
      return err(c->errbuf, c->errlen, "%s: missing field [%s] (string)",
                 c->cmd->op_name, key);
    return 0;
  }
  if (m->type != LCH_JSON_STRING)
    return err(c->errbuf, c->errlen, "%s: field [%s] must be a string, not %s",
               c->cmd->op_name, key, lch__json_type_name(m->type));
  *s = m->str;
  *n = m->str_len;
  return 1;
}

static int get_str(ctx_t *c, const char *key, int required, const char **s) {
  size_t n = 0;
  int r = get_bytes(c, key, required, s, &n);
  if (r == 1 && strlen(*s) != n)
    return err(c->errbuf, c->errlen,
               "%s: field [%s] must not hold a NUL character (\\u0000)",
               c->cmd->op_name, key);
  return r;
}

static int get_int(ctx_t *c, const char *key, int required, int64_t lo,
                   int64_t hi, int64_t *v) {
  const lch__json_member_t *m = lch__json_get(&c->cmd->json, key);
  if (!m) {
    if (required)
      return err(c->errbuf, c->errlen, "%s: missing field [%s] (integer)",
                 c->cmd->op_name, key);
    return 0;
  }
  if (m->type != LCH_JSON_INT)
    return err(c->errbuf, c->errlen,
               "%s: field [%s] must be an integer, not %s", c->cmd->op_name,
               key, lch__json_type_name(m->type));
  if (m->num < lo || m->num > hi)
    return err(c->errbuf, c->errlen,
               "%s: field [%s] = %lld is outside [%lld, %lld]", c->cmd->op_name,
               key, (long long)m->num, (long long)lo, (long long)hi);
  *v = m->num;
  return 1;
}

static int get_bool(ctx_t *c, const char *key, int *v) {
  const lch__json_member_t *m = lch__json_get(&c->cmd->json, key);
  if (!m)
    return 0;
  if (m->type != LCH_JSON_BOOL)
    return err(c->errbuf, c->errlen, "%s: field [%s] must be a boolean, not %s",
               c->cmd->op_name, key, lch__json_type_name(m->type));
  *v = m->boolean;
  return 1;
}

static int get_i32(ctx_t *c, const char *key, int32_t *v) {
  int64_t x = 0;
  int r = get_int(c, key, 0, INT32_MIN, INT32_MAX, &x);
  if (r == 1)
    *v = (int32_t)x;
  return r;
}

static int parse_listen(ctx_t *c) {
  lch__cmd_t *cmd = c->cmd;
  lc_listen_t *l = &cmd->listen;
  const char *form = NULL;
  size_t n = 0;
  int r, b = 0;
  static const struct {
    const char *key;
    uint32_t bit;
    size_t off;
  } bools[] = {
      {"exclusive", LC_HAS_EXCLUSIVE, offsetof(lc_listen_t, exclusive)},
      {"ipv6Only", LC_HAS_IPV6ONLY, offsetof(lc_listen_t, ipv6_only)},
      {"readableAll", LC_HAS_READABLEALL, offsetof(lc_listen_t, readable_all)},
      {"writableAll", LC_HAS_WRITABLEALL, offsetof(lc_listen_t, writable_all)},
      {"reusePort", LC_HAS_REUSEPORT, offsetof(lc_listen_t, reuse_port)},
  };

  l->size = sizeof(*l);
  l->fd = -1;
  if (get_str(c, "form", 1, &form) < 0)
    return -1;
  if (strcmp(form, "port") == 0)
    l->form = LC_FORM_PORT;
  else if (strcmp(form, "path") == 0)
    l->form = LC_FORM_PATH;
  else if (strcmp(form, "handle") == 0)
    l->form = LC_FORM_HANDLE;
  else if (strcmp(form, "options") == 0)
    l->form = LC_FORM_OPTIONS;
  else
    return err(c->errbuf, c->errlen,
               "listen: field [form] must be port, path, handle or options, "
               "not [%s]",
               form);

  if ((r = get_i32(c, "port", &l->port)) < 0)
    return -1;
  if (r)
    l->has |= LC_HAS_PORT;
  if ((r = get_str(c, "host", 0, &l->host)) < 0)
    return -1;
  if (r)
    l->has |= LC_HAS_HOST;
  if ((r = get_i32(c, "backlog", &l->backlog)) < 0)
    return -1;
  if (r)
    l->has |= LC_HAS_BACKLOG;
  if ((r = get_bytes(c, "path", 0, &l->path, &n)) < 0)
    return -1;
  if (r) {
    l->has |= LC_HAS_PATH;
    l->path_len = n;
  }
  if ((r = get_i32(c, "fd", &l->fd)) < 0)
    return -1;
  if (r)
    l->has |= LC_HAS_FD;
  for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
    if ((r = get_bool(c, bools[i].key, &b)) < 0)
      return -1;
    if (r) {
      l->has |= bools[i].bit;
      *(int32_t *)(void *)((char *)l + bools[i].off) = b;
    }
  }
  if ((r = get_bool(c, "signal", &b)) < 0)
    return -1;
  if (r) {
    if (!b)
      return err(c->errbuf, c->errlen,
                 "listen: field [signal] must be true when present");
    l->has |= LC_HAS_SIGNAL;
  }
  if ((r = get_str(c, "cb", 0, &l->callback_label)) < 0)
    return -1;
  if (r)
    l->has |= LC_HAS_CALLBACK;
  return 0;
}

static int parse_mksock(ctx_t *c) {
  lch__cmd_t *cmd = c->cmd;
  const char *family = "tcp4";
  int r;
  if (get_str(c, "name", 1, &cmd->name) < 0 ||
      get_str(c, "family", 0, &family) < 0)
    return -1;
  if (strcmp(family, "tcp4") == 0)
    cmd->family = LCH_FAMILY_TCP4;
  else if (strcmp(family, "tcp6") == 0)
    cmd->family = LCH_FAMILY_TCP6;
  else if (strcmp(family, "unix") == 0)
    cmd->family = LCH_FAMILY_UNIX;
  else if (strcmp(family, "file") == 0)
    cmd->family = LCH_FAMILY_FILE;
  else
    return err(c->errbuf, c->errlen,
               "mksock: field [family] must be tcp4, tcp6, unix or file, "
               "not [%s]",
               family);
  if (get_str(c, "address", 0, &cmd->address) < 0)
    return -1;
  if (get_i32(c, "port", &cmd->port) < 0)
    return -1;
  if (get_bytes(c, "path", 0, &cmd->path, &cmd->path_len) < 0)
    return -1;
  cmd->bind = 1;
  cmd->backlog = 511;
  if (get_bool(c, "bind", &cmd->bind) < 0 ||
      get_bool(c, "listen", &cmd->do_listen) < 0 ||
      get_i32(c, "backlog", &cmd->backlog) < 0)
    return -1;
  if ((r = get_bool(c, "ipv6Only", &cmd->ipv6only)) < 0)
    return -1;
  cmd->has_ipv6only = r;
  if (r && cmd->family != LCH_FAMILY_TCP6)
    return err(c->errbuf, c->errlen,
               "mksock: field [ipv6Only] is for tcp6, not %s", family);
  if (cmd->family == LCH_FAMILY_FILE) {
    if (cmd->address || !cmd->path || cmd->do_listen)
      return err(c->errbuf, c->errlen,
                 "mksock: a file needs field [path] and takes no [address] "
                 "or [listen]");
  } else if (cmd->family == LCH_FAMILY_UNIX) {
    if (cmd->address)
      return err(c->errbuf, c->errlen,
                 "mksock: field [address] is for tcp4/tcp6, not unix");
    if (cmd->bind && !cmd->path)
      return err(c->errbuf, c->errlen,
                 "mksock: a bound unix socket needs field [path]");
  } else if (cmd->path) {
    return err(c->errbuf, c->errlen, "mksock: field [path] is for unix, not %s",
               family);
  }
  return 0;
}

/* fail: which calls (the host's kinds, faults.c) and an errno > 0. */
static int parse_fail(ctx_t *c) {
  lch__cmd_t *cmd = c->cmd;
  int64_t e = 0;
  if (get_str(c, "call", 1, &cmd->call) < 0 ||
      get_int(c, "errno", 1, 1, 4095, &e) < 0)
    return -1;
  if (strcmp(cmd->call, "accept") != 0 && strcmp(cmd->call, "chmod") != 0)
    return err(c->errbuf, c->errlen,
               "fail: field [call] must be accept or chmod, not [%.64s]",
               cmd->call);
  cmd->fail_errno = (int)e;
  return 0;
}

int lch__proto_parse(const char *line, size_t len, lch__cmd_t *out,
                     char *errbuf, size_t errlen) {
  ctx_t c = {out, errbuf, errlen};
  const lch__json_member_t *m;
  const op_def_t *def = NULL;
  int64_t v = 0;

  memset(out, 0, sizeof(*out));
  out->srv = "A";
  out->op_name = "command";
  if (errbuf && errlen)
    errbuf[0] = '\0';
  if (len > LCH_PROTO_LINE_MAX)
    return err(errbuf, errlen, "line of %zu bytes is longer than %d", len,
               LCH_PROTO_LINE_MAX);
  if (lch__json_parse_object(line, len, &out->json, errbuf, errlen))
    return -1;

  m = lch__json_get(&out->json, "seq");
  if (m && m->type == LCH_JSON_INT) {
    out->has_seq = 1;
    out->seq = m->num;
  }
  m = lch__json_get(&out->json, "op");
  if (!m)
    return err(errbuf, errlen, "missing field [op] (string)");
  if (m->type != LCH_JSON_STRING)
    return err(errbuf, errlen, "field [op] must be a string, not %s",
               lch__json_type_name(m->type));
  for (size_t i = 0; i < sizeof(op_defs) / sizeof(op_defs[0]); i++)
    if (strcmp(op_defs[i].name, m->str) == 0 && strlen(m->str) == m->str_len)
      def = &op_defs[i];
  if (!def)
    return err(errbuf, errlen, "unknown op [%.64s]", m->str);
  out->op = def->op;
  out->op_name = def->name;

  if (get_int(&c, "seq", 1, INT64_MIN, INT64_MAX, &v) < 0)
    return -1;
  for (size_t i = 0; i < out->json.count; i++) {
    const char *k = out->json.members[i].key;
    if (strcmp(k, "op") && strcmp(k, "seq") && !word_in(def->fields, k))
      return err(errbuf, errlen, "%s: unknown field [%.64s]", def->name, k);
  }

  if (word_in(def->fields, "srv") &&
      get_str(&c, "srv", def->op == LCH_OP_SERVER, &out->srv) < 0)
    return -1;

  switch (def->op) {
  case LCH_OP_BEGIN:
    if (get_str(&c, "id", 1, &out->id) < 0 ||
        get_str(&c, "cwd", 1, &out->cwd) < 0)
      return -1;
    {
      int64_t mask = -1;
      if (get_int(&c, "umask", 0, 0, 0777, &mask) < 0)
        return -1;
      out->umask = (int)mask; /* -1: keep the host's */
    }
    break;
  case LCH_OP_ON: {
    const char *then = NULL;
    if (get_str(&c, "event", 1, &out->event) < 0 ||
        get_str(&c, "label", 1, &out->label) < 0 ||
        get_str(&c, "then", 0, &then) < 0)
      return -1;
    if (then && strcmp(then, "close") != 0)
      return err(errbuf, errlen,
                 "on: field [then] must be close when present, not [%.64s]",
                 then);
    out->then_close = then != NULL;
    break;
  }
  case LCH_OP_LISTEN: return parse_listen(&c);
  case LCH_OP_CLOSE:
    if (get_str(&c, "cb", 0, &out->cb) < 0)
      return -1;
    break;
  case LCH_OP_MKSOCK: return parse_mksock(&c);
  case LCH_OP_FAIL: return parse_fail(&c);
  case LCH_OP_RUN:
    out->ms = 3000;
    if (get_str(&c, "until", 1, &out->until) < 0 ||
        get_int(&c, "ms", 0, 0, 86400000, &out->ms) < 0)
      return -1;
    break;
  default: break;
  }
  return 0;
}

int lch__proto_sniff_seq(const char *line, size_t len, int64_t *seq) {
  static const char key[] = "\"seq\"";
  const size_t klen = sizeof(key) - 1;
  for (size_t i = 0; i + klen <= len; i++) {
    if (memcmp(line + i, key, klen) != 0)
      continue;
    size_t p = i + klen;
    while (p < len && (line[p] == ' ' || line[p] == '\t'))
      p++;
    if (p >= len || line[p] != ':')
      continue;
    p++;
    while (p < len && (line[p] == ' ' || line[p] == '\t'))
      p++;
    int neg = p < len && line[p] == '-';
    p += (size_t)neg;
    if (p >= len || line[p] < '0' || line[p] > '9')
      continue;
    int64_t v = 0;
    size_t digits = 0;
    while (p < len && line[p] >= '0' && line[p] <= '9' && digits < 18) {
      v = v * 10 + (line[p] - '0');
      p++;
      digits++;
    }
    if (p < len && line[p] >= '0' && line[p] <= '9')
      continue; /* too long to be a seq we sent */
    *seq = neg ? -v : v;
    return 1;
  }
  return 0;
}

void lch__cmd_free(lch__cmd_t *cmd) {
  if (cmd)
    lch__json_object_free(&cmd->json);
}
