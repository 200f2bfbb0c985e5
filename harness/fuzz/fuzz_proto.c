/* lc-fuzz-proto: lch__proto_parse() on any bytes.  It must never crash, never
 * read out of bounds, and answer every line with 0 or -1 and a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lch__cmd_t cmd;
  char err[512];
  int64_t seq;
  /* An exact-size copy, so ASan sees any read past the line. */
  char *line = malloc(size ? size : 1);
  if (!line)
    return 0;
  memcpy(line, data, size);
  int rc = lch__proto_parse(line, size, &cmd, err, sizeof(err));
  if (rc == 0) {
    /* What a command promises the host. */
    if (!cmd.srv || !cmd.op_name)
      abort();
    if (cmd.op == LCH_OP_LISTEN && cmd.listen.size != sizeof(lc_listen_t))
      abort();
    if ((cmd.listen.has & LC_HAS_PATH) && !cmd.listen.path)
      abort();
  } else if (rc != -1 || err[0] == '\0') {
    abort();
  }
  lch__cmd_free(&cmd);
  (void)lch__proto_sniff_seq(line, size, &seq);
  free(line);
  return 0;
}
