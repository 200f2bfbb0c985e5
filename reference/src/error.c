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
  size_t units;    /* its length as JavaScript counts it (UTF-16 units) */
  int newline;     /* whether it holds a line break */
} sbuf_t;

/* The UTF-16 code units of the UTF-8 sequence a byte starts: 0 for a
 * continuation byte, 2 for a four-byte sequence (a surrogate pair). */
static size_t units_of(unsigned char c) {
  if ((c & 0xc0) == 0x80)
    return 0;
  return c >= 0xf0 ? 2 : 1;
}

static size_t utf16_len(const char *s, size_t n) {
  size_t i, u;

  for (i = 0, u = 0; i < n; i++)
    u += units_of((unsigned char)s[i]);
  return u;
}

/* The bytes of s's first `units` UTF-16 units: String.prototype.slice(0,
 * units).  A character that would be split (a surrogate pair across the
 * cut) is left out, as UTF-8 cannot hold half of it. */
static size_t utf16_prefix(const char *s, size_t n, size_t units) {
  size_t i, u, k;

  for (i = 0, u = 0; i < n; i++) {
    k = units_of((unsigned char)s[i]);
    if (k != 0 && u + k > units)
      return i;
    u += k;
  }
  return n;
}

static void put(sbuf_t *b, const char *s, size_t n) {
  size_t i;

  for (i = 0; i < n; i++, b->len++) {
    b->units += units_of((unsigned char)s[i]);
    if (s[i] == '\n')
      b->newline = 1;
    if (b->len + 1 < b->cap)
      b->p[b->len] = s[i];
  }
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
 * characters escaped: C0, DEL and the C1 controls U+0080..U+009F (UTF-8
 * C2 80..C2 9F), each as util.js's meta[] table writes it. */
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
    else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
             (unsigned char)s[i + 1] <= 0x9f)
      putf(b, "\\x%02X", (unsigned char)s[++i]);
    else if (c == (unsigned char)quote || c == '\\') {
      put(b, "\\", 1);
      put(b, (const char *)&s[i], 1);
    } else
      put(b, (const char *)&s[i], 1);
  }
  put(b, &quote, 1);
}

/* A string property's value as util.js formatPrimitive() writes it: a
 * string longer than 16 characters and than breakLength (80) minus the
 * indentation (2) minus 4 -- that is, longer than 74 -- is split after each
 * line break, each line quoted by itself and joined with " +" and a new
 * line indented by 4. */
static void inspect_prop_str(sbuf_t *b, const char *s, size_t len) {
  const char *nl;
  size_t n;

  if (utf16_len(s, len) <= 80 - 2 - 4) {
    inspect_str(b, s, len);
    return;
  }
  for (;;) {
    nl = memchr(s, '\n', len);
    n = nl != NULL ? (size_t)(nl - s) + 1 : len;
    inspect_str(b, s, n);
    s += n;
    len -= n;
    if (len == 0)
      return;
    puts_(b, " +\n    ");
  }
}

/* errors.js determineSpecificType() for a string: one longer than 28
 * characters (UTF-16 units, before any quoting) is cut to its first 25 and
 * '...'; it is then written in single quotes as it is, not escaped (a tab
 * stays a tab).  A string holding a ' would be written by JSON.stringify()
 * instead, but the only strings that come here are those Number() reads as
 * a number (args.c, path_is_port), which never hold one. */
void lcr__error_bad_port_string(lcr_error_t *e, const char *s, size_t len) {
  size_t n;
  const char *cut;

  clear(e);
  e->code = "ERR_SOCKET_BAD_PORT";
  n = len;
  cut = "";
  if (utf16_len(s, len) > 28) {
    n = utf16_prefix(s, len, 25);
    cut = "...";
  }
  snprintf(e->buf, sizeof(e->buf),
           "options.port should be >= 0 and < 65536. Received type string "
           "('%.*s%s').",
           (int)n, s, cut);
}

/* util.inspect(options) with its defaults (breakLength 80, compact 3): one
 * line, "{ a: 1, b: 'x' }", when it fits, else one property a line.  Only
 * the first 128 characters are kept (errors.js cuts there), at most 3 bytes
 * of UTF-8 each. */
#define KEEP_BYTES (128 * 3)

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
  /* An entry cut here already passes 128 characters, so the whole is cut */
  char entry[16][KEEP_BYTES + 16];
  size_t lens[16];
  size_t n, i, total;
  int newline;
  char ins[KEEP_BYTES + 16]; /* what is kept: 128 characters and '...' */
  sbuf_t b;
  int values[5];

  values[0] = a->exclusive;
  values[1] = a->ipv6_only;
  values[2] = a->readable_all;
  values[3] = a->writable_all;
  values[4] = a->reuse_port;
  n = 0;
  newline = 0;
#define ENTRY() (b = (sbuf_t){entry[n], sizeof(entry[n]), 0, 0, 0}, &b)
#define DONE()  (newline |= b.newline, lens[n++] = b.units)
  if (a->has & LCR_HAS_PORT)
    putf(ENTRY(), "port: %d", a->port), DONE();
  if ((a->has & LCR_HAS_HOST) && a->host != NULL) {
    puts_(ENTRY(), "host: ");
    inspect_prop_str(&b, a->host, strlen(a->host));
    DONE();
  }
  if (a->has & LCR_HAS_BACKLOG)
    putf(ENTRY(), "backlog: %d", a->backlog), DONE();
  if ((a->has & LCR_HAS_PATH) && a->path != NULL) {
    puts_(ENTRY(), "path: ");
    inspect_prop_str(&b, a->path, a->path_len);
    DONE();
  }
  if (a->form == LCR_FORM_HANDLE || (a->has & LCR_HAS_FD))
    putf(ENTRY(), "fd: %d", a->fd), DONE();
  for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
    if (a->has & flags[i].bit)
      putf(ENTRY(), "%s: %s", flags[i].name, values[i] ? "true" : "false"),
          DONE();
  if (a->signal != NULL)
    putf(ENTRY(), "signal: AbortSignal { aborted: %s }",
         lcr_signal_aborted(a->signal) ? "true" : "false"),
        DONE();
#undef DONE
#undef ENTRY

  b = (sbuf_t){ins, sizeof(ins), 0, 0, 0};
  /* util.js reduceToSingleString(): start = entries + braces + 10, and the
   * entries plus a separator each must not pass breakLength
   * (isBelowBreakLength); nor may an entry hold a line break */
  total = n + (n + 1 + 10);
  for (i = 0; i < n; i++)
    total += lens[i];
  if (n == 0)
    puts_(&b, "{}");
  else if (total <= 80 && !newline) {
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
   * characters (UTF-16 units) is cut there and '...' added */
  if (b.units > 128)
    memcpy(ins + utf16_prefix(ins, b.len < b.cap ? b.len : b.cap - 1, 128),
           "...", 4);

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
