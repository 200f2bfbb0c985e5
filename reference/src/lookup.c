/* lookup.c — lookupAndListen(): listen() with a host, after lib/net.js of
 * Node.js v20 and v22.  The host is resolved as dns.lookup() resolves it (the
 * resolver, or a tick for an IP literal), then the server listens on one
 * answer (lcr__setup_listen_handle, server.c) unless a later listen() or
 * close() made the answer stale: the first, or since 22.8.0 the first that
 * is not an IPv6 link-local address (node_line.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lcr-internal.h"

/* A dns.lookup() in flight, and what to do with its answer. */
typedef struct lookup_s {
  uv_getaddrinfo_t req;
  lcr_server_t *server;
  unsigned int listening_id;
  int port;
  int backlog;
  unsigned int flags;
  int reuse_port;
  char *host;
  int family; /* IP literal: 4 or 6 */
} lookup_t;

static void lookup_free(lookup_t *lk) {
  free(lk->host);
  free(lk);
}

static void lookup_done(lookup_t *lk, int status, const char *ip, int family) {
  lcr_server_t *s;
  lcr_error_t e;
  lcr__bind_spec_t spec;

  s = lk->server;
  /* "if (listeningId !== self._listeningId) return;": a later listen() or
   * close() made this lookup stale. */
  if (s->freed || lk->listening_id != s->listening_id)
    return;

  if (status != 0) {
    /* dns.lookup's callback emits at once, not on a tick. */
    lcr__error_dns(&e, status, lk->host);
    lcr__emit(s, LCR_EV_ERROR, &e, NULL);
    return;
  }

  memset(&spec, 0, sizeof(spec));
  spec.address = ip;
  spec.family = family;
  spec.port = lk->port;
  spec.fd = -1;
  spec.flags = lk->flags;
  spec.reuse_port = lk->reuse_port;
  spec.backlog = lk->backlog;
  lcr__setup_listen_handle(s, &spec);
}

/* An IPv6 link-local address: fe80::/10, as Node tells one (the first
 * byte 0xfe, the next two bits 10). */
static int is_link_local(const struct addrinfo *ai) {
  const unsigned char *b;

  if (ai->ai_family != AF_INET6)
    return 0;
  b = ((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr.s6_addr;
  return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

/* The answer lookupAndListen binds: dns.lookup()'s first (before 22.8.0);
 * since, of all its answers, the first that is not IPv6 link-local, and the
 * first when they all are (nodejs/node#54264). */
static const struct addrinfo *chosen_answer(const lcr_loop_t *loop,
                                            const struct addrinfo *res) {
  const struct addrinfo *ai;

  if (lcr__node_has(loop, LCR__NODE_SKIP_LINK_LOCAL))
    for (ai = res; ai != NULL; ai = ai->ai_next)
      if (!is_link_local(ai))
        return ai;
  return res;
}

static void on_getaddrinfo(uv_getaddrinfo_t *req, int status,
                           struct addrinfo *res) {
  const struct addrinfo *ai;
  char ip[INET6_ADDRSTRLEN];
  lookup_t *lk;
  lcr_server_t *s;
  int family;

  lk = CONTAINER_OF(req, lookup_t, req);
  s = lk->server;
  ip[0] = '\0';
  family = 4;

  /* The answers in the resolver's order (verbatim, the default since
   * Node 17). */
  if (status == 0 && res != NULL) {
    ai = chosen_answer(s->loop, res);
    if (ai->ai_family == AF_INET6) {
      uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip, sizeof(ip));
      family = 6;
    } else {
      uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof(ip));
    }
  } else if (status == 0) {
    status = UV_EAI_NONAME;
  }

  lookup_done(lk, status, ip, family);
  uv_freeaddrinfo(res);
  lookup_free(lk);
  lcr__server_unref(s);
}

/* dns.lookup() of an IP literal: the answer, on a tick. */
static void run_lookup_tick(lcr_tick_t *t) {
  lookup_t *lk;

  lk = t->data;
  lookup_done(lk, 0, lk->host, lk->family);
  lookup_free(lk);
}

static void discard_lookup_tick(lcr_tick_t *t) {
  lookup_free(t->data);
}

int lcr__lookup_and_listen(lcr_server_t *s, int port, const char *host,
                           int backlog, unsigned int flags, int reuse_port) {
  struct in6_addr a6;
  struct in_addr a4;
  struct addrinfo hints;
  lookup_t *lk;
  lcr_error_t e;
  lcr__errbox_t *box;
  int err;

  lk = calloc(1, sizeof(*lk));
  if (lk == NULL)
    return UV_ENOMEM;
  lk->host = strdup(host);
  if (lk->host == NULL) {
    free(lk);
    return UV_ENOMEM;
  }
  lk->server = s;
  lk->listening_id = s->listening_id;
  lk->port = port;
  lk->backlog = backlog;
  lk->flags = flags;
  lk->reuse_port = reuse_port;

  /* dns.lookup() answers an IP literal with process.nextTick(): still
   * asynchronous, but without the resolver. */
  if (inet_pton(AF_INET, host, &a4) == 1)
    lk->family = 4;
  else if (inet_pton(AF_INET6, host, &a6) == 1)
    lk->family = 6;
  if (lk->family != 0) {
    err = lcr__next_tick(s, run_lookup_tick, discard_lookup_tick, 0, lk);
    if (err != 0)
      lookup_free(lk);
    return err;
  }

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  err = uv_getaddrinfo(s->loop->uv, &lk->req, on_getaddrinfo, lk->host, NULL,
                       &hints);
  if (err != 0) {
    /* dns.lookup(): process.nextTick(callback, new DNSException(...)) */
    lcr__error_dns(&e, err, host);
    box = lcr__errbox_new(&e);
    lookup_free(lk);
    if (box != NULL && lcr__tick(s, LCR__TICK_ERROR, box) != 0)
      lcr__errbox_free(box);
    return 0;
  }
  lcr__server_ref(s);
  return 0;
}
