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
#ifndef LC_JSON_H
#define LC_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum lc_json_type_e {
  LC_JSON_NULL = 0,
  LC_JSON_BOOL = 1,
  LC_JSON_INT = 2,
  LC_JSON_STRING = 3
} lc_json_type_t;

typedef struct lc_json_member_s {
  const char *key;  /* NUL-terminated; never holds a NUL (refused) */
  lc_json_type_t type;
  const char *str;  /* LC_JSON_STRING: decoded bytes, NUL-terminated too */
  size_t str_len;   /* bytes in str, not counting the terminator */
  int64_t num;      /* LC_JSON_INT */
  int boolean;      /* LC_JSON_BOOL: 0 or 1 */
} lc_json_member_t;

typedef struct lc_json_object_s {
  lc_json_member_t *members;
  size_t count;
  char *arena; /* owns every decoded key and string */
} lc_json_object_t;

/* Parse s[0..len) as one object (whitespace around it allowed).  Returns 0,
 * or -1 with a message in errbuf; *out then holds nothing to free.  Duplicate
 * keys are refused. */
int lc_json_parse_object(const char *s, size_t len, lc_json_object_t *out,
                         char *errbuf, size_t errlen);
void lc_json_object_free(lc_json_object_t *obj);
/* The member named key, or NULL. */
const lc_json_member_t *lc_json_get(const lc_json_object_t *obj,
                                    const char *key);
const char *lc_json_type_name(lc_json_type_t type);

/* ------------------------------------------------------------------------ */
/* Writer */

typedef struct lc_jw_s {
  char *buf;
  size_t len, cap;
  int oom;        /* an allocation failed: the text is incomplete */
  int need_comma; /* a member was written at this level */
} lc_jw_t;

void lc_jw_init(lc_jw_t *w);
void lc_jw_free(lc_jw_t *w);
void lc_jw_reset(lc_jw_t *w);
void lc_jw_begin(lc_jw_t *w);                  /* '{' */
void lc_jw_end(lc_jw_t *w);                    /* '}' */
void lc_jw_obj(lc_jw_t *w, const char *key);   /* "key":{ ... close with end */
void lc_jw_str(lc_jw_t *w, const char *key, const char *s, size_t n);
void lc_jw_cstr(lc_jw_t *w, const char *key, const char *s); /* NULL: null */
void lc_jw_int(lc_jw_t *w, const char *key, int64_t v);
void lc_jw_bool(lc_jw_t *w, const char *key, int v);
void lc_jw_null(lc_jw_t *w, const char *key);
/* "key":[ then string items, then lc_jw_arr_end for ']' */
void lc_jw_arr(lc_jw_t *w, const char *key);
void lc_jw_item(lc_jw_t *w, const char *s, size_t n);
void lc_jw_arr_end(lc_jw_t *w);
/* Raw text, as is (a '\n' to end a line). */
void lc_jw_raw(lc_jw_t *w, const char *s, size_t n);
/* A bare JSON string (no key), escaped; for values inside lc_jw_obj too. */
void lc_jw_string_value(lc_jw_t *w, const char *s, size_t n);

#endif /* LC_JSON_H */
