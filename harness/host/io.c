/* io.c — the host's protocol I/O (harness/PROTOCOL.md): command lines read
 * from the buffer the zygote and the scenario child share, responses and
 * event lines written to the private protocol fd, and the one-line errors
 * that end the host before it serves (a shim it cannot use, a bad command
 * line).  Nothing here calls the shim.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host-internal.h"

int lch__in = 0, lch__out = 1;
lch__shared_t *lch__sh;
int lch__is_child;
lch__jw_t lch__resp, lch__ev;

/* ------------------------------------------------------------------------ */
/* Output */

static void die_output(void) {
  /* The driver is gone; nobody can read an answer. */
  if (lch__is_child)
    _exit(0);
  lch__kill_all();
  exit(1);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "lc-host: writing the protocol: %s\n", strerror(errno));
      die_output();
    }
    p += w;
    n -= (size_t)w;
  }
}

/* Write w's text as one line, in one write() when it fits a pipe's atomic
 * size. */
void lch__send_line(lch__jw_t *w) {
  lch__jw_raw(w, "\n", 1);
  if (w->oom) {
    static const char oom[] =
        "{\"r\":\"error\",\"seq\":null,\"message\":\"lc-host: out of "
        "memory\"}\n";
    write_all(lch__out, oom, sizeof(oom) - 1);
    return;
  }
  write_all(lch__out, w->buf, w->len);
}

void lch__resp_begin(const char *r, int has_seq, int64_t seq) {
  lch__jw_reset(&lch__resp);
  lch__jw_begin(&lch__resp);
  lch__jw_cstr(&lch__resp, "r", r);
  if (has_seq)
    lch__jw_int(&lch__resp, "seq", seq);
  else
    lch__jw_null(&lch__resp, "seq");
}

/* `run` counts the emissions since the previous response (PROTOCOL.md). */
void lch__resp_send(void) {
  lch__jw_end(&lch__resp);
  lch__send_line(&lch__resp);
  lch__forget_emitted();
}

void lch__respond_ok(const lch__cmd_t *cmd) {
  lch__resp_begin("ok", 1, cmd->seq);
  lch__resp_send();
}

void lch__respond_error(int has_seq, int64_t seq, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  lch__resp_begin("error", has_seq, seq);
  lch__jw_cstr(&lch__resp, "message", msg);
  lch__resp_send();
}

/* A failure before the zygote can serve: one line on stderr naming the
 * library, the same as an error response on the protocol, exit 2. */
void lch__fatal(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "lc-host: %s\n", msg);
  lch__resp_begin("error", 1, 0);
  lch__jw_cstr(&lch__resp, "message", msg);
  lch__resp_send();
  if (!lch__is_child)
    lch__kill_all(); /* what the shim's constructors forked */
  exit(2);
}

/* ------------------------------------------------------------------------ */
/* Input: one line at a time from the shared buffer */

size_t lch__line_start; /* offset of the last line in lch__sh->buf */

/* 1: a line in *line, *len (valid until the next call); 0: end of input;
 * -1: the line was longer than LCH_PROTO_LINE_MAX and was dropped. */
static int read_line(const char **line, size_t *len) {
  lch__shared_t *sh = lch__sh;
  for (;;) {
    char *start = sh->buf + sh->head;
    char *nl = memchr(start, '\n', sh->tail - sh->head);
    if (nl) {
      lch__line_start = sh->head;
      sh->head += (size_t)(nl - start) + 1;
      if (sh->discarding) {
        sh->discarding = 0;
        return -1;
      }
      *line = start;
      *len = (size_t)(nl - start);
      return 1;
    }
    if (sh->discarding) {
      sh->head = sh->tail = 0;
    } else if (sh->tail - sh->head > LCH_PROTO_LINE_MAX) {
      sh->long_has_seq = lch__proto_sniff_seq(
          sh->buf + sh->head, sh->tail - sh->head, &sh->long_seq);
      sh->discarding = 1;
      sh->head = sh->tail = 0;
    } else if (sh->head > 0) {
      memmove(sh->buf, sh->buf + sh->head, sh->tail - sh->head);
      sh->tail -= sh->head;
      sh->head = 0;
    }
    ssize_t r = read(lch__in, sh->buf + sh->tail, sizeof(sh->buf) - sh->tail);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      fprintf(stderr, "lc-host: reading the protocol: %s\n", strerror(errno));
    if (r <= 0) {
      /* A last line without '\n' still counts as a line. */
      if (sh->tail > sh->head && !sh->discarding) {
        lch__line_start = sh->head;
        *line = sh->buf + sh->head;
        *len = sh->tail - sh->head;
        sh->head = sh->tail;
        return 1;
      }
      sh->discarding = 0;
      return 0;
    }
    sh->tail += (size_t)r;
  }
}

/* Read and parse the next command.  Returns 1 with *cmd to free, 0 at the
 * end of input; lines that are not commands are answered here. */
int lch__next_command(lch__cmd_t *cmd) {
  for (;;) {
    const char *line;
    size_t len;
    char errbuf[512];
    int r = read_line(&line, &len);
    if (r == 0)
      return 0;
    if (r < 0) {
      lch__respond_error(lch__sh->long_has_seq, lch__sh->long_seq,
                         "line longer than %d bytes", LCH_PROTO_LINE_MAX);
      continue;
    }
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
      k++;
    if (k == len)
      continue; /* blank lines are not commands */
    if (lch__proto_parse(line, len, cmd, errbuf, sizeof(errbuf)) == 0)
      return 1;
    if (!cmd->has_seq)
      cmd->has_seq = lch__proto_sniff_seq(line, len, &cmd->seq);
    lch__respond_error(cmd->has_seq, cmd->seq, "%s", errbuf);
    lch__cmd_free(cmd);
  }
}

void lch__usage_error(const char *why) {
  fprintf(stderr, "lc-host: %s (usage: " LCH_USAGE ")\n", why);
  exit(2);
}
