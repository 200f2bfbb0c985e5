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
