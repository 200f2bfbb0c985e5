/* args.c — Server.prototype.listen(), after lib/net.js of Node.js v20: its
 * arguments checked and normalised (port, host, backlog, path, fd, options),
 * with Node's synchronous throws, then handed to the one path that listens:
 * a handle or a port (lcr__setup_listen_handle, server.c), a host
 * (lcr__lookup_and_listen, lookup.c) or a path (lcr__listen_path, server.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcr-internal.h"

static void throw_bad_port_int(lcr_error_t *err, int port) {
  lcr__error_node(err, "ERR_SOCKET_BAD_PORT",
                  "options.port should be >= 0 and < 65536. "
                  "Received type number (%d).",
                  port);
}

/* The bytes of the StrWhiteSpaceChar (ECMA-262 StringToNumber: WhiteSpace
 * and LineTerminator) that begins at s, or 0: TAB, LF, VT, FF, CR, SP,
 * U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000,
 * U+FEFF (UTF-8).  Not U+0085 or U+180E: Number('\u0085') is NaN. */
static size_t js_space(const unsigned char *s, size_t n) {
  if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')))
    return 1;
  if (n >= 2 && s[0] == 0xc2 && s[1] == 0xa0)
    return 2;
  if (n < 3)
    return 0;
  if ((s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) ||
      (s[0] == 0xe2 && s[1] == 0x80 &&
       (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf)) ||
      (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) ||
      (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) ||
      (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf))
    return 3;
  return 0;
}

static size_t skip_digits(const char *s, size_t n, const char *digits) {
  size_t i;

  for (i = 0; i < n && s[i] != '\0' && strchr(digits, s[i]) != NULL; i++)
    ;
  return i;
}

/* isPipeName(): a path string that Number() reads as >= 0 is a port
 * ("8080", "", "  "), so listen('8080') is TCP.  Returns 1 and sets *port
 * (-1 when validatePort() would throw) for such strings, 0 for a path, and
 * UV_ENOMEM when the copy strtod() needs cannot be made. */
static int path_is_port(const char *path, size_t len, int *port) {
  const unsigned char *u = (const unsigned char *)path;
  char small[64];
  char *buf;
  const char *t;
  size_t b, e, i, k, n;
  int base;
  double d;

  /* StringToNumber: white space trimmed at both ends; the rest must be a
   * StrNumericLiteral whole, or it is NaN (a path) */
  for (b = 0; b < len && (k = js_space(u + b, len - b)) != 0; b += k)
    ;
  e = b;
  for (i = b; i < len; i += k) {
    k = js_space(u + i, len - i);
    if (k == 0) {
      /* a byte on: a space's first byte is never inside another character */
      k = 1;
      e = i + 1;
    }
  }
  if (b == e) {
    *port = -1; /* Number('') is 0, but validatePort() refuses blanks */
    return 1;
  }
  t = path + b;
  n = e - b;

  /* 0x.., 0o.., 0b..: an integer, without a sign */
  base = 0;
  if (n > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
    base = 16;
  else if (n > 2 && t[0] == '0' && (t[1] == 'o' || t[1] == 'O'))
    base = 8;
  else if (n > 2 && t[0] == '0' && (t[1] == 'b' || t[1] == 'B'))
    base = 2;
  if (base != 0) {
    static const char *digits[17] = {
        [2] = "01", [8] = "01234567", [16] = "0123456789abcdefABCDEF"};
    if (skip_digits(t + 2, n - 2, digits[base]) != n - 2)
      return 0;
    d = 0;
    for (i = 2; i < n; i++) /* once past 65535 it stays past */
      d = d * base + (t[i] <= '9' ? t[i] - '0' : (t[i] | 0x20) - 'a' + 10);
    *port = d <= 65535 ? (int)d : -1;
    return 1;
  }

  /* [+-] then Infinity, or digits [. digits] [e [+-] digits] with a digit
   * before or after the point (strtod() alone would take more: hex floats,
   * "inf", "nan", a sign before 0x) */
  i = (t[0] == '+' || t[0] == '-') ? 1 : 0;
  if (n - i == 8 && memcmp(t + i, "Infinity", 8) == 0) {
    if (t[0] == '-')
      return 0; /* -Infinity < 0: a path */
    *port = -1;
    return 1;
  }
  k = skip_digits(t + i, n - i, "0123456789");
  i += k;
  if (i < n && t[i] == '.') {
    i++;
    k += skip_digits(t + i, n - i, "0123456789");
    i += skip_digits(t + i, n - i, "0123456789");
  }
  if (k == 0)
    return 0;
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-'))
      i++;
    k = skip_digits(t + i, n - i, "0123456789");
    if (k == 0)
      return 0;
    i += k;
  }
  if (i != n)
    return 0;

  /* the literal is checked; strtod() rounds it as Number() does */
  buf = n < sizeof(small) ? small : malloc(n + 1);
  if (buf == NULL)
    return UV_ENOMEM;
  memcpy(buf, t, n);
  buf[n] = '\0';
  d = strtod(buf, NULL);
  if (buf != small)
    free(buf);
  if (!(d >= 0)) /* -0 >= 0 holds: '-0' is the port 0 */
    return 0;
  *port = (d == floor(d) && d <= 65535) ? (int)d : -1;
  return 1;
}

