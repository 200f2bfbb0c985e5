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

/* isPipeName(): a path string that Number() reads as >= 0 is a port
 * ("8080", "", "  "), so listen('8080') is TCP.  Returns 1 and sets *port
 * (-1 when validatePort() would throw) for such strings. */
static int path_is_port(const char *path, size_t len, int *port) {
  char buf[64];
  char *end;
  size_t b, e;
  double d;

  if (len == 0) {
    *port = -1; /* Number('') is 0, but validatePort() refuses blanks */
    return 1;
  }
  if (len >= sizeof(buf) || memchr(path, '\0', len) != NULL)
    return 0;
  for (b = 0; b < len && strchr(" \t\n\v\f\r", path[b]) != NULL; b++)
    ;
  for (e = len; e > b && strchr(" \t\n\v\f\r", path[e - 1]) != NULL; e--)
    ;
  if (b == e) {
    *port = -1; /* Number('') is 0, but validatePort() refuses blanks */
    return 1;
  }
  memcpy(buf, path + b, e - b);
  buf[e - b] = '\0';
  /* Number() reads decimal, 0x.., exponents and "Infinity" only */
  if (strpbrk(buf, "nN") != NULL && strcmp(buf, "Infinity") != 0)
    return 0;
  d = strtod(buf, &end);
  if (*end != '\0' || isnan(d) || !(d >= 0))
    return 0;
  *port = (d == floor(d) && d <= 65535) ? (int)d : -1;
  return 1;
}

int lcr_listen(lcr_server_t *s, const lcr_listen_t *a, lcr_error_t *err) {
  lcr__bind_spec_t spec;
  int backlog_from_args;
  int backlog;
  int port;
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
  if (a->form == LCR_FORM_PORT ||
      (a->form == LCR_FORM_OPTIONS && (a->has & LCR_HAS_PORT)) ||
      (a->form == LCR_FORM_PATH && path_is_port(a->path, a->path_len, &port))) {
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
