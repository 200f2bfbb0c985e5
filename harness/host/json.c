/* json.c — see json.h. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Parser */

typedef struct parser_s {
  const unsigned char *s;
  size_t len, pos;
  char *arena;
  size_t arena_used;
  char *errbuf;
  size_t errlen;
} parser_t;

static int fail(parser_t *p, const char *fmt, ...) {
  if (p->errbuf && p->errlen) {
    int n = snprintf(p->errbuf, p->errlen, "JSON at byte %zu: ", p->pos);
    if (n >= 0 && (size_t)n < p->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(p->errbuf + n, p->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

static void skip_ws(parser_t *p) {
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
      break;
    p->pos++;
  }
}

static int hex4(parser_t *p, unsigned *out) {
  unsigned v = 0;
  if (p->len - p->pos < 4)
    return fail(p, "truncated \\u escape");
  for (int i = 0; i < 4; i++) {
    unsigned char c = p->s[p->pos + (size_t)i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return fail(p, "bad hex digit in \\u escape");
  }
  p->pos += 4;
  *out = v;
  return 0;
}

static size_t put_utf8(char *d, unsigned cp) {
  if (cp < 0x80) {
    d[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (char)(0xC0 | (cp >> 6));
    d[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (char)(0xE0 | (cp >> 12));
    d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  d[0] = (char)(0xF0 | (cp >> 18));
  d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  d[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one
 * (overlong forms, encoded surrogates and code points past U+10FFFF are not
 * UTF-8, RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t need;
  unsigned cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < need)
    return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return need;
}

/* Decode the string whose opening quote is at p->pos into the arena. */
static int parse_string(parser_t *p, const char **out, size_t *out_len) {
  char *d = p->arena + p->arena_used;
  size_t n = 0;
  p->pos++; /* the quote */
  for (;;) {
    if (p->pos >= p->len)
      return fail(p, "unterminated string");
    unsigned char c = p->s[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20)
      return fail(p, "raw control character 0x%02x in string (escape it)", c);
    if (c == '\\') {
      if (p->pos + 1 >= p->len)
        return fail(p, "unterminated escape");
      unsigned char e = p->s[p->pos + 1];
      p->pos += 2;
      switch (e) {
      case '"': d[n++] = '"'; break;
      case '\\': d[n++] = '\\'; break;
      case '/': d[n++] = '/'; break;
      case 'b': d[n++] = '\b'; break;
      case 'f': d[n++] = '\f'; break;
      case 'n': d[n++] = '\n'; break;
      case 'r': d[n++] = '\r'; break;
      case 't': d[n++] = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (hex4(p, &cp))
          return -1;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return fail(p, "lone low surrogate \\u%04X", cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (p->len - p->pos < 6 || p->s[p->pos] != '\\' ||
              p->s[p->pos + 1] != 'u')
            return fail(p, "high surrogate \\u%04X without a low one", cp);
          p->pos += 2;
          if (hex4(p, &lo))
            return -1;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(p, "high surrogate followed by \\u%04X", lo);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        n += put_utf8(d + n, cp);
        break;
      }
      default:
        p->pos -= 1;
        return fail(p, "unknown escape \\%c", e >= 0x20 && e < 0x7F ? e : '?');
      }
      continue;
    }
    size_t k = utf8_seq(p->s + p->pos, p->len - p->pos);
    if (k == 0)
      return fail(p, "invalid UTF-8 in string");
    memcpy(d + n, p->s + p->pos, k);
    n += k;
    p->pos += k;
  }
  d[n] = '\0';
  p->arena_used += n + 1;
  *out = d;
  *out_len = n;
  return 0;
}

static int parse_int(parser_t *p, int64_t *out) {
  size_t start = p->pos;
  int neg = 0;
  uint64_t limit, v = 0;
  if (p->s[p->pos] == '-') {
    neg = 1;
    p->pos++;
  }
  limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
  if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
    return fail(p, "bad number");
  if (p->s[p->pos] == '0' && p->pos + 1 < p->len && p->s[p->pos + 1] >= '0' &&
      p->s[p->pos + 1] <= '9')
    return fail(p, "number with a leading zero");
  while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
    unsigned dgt = (unsigned)(p->s[p->pos] - '0');
    if (v > (limit - dgt) / 10) {
      p->pos = start;
      return fail(p, "integer out of the int64 range");
    }
    v = v * 10 + dgt;
    p->pos++;
  }
  if (p->pos < p->len &&
      (p->s[p->pos] == '.' || p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    p->pos = start;
    return fail(p,
                "number is not an integer (fractions and exponents are "
                "not supported)");
  }
  if (neg)
    *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
  else
    *out = (int64_t)v;
  return 0;
}

static int literal(parser_t *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
    return fail(
        p, "unexpected character '%c'",
        p->s[p->pos] >= 0x20 && p->s[p->pos] < 0x7F ? p->s[p->pos] : '?');
  p->pos += n;
  return 0;
}

static int add_member(lch__json_object_t *o, size_t *cap,
                      const lch__json_member_t *m) {
  if (o->count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 8;
    lch__json_member_t *nm = realloc(o->members, ncap * sizeof(*nm));
    if (!nm)
      return -1;
    o->members = nm;
    *cap = ncap;
  }
  o->members[o->count++] = *m;
  return 0;
}

int lch__json_parse_object(const char *s, size_t len, lch__json_object_t *out,
                           char *errbuf, size_t errlen) {
  parser_t p = {(const unsigned char *)s, len, 0, NULL, 0, errbuf, errlen};
  lch__json_object_t o = {NULL, 0, NULL};
  size_t cap = 0;

  memset(out, 0, sizeof(*out));
  if (errbuf && errlen)
    errbuf[0] = '\0';
  /* Decoded text is never longer than its source; +1 per string for the
   * terminator, and a string takes at least two source bytes. */
  o.arena = malloc(len + len / 2 + 2);
  if (!o.arena) {
    fail(&p, "out of memory");
    return -1;
  }
  p.arena = o.arena;

  skip_ws(&p);
  if (p.pos >= len || p.s[p.pos] != '{') {
    fail(&p, p.pos >= len ? "empty line, expected an object"
                          : "expected '{' (a command is one JSON object)");
    goto error;
  }
  p.pos++;
  skip_ws(&p);
  if (p.pos < len && p.s[p.pos] == '}') {
    p.pos++;
  } else {
    for (;;) {
      lch__json_member_t m;
      size_t klen;
      memset(&m, 0, sizeof(m));
      skip_ws(&p);
      if (p.pos >= len || p.s[p.pos] != '"') {
        fail(&p, "expected a member name in double quotes");
        goto error;
      }
      if (parse_string(&p, &m.key, &klen))
        goto error;
      if (strlen(m.key) != klen) {
        fail(&p, "member name holds a NUL character");
        goto error;
      }
      if (lch__json_get(&o, m.key)) {
        fail(&p, "duplicate member [%s]", m.key);
        goto error;
      }
      skip_ws(&p);
      if (p.pos >= len || p.s[p.pos] != ':') {
        fail(&p, "expected ':' after member name [%s]", m.key);
        goto error;
      }
      p.pos++;
      skip_ws(&p);
      if (p.pos >= len) {
        fail(&p, "missing value for member [%s]", m.key);
        goto error;
      }
      switch (p.s[p.pos]) {
      case '"':
        m.type = LCH_JSON_STRING;
        if (parse_string(&p, &m.str, &m.str_len))
          goto error;
        break;
      case 't':
        m.type = LCH_JSON_BOOL;
        m.boolean = 1;
        if (literal(&p, "true"))
          goto error;
        break;
      case 'f':
        m.type = LCH_JSON_BOOL;
        if (literal(&p, "false"))
          goto error;
        break;
      case 'n':
        m.type = LCH_JSON_NULL;
        if (literal(&p, "null"))
          goto error;
        break;
      case '{':
      case '[':
        fail(&p, "member [%s]: nested objects and arrays are not supported",
             m.key);
        goto error;
      default:
        if (p.s[p.pos] == '-' || (p.s[p.pos] >= '0' && p.s[p.pos] <= '9')) {
          m.type = LCH_JSON_INT;
          if (parse_int(&p, &m.num))
            goto error;
        } else {
          unsigned char c = p.s[p.pos];
          fail(&p, "member [%s]: unexpected character '%c' at a value", m.key,
               c >= 0x20 && c < 0x7F ? c : '?');
          goto error;
        }
      }
      if (add_member(&o, &cap, &m)) {
        fail(&p, "out of memory");
        goto error;
      }
      skip_ws(&p);
      if (p.pos < len && p.s[p.pos] == ',') {
        p.pos++;
        continue;
      }
      if (p.pos < len && p.s[p.pos] == '}') {
        p.pos++;
        break;
      }
      fail(&p, p.pos >= len ? "unterminated object"
                            : "expected ',' or '}' after a member");
      goto error;
    }
  }
  skip_ws(&p);
  if (p.pos != len) {
    fail(&p, "trailing characters after the object");
    goto error;
  }
  *out = o;
  return 0;

error:
  free(o.members);
  free(o.arena);
  return -1;
}

void lch__json_object_free(lch__json_object_t *obj) {
  if (!obj)
    return;
  free(obj->members);
  free(obj->arena);
  memset(obj, 0, sizeof(*obj));
}

const lch__json_member_t *lch__json_get(const lch__json_object_t *obj,
                                        const char *key) {
  for (size_t i = 0; i < obj->count; i++)
    if (strcmp(obj->members[i].key, key) == 0)
      return &obj->members[i];
  return NULL;
}

const char *lch__json_type_name(lch__json_type_t type) {
  switch (type) {
  case LCH_JSON_NULL: return "null";
  case LCH_JSON_BOOL: return "boolean";
  case LCH_JSON_INT: return "integer";
  case LCH_JSON_STRING: return "string";
  }
  return "?";
}

/* ------------------------------------------------------------------------ */
/* Writer */

void lch__jw_init(lch__jw_t *w) {
  memset(w, 0, sizeof(*w));
}

void lch__jw_free(lch__jw_t *w) {
  free(w->buf);
  memset(w, 0, sizeof(*w));
}

void lch__jw_reset(lch__jw_t *w) {
  w->len = 0;
  w->oom = 0;
  w->need_comma = 0;
  if (w->buf)
    w->buf[0] = '\0';
}

static void put(lch__jw_t *w, const char *s, size_t n) {
  if (w->oom)
    return;
  if (w->len + n + 1 > w->cap) {
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap < w->len + n + 1)
      ncap *= 2;
    char *nb = realloc(w->buf, ncap);
    if (!nb) {
      w->oom = 1;
      return;
    }
    w->buf = nb;
    w->cap = ncap;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

void lch__jw_raw(lch__jw_t *w, const char *s, size_t n) {
  put(w, s, n);
}

void lch__jw_string_value(lch__jw_t *w, const char *s, size_t n) {
  static const char hexd[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, run = 0;
  put(w, "\"", 1);
  while (i < n) {
    unsigned char c = u[i];
    const char *esc = NULL;
    char ubuf[7];
    size_t k = 1;
    if (c == '"')
      esc = "\\\"";
    else if (c == '\\')
      esc = "\\\\";
    else if (c == '\n')
      esc = "\\n";
    else if (c == '\r')
      esc = "\\r";
    else if (c == '\t')
      esc = "\\t";
    else if (c < 0x20 || c == 0x7F) {
      ubuf[0] = '\\';
      ubuf[1] = 'u';
      ubuf[2] = '0';
      ubuf[3] = '0';
      ubuf[4] = hexd[c >> 4];
      ubuf[5] = hexd[c & 15];
      ubuf[6] = '\0';
      esc = ubuf;
    } else if (c >= 0x80) {
      k = utf8_seq(u + i, n - i);
      if (k == 0) {
        esc = "\\ufffd"; /* not UTF-8: the replacement character */
        k = 1;
      }
    }
    if (esc) {
      put(w, s + i - run, run);
      run = 0;
      put(w, esc, strlen(esc));
    } else {
      run += k;
    }
    i += k;
  }
  put(w, s + n - run, run);
  put(w, "\"", 1);
}

static void key(lch__jw_t *w, const char *k) {
  if (w->need_comma)
    put(w, ",", 1);
  w->need_comma = 1;
  lch__jw_string_value(w, k, strlen(k));
  put(w, ":", 1);
}

void lch__jw_begin(lch__jw_t *w) {
  put(w, "{", 1);
  w->need_comma = 0;
}

void lch__jw_end(lch__jw_t *w) {
  put(w, "}", 1);
  w->need_comma = 1;
}

void lch__jw_obj(lch__jw_t *w, const char *k) {
  key(w, k);
  lch__jw_begin(w);
}

void lch__jw_arr(lch__jw_t *w, const char *k) {
  key(w, k);
  put(w, "[", 1);
  w->need_comma = 0;
}

void lch__jw_item(lch__jw_t *w, const char *s, size_t n) {
  if (w->need_comma)
    put(w, ",", 1);
  w->need_comma = 1;
  lch__jw_string_value(w, s, n);
}

void lch__jw_arr_end(lch__jw_t *w) {
  put(w, "]", 1);
  w->need_comma = 1;
}

void lch__jw_str(lch__jw_t *w, const char *k, const char *s, size_t n) {
  key(w, k);
  if (s)
    lch__jw_string_value(w, s, n);
  else
    put(w, "null", 4);
}

void lch__jw_cstr(lch__jw_t *w, const char *k, const char *s) {
  lch__jw_str(w, k, s, s ? strlen(s) : 0);
}

void lch__jw_int(lch__jw_t *w, const char *k, int64_t v) {
  char b[32];
  int n = snprintf(b, sizeof(b), "%lld", (long long)v);
  key(w, k);
  put(w, b, (size_t)n);
}

void lch__jw_bool(lch__jw_t *w, const char *k, int v) {
  key(w, k);
  if (v)
    put(w, "true", 4);
  else
    put(w, "false", 5);
}

void lch__jw_null(lch__jw_t *w, const char *k) {
  key(w, k);
  put(w, "null", 4);
}
