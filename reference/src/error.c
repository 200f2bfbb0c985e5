/* error.c — errors shaped like the ones lib/internal/errors.js builds. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcr-internal.h"

static void clear(lcr_error_t *e) {
  e->code = NULL;
  e->errnum = 0;
  e->syscall = NULL;
  e->address = NULL;
  e->port = -1;
  e->hostname = NULL;
  e->message = e->buf;
  e->buf[0] = '\0';
}

void lcr__error_uv(lcr_error_t *e, int uverr, const char *syscall,
                   const char *address, int port) {
  clear(e);
  e->code = uv_err_name(uverr);
  e->errnum = uverr;
  e->syscall = syscall;
  e->address = address;
  /* errors.js: `if (port) this.port = port;` -- so pipes (port -1) carry
   * port -1 and port 0 leaves it unset, which is -1 here too. */
  e->port = port != 0 ? port : -1;

  if (port > 0)
    snprintf(e->buf, sizeof(e->buf), "%s %s: %s %s:%d", syscall, e->code,
             uv_strerror(uverr), address != NULL ? address : "", port);
  else if (address != NULL && address[0] != '\0')
    snprintf(e->buf, sizeof(e->buf), "%s %s: %s %s", syscall, e->code,
             uv_strerror(uverr), address);
  else
    snprintf(e->buf, sizeof(e->buf), "%s %s: %s", syscall, e->code,
             uv_strerror(uverr));
}

void lcr__error_errno(lcr_error_t *e, int uverr, const char *syscall) {
  clear(e);
  e->code = uv_err_name(uverr);
  e->errnum = uverr;
  e->syscall = syscall;
  snprintf(e->buf, sizeof(e->buf), "%s %s", syscall, e->code);
}

void lcr__error_dns(lcr_error_t *e, int uverr, const char *hostname) {
  clear(e);
  /* errors.js DNSException: EAI_NODATA and EAI_NONAME both read ENOTFOUND;
   * errno keeps the libuv number (-3008 for EAI_NONAME). */
  if (uverr == UV_EAI_NODATA || uverr == UV_EAI_NONAME)
    e->code = "ENOTFOUND";
  else
    e->code = uv_err_name(uverr);
  e->errnum = uverr;
  e->syscall = "getaddrinfo";
  e->hostname = hostname;
  snprintf(e->buf, sizeof(e->buf), "getaddrinfo %s %s", e->code,
           hostname != NULL ? hostname : "");
}