int lcr_listen(lcr_server_t *s, const lcr_listen_t *a, lcr_error_t *err) {
  lcr__bind_spec_t spec;
  int backlog_from_args;
  int backlog;
  int port;
  int is_port;
  int r;

  if (s->handle != NULL) {
    lcr__error_node(err, "ERR_SERVER_ALREADY_LISTEN",
                    "Listen method has been called more than once without "
                    "closing.");
    return -1;
  }

  /* "if (cb !== null) this.once('listening', cb);" -- before any argument
   * is validated: a listen() that throws below leaves cb registered, and a
   * later successful listen() calls it. */
  if (a->callback != NULL) {
    r = lcr__listener_add(s, LCR_EV_LISTENING, 1, LCR__LISTENER_USER,
                          a->callback, a->callback_data, NULL);
    if (r != 0) {
      lcr__error_uv(err, r, "listen", NULL, 0);
      return -1;
    }
  }

  /* backlogFromArgs = toNumber(args[1]) || toNumber(args[2]): a negative
   * or zero positional backlog means the default. */
  backlog_from_args = 0;
  if (a->form != LCR_FORM_OPTIONS && (a->has & LCR_HAS_BACKLOG) &&
      a->backlog > 0)
    backlog_from_args = a->backlog;

  s->listening_id++;

  if (a->signal != NULL) {
    r = lcr__signal_watch(s, a->signal);
    if (r != 0) {
      lcr__error_uv(err, r, "listen", NULL, 0);
      return -1;
    }
  }

  memset(&spec, 0, sizeof(spec));
  spec.fd = -1;
  spec.flags = a->ipv6_only ? UV_TCP_IPV6ONLY : 0;
  /* reusePort exists from Node 22.12 / 23.1 on (node_line.h); before, the
   * property is not read. */
  spec.reuse_port =
      a->reuse_port != 0 && lcr__node_has(s->loop, LCR__NODE_REUSE_PORT);

  /* (handle[, backlog][, cb]) / {fd}: only the positional backlog counts,
   * options.backlog is ignored on this path. */
  if ((a->form == LCR_FORM_HANDLE ||
       (a->form == LCR_FORM_OPTIONS && (a->has & LCR_HAS_FD))) &&
      a->fd >= 0) {
    spec.fd = a->fd;
    spec.backlog = backlog_from_args;
    lcr__setup_listen_handle(s, &spec);
    return 0;
  }

  /* ([port][, host][, backlog][, cb]) and (options[, cb]) with a port */
  port = 0;
  is_port =
      a->form == LCR_FORM_PATH ? path_is_port(a->path, a->path_len, &port) : 0;
  if (is_port < 0) {
    lcr__error_uv(err, is_port, "listen", NULL, 0);
    return -1;
  }
  if (a->form == LCR_FORM_PORT ||
      (a->form == LCR_FORM_OPTIONS && (a->has & LCR_HAS_PORT)) || is_port) {
    if (a->form == LCR_FORM_PATH) {
      if (port < 0) {
        lcr__error_bad_port_string(err, a->path, a->path_len);
        return -1;
      }
    } else if (a->has & LCR_HAS_PORT) {
      port = a->port;
      if (port < 0 || port > 65535) {
        throw_bad_port_int(err, port);
        return -1;
      }
    }

    /* backlog = options.backlog || backlogFromArgs: options.backlog is
     * passed through as given, a negative one included (the kernel then
     * caps it at somaxconn). */
    backlog = backlog_from_args;
    if (a->form == LCR_FORM_OPTIONS && (a->has & LCR_HAS_BACKLOG) &&
        a->backlog != 0)
      backlog = a->backlog;

    if ((a->has & LCR_HAS_HOST) && a->host != NULL && a->host[0] != '\0') {
      r = lcr__lookup_and_listen(s, port, a->host, backlog, spec.flags,
                                 spec.reuse_port);
      if (r != 0) {
        lcr__error_uv(err, r, "listen", NULL, 0);
        return -1;
      }
      return 0;
    }

    spec.port = port;
    spec.backlog = backlog;
    lcr__setup_listen_handle(s, &spec);
    return 0;
  }

  /* (path[, backlog][, cb]) and (options[, cb]) with a path */
  if ((a->form == LCR_FORM_PATH ||
       (a->form == LCR_FORM_OPTIONS && (a->has & LCR_HAS_PATH))) &&
      a->path != NULL && a->path_len > 0) {
    /* "We can not call fchmod on abstract unix socket" */
    if (a->path[0] == '\0' && (a->readable_all || a->writable_all)) {
      lcr__error_invalid_options(err,
                                 "can not set readableAll or writableAllt to "
                                 "true when path is abstract unix socket",
                                 a);
      return -1;
    }
    backlog = backlog_from_args;
    if (a->form == LCR_FORM_OPTIONS && (a->has & LCR_HAS_BACKLOG) &&
        a->backlog != 0)
      backlog = a->backlog;
    return lcr__listen_path(s, a, backlog, err);
  }

  if (!(a->has & (LCR_HAS_PORT | LCR_HAS_PATH)) || a->form == LCR_FORM_HANDLE) {
    lcr__error_invalid_options(
        err, "must have the property \"port\" or \"path\"", a);
    return -1;
  }
  lcr__error_invalid_options(err, "is invalid", a);
  return -1;
}

int lcr_listen_port(lcr_server_t *server, int port, const char *host,
                    lcr_listener_cb cb, void *data, lcr_error_t *err) {
  lcr_listen_t a;

  memset(&a, 0, sizeof(a));
  a.form = LCR_FORM_PORT;
  a.has = LCR_HAS_PORT;
  a.port = port;
  if (host != NULL) {
    a.has |= LCR_HAS_HOST;
    a.host = host;
  }
  a.fd = -1;
  a.callback = cb;
  a.callback_data = data;
  return lcr_listen(server, &a, err);
}
