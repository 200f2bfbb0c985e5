/* lc-fuzz-json: the JSON reader on any bytes, and the writer's round trip:
 * every object the reader accepts, written back, must parse to the same
 * members (strings that are valid UTF-8 come back byte for byte). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lch__json_object_t a, b;
  char err[512];
  char *text = malloc(size ? size : 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  if (lch__json_parse_object(text, size, &a, err, sizeof(err)) != 0) {
    if (err[0] == '\0')
      abort();
    free(text);
    return 0;
  }
  lch__jw_t w;
  lch__jw_init(&w);
  lch__jw_begin(&w);
  for (size_t i = 0; i < a.count; i++) {
    const lch__json_member_t *m = &a.members[i];
    switch (m->type) {
    case LCH_JSON_NULL: lch__jw_null(&w, m->key); break;
    case LCH_JSON_BOOL: lch__jw_bool(&w, m->key, m->boolean); break;
    case LCH_JSON_INT: lch__jw_int(&w, m->key, m->num); break;
    case LCH_JSON_STRING: lch__jw_str(&w, m->key, m->str, m->str_len); break;
    }
  }
  lch__jw_end(&w);
  if (w.oom || lch__json_parse_object(w.buf, w.len, &b, err, sizeof(err)) != 0)
    abort();
  if (b.count != a.count)
    abort();
  for (size_t i = 0; i < a.count; i++) {
    const lch__json_member_t *x = &a.members[i], *y = &b.members[i];
    if (strcmp(x->key, y->key) || x->type != y->type || x->num != y->num ||
        x->boolean != y->boolean || x->str_len != y->str_len ||
        (x->str_len && memcmp(x->str, y->str, x->str_len)))
      abort();
  }
  lch__json_object_free(&b);
  lch__json_object_free(&a);
  lch__jw_free(&w);
  free(text);
  return 0;
}
