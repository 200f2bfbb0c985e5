/* json.h — the small JSON the runner protocol needs (harness/PROTOCOL.md).
 *
 * Reading: one line holding one flat object whose values are strings,
 * integers, booleans or null.  Nested objects and arrays, fractions and
 * exponents are refused with a message naming the problem.  Strings are
 * decoded in full (every escape, \uXXXX with surrogate pairs, to UTF-8); a
 * decoded string may hold NUL bytes (\u0000), so each carries its length.
 *
 * Writing: a growable buffer and calls that append members, escaping what
 * JSON requires and writing bytes that are not UTF-8 as U+FFFD, so every line
 * the host writes parses.
 */
#ifndef LCH_JSON_H
#define LCH_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum lch__json_type_e {
  LCH_JSON_NULL = 0,
  LCH_JSON_BOOL = 1,
  LCH_JSON_INT = 2,
  LCH_JSON_STRING = 3
} lch__json_type_t;

typedef struct lch__json_member_s {
  const char *key; /* NUL-terminated; never holds a NUL (refused) */
  lch__json_type_t type;
  const char *str; /* LCH_JSON_STRING: decoded bytes, NUL-terminated too */
  size_t str_len;  /* bytes in str, not counting the terminator */
  int64_t num;     /* LCH_JSON_INT */
  int boolean;     /* LCH_JSON_BOOL: 0 or 1 */
} lch__json_member_t;

typedef struct lch__json_object_s {
  lch__json_member_t *members;
  size_t count;
  char *arena; /* owns every decoded key and string */
} lch__json_object_t;

/* Parse s[0..len) as one object (whitespace around it allowed).  Returns 0,
 * or -1 with a message in errbuf; *out then holds nothing to free.  Duplicate
 * keys are refused. */
int lch__json_parse_object(const char *s, size_t len, lch__json_object_t *out,
                           char *errbuf, size_t errlen);
void lch__json_object_free(lch__json_object_t *obj);
/* The member named key, or NULL. */
const lch__json_member_t *lch__json_get(const lch__json_object_t *obj,
                                        const char *key);
const char *lch__json_type_name(lch__json_type_t type);

/* ------------------------------------------------------------------------ */
/* Writer */

typedef struct lch__jw_s {
  char *buf;
  size_t len, cap;
  int oom;        /* an allocation failed: the text is incomplete */
  int need_comma; /* a member was written at this level */
} lch__jw_t;

void lch__jw_init(lch__jw_t *w);
void lch__jw_free(lch__jw_t *w);
void lch__jw_reset(lch__jw_t *w);
void lch__jw_begin(lch__jw_t *w); /* '{' */
void lch__jw_end(lch__jw_t *w);   /* '}' */
void lch__jw_obj(lch__jw_t *w,
                 const char *key); /* "key":{ ... close with end */
void lch__jw_str(lch__jw_t *w, const char *key, const char *s, size_t n);
void lch__jw_cstr(lch__jw_t *w, const char *key,
                  const char *s); /* NULL: null */
void lch__jw_int(lch__jw_t *w, const char *key, int64_t v);
void lch__jw_bool(lch__jw_t *w, const char *key, int v);
void lch__jw_null(lch__jw_t *w, const char *key);
/* "key":[ then string items, then lch__jw_arr_end for ']' */
void lch__jw_arr(lch__jw_t *w, const char *key);
void lch__jw_item(lch__jw_t *w, const char *s, size_t n);
void lch__jw_arr_end(lch__jw_t *w);
/* Raw text, as is (a '\n' to end a line). */
void lch__jw_raw(lch__jw_t *w, const char *s, size_t n);
/* A bare JSON string (no key), escaped; for values inside lch__jw_obj too. */
void lch__jw_string_value(lch__jw_t *w, const char *s, size_t n);

#endif /* LCH_JSON_H */