void lcr__error_node(lcr_error_t *e, const char *code, const char *fmt, ...) {
  va_list ap;

  clear(e);
  e->code = code;
  va_start(ap, fmt);
  vsnprintf(e->buf, sizeof(e->buf), fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* util.inspect(), for the values a C caller can pass                        */

typedef struct {
  char *p;
  size_t cap, len; /* len may pass cap: the text is then cut at cap - 1 */
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n) {
  size_t i;

  for (i = 0; i < n; i++, b->len++)
    if (b->len + 1 < b->cap)
      b->p[b->len] = s[i];
  if (b->cap > 0)
    b->p[b->len < b->cap ? b->len : b->cap - 1] = '\0';
}

static void puts_(sbuf_t *b, const char *s) {
  put(b, s, strlen(s));
}

static void putf(sbuf_t *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void putf(sbuf_t *b, const char *fmt, ...) {
  char tmp[64];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  puts_(b, tmp);
}

/* A string as util.inspect() writes it (util.js strEscape): in single
 * quotes, or double quotes when it holds a ' and no ", or backquotes when
 * it holds both and no ` or ${; the quote, backslash and control
 * characters escaped. */
static void inspect_str(sbuf_t *b, const char *s, size_t len) {
  static const char *named[32] = {
      [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r"};
  char quote;
  size_t i;

  quote = '\'';
  if (memchr(s, '\'', len) != NULL) {
    if (memchr(s, '"', len) == NULL)
      quote = '"';
    else if (memchr(s, '`', len) == NULL) {
      quote = '`';
      for (i = 0; i + 1 < len; i++)
        if (s[i] == '$' && s[i + 1] == '{')
          quote = '\'';
    }
  }
  put(b, &quote, 1);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];

    if (c < 32 && named[c] != NULL)
      puts_(b, named[c]);
    else if (c < 32 || c == 0x7f)
      putf(b, "\\x%02X", c);
    else if (c == (unsigned char)quote || c == '\\') {
      put(b, "\\", 1);
      put(b, (const char *)&s[i], 1);
    } else
      put(b, (const char *)&s[i], 1);
  }
  put(b, &quote, 1);
}

void lcr__error_bad_port_string(lcr_error_t *e, const char *s, size_t len) {
  char ins[32]; /* what is kept: 25 characters and '...' */
  sbuf_t b = {ins, sizeof(ins), 0};

  clear(e);
  e->code = "ERR_SOCKET_BAD_PORT";
  inspect_str(&b, s, len);
  /* determineSpecificType(): an inspected primitive longer than 28
   * characters is cut to 25 and '...' */
  if (b.len > 28)
    memcpy(ins + 25, "...", 4);
  snprintf(e->buf, sizeof(e->buf),
           "options.port should be >= 0 and < 65536. Received type string "
           "(%s).",
           ins);
}

/* util.inspect(options) with its defaults (breakLength 128, compact 3): one
 * line, "{ a: 1, b: 'x' }", when it fits, else one property a line. */
void lcr__error_invalid_options(lcr_error_t *e, const char *reason,
                                const lcr_listen_t *a) {
  static const struct {
    unsigned int bit;
    const char *name;
  } flags[] = {{LCR_HAS_EXCLUSIVE, "exclusive"},
               {LCR_HAS_IPV6ONLY, "ipv6Only"},
               {LCR_HAS_READABLEALL, "readableAll"},
               {LCR_HAS_WRITABLEALL, "writableAll"},
               {LCR_HAS_REUSEPORT, "reusePort"}};
  char entry[16][320];
  size_t lens[16];
  size_t n, i, total;
  char ins[136]; /* what is kept: 128 characters and '...' */
  sbuf_t b;
  int values[5];

  values[0] = a->exclusive;
  values[1] = a->ipv6_only;
  values[2] = a->readable_all;
  values[3] = a->writable_all;
  values[4] = a->reuse_port;
  n = 0;
#define ENTRY() (b = (sbuf_t){entry[n], sizeof(entry[n]), 0}, &b)
  if (a->has & LCR_HAS_PORT)
    putf(ENTRY(), "port: %d", a->port), lens[n++] = b.len;
  if ((a->has & LCR_HAS_HOST) && a->host != NULL) {
    puts_(ENTRY(), "host: ");
    inspect_str(&b, a->host, strlen(a->host));
    lens[n++] = b.len;
  }
  if (a->has & LCR_HAS_BACKLOG)
    putf(ENTRY(), "backlog: %d", a->backlog), lens[n++] = b.len;
  if ((a->has & LCR_HAS_PATH) && a->path != NULL) {
    puts_(ENTRY(), "path: ");
    inspect_str(&b, a->path, a->path_len);
    lens[n++] = b.len;
  }
  if (a->form == LCR_FORM_HANDLE || (a->has & LCR_HAS_FD))
    putf(ENTRY(), "fd: %d", a->fd), lens[n++] = b.len;
  for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
    if (a->has & flags[i].bit)
      putf(ENTRY(), "%s: %s", flags[i].name, values[i] ? "true" : "false"),
          lens[n++] = b.len;
  if (a->signal != NULL)
    putf(ENTRY(), "signal: AbortSignal { aborted: %s }",
         lcr_signal_aborted(a->signal) ? "true" : "false"),
        lens[n++] = b.len;
#undef ENTRY

  b = (sbuf_t){ins, sizeof(ins), 0};
  /* util.js reduceToSingleString(): start = entries + braces + 10, and the
   * entries plus a separator each must not pass breakLength */
  total = n + (n + 1 + 10);
  for (i = 0; i < n; i++)
    total += lens[i];
  if (n == 0)
    puts_(&b, "{}");
  else if (total <= 128) {
    puts_(&b, "{ ");
    for (i = 0; i < n; i++) {
      puts_(&b, entry[i]);
      puts_(&b, i + 1 < n ? ", " : " }");
    }
  } else {
    puts_(&b, "{\n");
    for (i = 0; i < n; i++) {
      puts_(&b, "  ");
      puts_(&b, entry[i]);
      puts_(&b, i + 1 < n ? ",\n" : "\n}");
    }
  }
  /* errors.js ERR_INVALID_ARG_VALUE: an inspected value longer than 128
   * characters is cut there and '...' added */
  if (b.len > 128)
    memcpy(ins + 128, "...", 4);

  clear(e);
  e->code = "ERR_INVALID_ARG_VALUE";
  snprintf(e->buf, sizeof(e->buf), "The argument 'options' %s. Received %s",
           reason, ins);
}

static char *dup_or_null(const char *s) {
  return s != NULL ? strdup(s) : NULL;
}

lcr__errbox_t *lcr__errbox_new(const lcr_error_t *e) {
  lcr__errbox_t *box;

  box = calloc(1, sizeof(*box));
  if (box == NULL)
    return NULL;
  box->e = *e;
  box->e.message = box->e.buf; /* the copy points into itself */
  box->address = dup_or_null(e->address);
  box->hostname = dup_or_null(e->hostname);
  if ((e->address != NULL && box->address == NULL) ||
      (e->hostname != NULL && box->hostname == NULL)) {
    lcr__errbox_free(box);
    return NULL;
  }
  box->e.address = box->address;
  box->e.hostname = box->hostname;
  return box;
}

void lcr__errbox_free(lcr__errbox_t *box) {
  if (box == NULL)
    return;
  free(box->address);
  free(box->hostname);
  free(box);
}
