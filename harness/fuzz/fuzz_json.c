/* lc-fuzz-json: the JSON reader on any bytes, and the writer's round trip:
 * every object the reader accepts, written back, must parse to the same
 * members (strings that are valid UTF-8 come back byte for byte). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lc_json_object_t a, b;
  char err[512];
  char *text = malloc(size ? size : 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  if (lc_json_parse_object(text, size, &a, err, sizeof(err)) != 0) {
    if (err[0] == '\0')
      abort();
    free(text);
    return 0;
  }
  lc_jw_t w;
  lc_jw_init(&w);
  lc_jw_begin(&w);
  for (size_t i = 0; i < a.count; i++) {
    const lc_json_member_t *m = &a.members[i];
    switch (m->type) {
    case LC_JSON_NULL: lc_jw_null(&w, m->key); break;
    case LC_JSON_BOOL: lc_jw_bool(&w, m->key, m->boolean); break;
    case LC_JSON_INT: lc_jw_int(&w, m->key, m->num); break;
    case LC_JSON_STRING: lc_jw_str(&w, m->key, m->str, m->str_len); break;
    }
  }
  lc_jw_end(&w);
  if (w.oom || lc_json_parse_object(w.buf, w.len, &b, err, sizeof(err)) != 0)
    abort();
  if (b.count != a.count)
    abort();
  for (size_t i = 0; i < a.count; i++) {
    const lc_json_member_t *x = &a.members[i], *y = &b.members[i];
    if (strcmp(x->key, y->key) || x->type != y->type || x->num != y->num ||
        x->boolean != y->boolean || x->str_len != y->str_len ||
        (x->str_len && memcmp(x->str, y->str, x->str_len)))
      abort();
  }
  lc_json_object_free(&b);
  lc_json_object_free(&a);
  lc_jw_free(&w);
  free(text);
  return 0;
}
