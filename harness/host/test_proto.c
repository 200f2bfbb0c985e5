/* test_proto.c — the command parser on good and bad lines (ctest
 * host_proto_parse).  Every bad line must be refused with a message that
 * names the problem, never accepted and never a crash. */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "proto.h"

static int failures;

static void bad(const char *line, size_t len, const char *want) {
  lch__cmd_t cmd;
  char err[512];
  int rc = lch__proto_parse(line, len, &cmd, err, sizeof(err));
  if (rc != -1 || !strstr(err, want)) {
    printf("FAIL bad   %.80s\n  want error containing [%s], got rc %d [%s]\n",
           line, want, rc, rc ? err : "");
    failures++;
  }
  lch__cmd_free(&cmd);
}
#define BAD(lit, want) bad(lit, sizeof(lit) - 1, want)

static lch__cmd_t good_cmd;
static void good(const char *line) {
  char err[512];
  lch__cmd_free(&good_cmd);
  if (lch__proto_parse(line, strlen(line), &good_cmd, err, sizeof(err)) != 0) {
    printf("FAIL good  %s\n  error: %s\n", line, err);
    failures++;
  }
}

static void check(int cond, const char *what) {
  if (!cond) {
    printf("FAIL check %s\n", what);
    failures++;
  }
}

static void writer_roundtrip(void) {
  static const char raw[] = "a\"b\\c\n\x01\x7f\xc3\xa9\xff\0z";
  lch__jw_t w;
  lch__json_object_t o;
  char err[256];
  lch__jw_init(&w);
  lch__jw_begin(&w);
  lch__jw_str(&w, "s", raw, sizeof(raw) - 1);
  lch__jw_int(&w, "n", INT64_MIN);
  lch__jw_end(&w);
  check(lch__json_parse_object(w.buf, w.len, &o, err, sizeof(err)) == 0,
        "writer output parses");
  const lch__json_member_t *m = lch__json_get(&o, "s");
  /* \xff is not UTF-8: it comes back as U+FFFD (EF BF BD). */
  static const char want[] = "a\"b\\c\n\x01\x7f\xc3\xa9\xef\xbf\xbd\0z";
  check(m && m->str_len == sizeof(want) - 1 &&
            memcmp(m->str, want, sizeof(want) - 1) == 0,
        "string survives the writer and the parser");
  m = lch__json_get(&o, "n");
  check(m && m->type == LCH_JSON_INT && m->num == INT64_MIN, "INT64_MIN");
  lch__json_object_free(&o);
  lch__jw_free(&w);
}

int main(void) {
  /* Framing and JSON */
  BAD("", "empty line");
  BAD("[1]", "expected '{'");
  BAD("{\"op\":\"hello\",\"seq\":1", "unterminated object");
  BAD("{\"op\":\"hello\",\"seq\":1} x", "trailing characters");
  BAD("{\"op\":\"hello\",\"seq\":1,}", "member name");
  BAD("{\"op\":\"hello\",\"op\":\"quit\",\"seq\":1}", "duplicate member [op]");
  BAD("{\"op\":\"hello\",\"seq\":1.5}", "not an integer");
  BAD("{\"op\":\"hello\",\"seq\":1e3}", "not an integer");
  BAD("{\"op\":\"hello\",\"seq\":01}", "leading zero");
  BAD("{\"op\":\"hello\",\"seq\":9223372036854775808}", "int64 range");
  BAD("{\"op\":\"hello\",\"seq\":-}", "bad number");
  BAD("{\"op\":\"hello\",\"seq\":1,\"x\":{}}", "nested");
  BAD("{\"op\":\"hello\",\"seq\":1,\"x\":[1]}", "nested");
  BAD("{\"op\":\"hel\\x\",\"seq\":1}", "unknown escape");
  BAD("{\"op\":\"\\ud800\",\"seq\":1}", "without a low one");
  BAD("{\"op\":\"\\udc00\",\"seq\":1}", "lone low surrogate");
  BAD("{\"op\":\"\\u12g4\",\"seq\":1}", "bad hex digit");
  BAD("{\"op\":\"a\tb\",\"seq\":1}", "raw control character");
  BAD("{\"op\":\"\xc3\",\"seq\":1}", "invalid UTF-8");
  BAD("{\"op\":\"\xed\xa0\x80\",\"seq\":1}", "invalid UTF-8");
  BAD("{\"op\":\"\xc0\xaf\",\"seq\":1}", "invalid UTF-8");
  BAD("{\"a\\u0000b\":1}", "NUL character");
  BAD("{\"op\":tru}", "unexpected character");
  BAD("{\"op\":\"x\0y\",\"seq\":1}", "raw control character");
  /* Commands */
  BAD("{\"seq\":1}", "missing field [op]");
  BAD("{\"op\":7,\"seq\":1}", "field [op] must be a string");
  BAD("{\"op\":\"dance\",\"seq\":1}", "unknown op [dance]");
  BAD("{\"op\":\"hello\"}", "missing field [seq]");
  BAD("{\"op\":\"hello\",\"seq\":\"1\"}", "[seq] must be an integer");
  BAD("{\"op\":\"hello\",\"seq\":1,\"extra\":1}", "unknown field [extra]");
  BAD("{\"op\":\"begin\",\"seq\":1,\"id\":\"x\"}", "missing field [cwd]");
  BAD("{\"op\":\"server\",\"seq\":1}", "missing field [srv]");
  BAD("{\"op\":\"on\",\"seq\":1,\"event\":\"listening\"}",
      "missing field [label]");
  BAD("{\"op\":\"on\",\"seq\":1,\"event\":\"connection\",\"label\":\"K\","
      "\"then\":\"explode\"}",
      "[then] must be close when present, not [explode]");
  BAD("{\"op\":\"on\",\"seq\":1,\"event\":\"connection\",\"label\":\"K\","
      "\"then\":true}",
      "[then] must be a string");
  BAD("{\"op\":\"listen\",\"seq\":1}", "missing field [form]");
  BAD("{\"op\":\"listen\",\"seq\":1,\"form\":\"pipe\"}",
      "port, path, handle or options");
  BAD("{\"op\":\"listen\",\"seq\":1,\"form\":\"port\",\"port\":\"80\"}",
      "[port] must be an integer, not string");
  BAD("{\"op\":\"listen\",\"seq\":1,\"form\":\"port\",\"port\":4294967296}",
      "[port] = 4294967296 is outside");
  BAD("{\"op\":\"listen\",\"seq\":1,\"form\":\"port\",\"host\":\"a\\u0000b\"}",
      "[host] must not hold a NUL");
  BAD("{\"op\":\"listen\",\"seq\":1,\"form\":\"options\",\"exclusive\":1}",
      "[exclusive] must be a boolean");
  BAD("{\"op\":\"listen\",\"seq\":1,\"form\":\"options\",\"signal\":false}",
      "[signal] must be true");
  BAD("{\"op\":\"listen\",\"seq\":1,\"form\":\"port\",\"ipv6only\":true}",
      "unknown field [ipv6only]");
  BAD("{\"op\":\"run\",\"seq\":1,\"until\":\"listening\",\"ms\":-1}",
      "outside");
  BAD("{\"op\":\"run\",\"seq\":1,\"ms\":10}", "missing field [until]");
  BAD("{\"op\":\"mksock\",\"seq\":1,\"family\":\"tcp4\"}",
      "missing field [name]");
  BAD("{\"op\":\"mksock\",\"seq\":1,\"name\":\"H\",\"family\":\"udp\"}",
      "tcp4, tcp6, unix or file");
  BAD("{\"op\":\"mksock\",\"seq\":1,\"name\":\"H\",\"family\":\"unix\"}",
      "needs field [path]");
  BAD("{\"op\":\"mksock\",\"seq\":1,\"name\":\"H\",\"family\":\"tcp4\","
      "\"path\":\"/x\"}",
      "[path] is for unix");
  BAD("{\"op\":\"mksock\",\"seq\":1,\"name\":\"H\",\"ipv6Only\":true}",
      "is for tcp6");
  BAD("{\"op\":\"fail\",\"seq\":1,\"errno\":105}", "missing field [call]");
  BAD("{\"op\":\"fail\",\"seq\":1,\"call\":\"accept\"}",
      "missing field [errno]");
  BAD("{\"op\":\"fail\",\"seq\":1,\"call\":\"connect\",\"errno\":1}",
      "must be accept or chmod, not [connect]");
  BAD("{\"op\":\"fail\",\"seq\":1,\"call\":\"accept\",\"errno\":0}",
      "[errno] = 0 is outside");
  BAD("{\"op\":\"fail\",\"seq\":1,\"call\":\"chmod\",\"errno\":\"EPERM\"}",
      "[errno] must be an integer");
  BAD("{\"op\":\"fail\",\"seq\":1,\"call\":\"chmod\",\"errno\":1,\"srv\":"
      "\"A\"}",
      "unknown field [srv]");
  {
    static char huge[LCH_PROTO_LINE_MAX + 10];
    memset(huge, ' ', sizeof(huge));
    bad(huge, sizeof(huge), "longer than");
  }

  /* seq is echoed even when a later field is wrong */
  {
    lch__cmd_t c;
    char err[256];
    static const char l[] = "{\"op\":\"listen\",\"seq\":42}";
    check(lch__proto_parse(l, sizeof(l) - 1, &c, err, sizeof(err)) == -1 &&
              c.has_seq && c.seq == 42,
          "seq known on a failed parse");
    lch__cmd_free(&c);
  }

  /* Good lines, and what they decode to */
  good(" {\"op\":\"hello\",\"seq\":-9223372036854775808} ");
  check(good_cmd.op == LCH_OP_HELLO && good_cmd.seq == INT64_MIN, "hello");
  good(
      "{\"op\":\"listen\",\"seq\":3,\"form\":\"port\",\"port\":0,"
      "\"host\":\"127.0.0.1\",\"cb\":\"cb\"}");
  check(good_cmd.op == LCH_OP_LISTEN && !strcmp(good_cmd.srv, "A") &&
            good_cmd.listen.size == sizeof(lc_listen_t) &&
            good_cmd.listen.form == LC_FORM_PORT &&
            good_cmd.listen.has ==
                (LC_HAS_PORT | LC_HAS_HOST | LC_HAS_CALLBACK) &&
            !strcmp(good_cmd.listen.host, "127.0.0.1") &&
            !strcmp(good_cmd.listen.callback_label, "cb") &&
            good_cmd.listen.fd == -1,
        "listen port form");
  good(
      "{\"op\":\"listen\",\"seq\":4,\"srv\":\"B\",\"form\":\"options\","
      "\"path\":\"\\u0000abs\\u00e9\",\"readableAll\":true,\"writableAll\":"
      "false,"
      "\"exclusive\":true,\"ipv6Only\":false,\"reusePort\":true,\"signal\":"
      "true,"
      "\"backlog\":-5,\"fd\":3}");
  check(good_cmd.listen.path_len == 6 &&
            !memcmp(good_cmd.listen.path, "\0abs\xc3\xa9", 6) &&
            good_cmd.listen.has ==
                (LC_HAS_PATH | LC_HAS_READABLEALL | LC_HAS_WRITABLEALL |
                 LC_HAS_EXCLUSIVE | LC_HAS_IPV6ONLY | LC_HAS_REUSEPORT |
                 LC_HAS_SIGNAL | LC_HAS_BACKLOG | LC_HAS_FD) &&
            good_cmd.listen.readable_all == 1 &&
            good_cmd.listen.writable_all == 0 &&
            good_cmd.listen.backlog == -5 && good_cmd.listen.fd == 3 &&
            !strcmp(good_cmd.srv, "B"),
        "listen options form, abstract path with its length");
  good("{\"op\":\"listen\",\"seq\":5,\"form\":\"port\"}");
  check(good_cmd.listen.has == 0, "listen() has nothing");
  good("{\"op\":\"run\",\"seq\":6,\"until\":\"listening\"}");
  check(good_cmd.ms == 3000, "run ms defaults to 3000");
  good("{\"op\":\"mksock\",\"seq\":7,\"name\":\"H\"}");
  check(good_cmd.family == LCH_FAMILY_TCP4 && good_cmd.bind == 1 &&
            good_cmd.do_listen == 0 && good_cmd.backlog == 511 &&
            !good_cmd.address,
        "mksock defaults");
  good("{\"op\":\"close\",\"seq\":8,\"cb\":\"\\ud83d\\ude00\"}");
  check(!strcmp(good_cmd.cb, "\xf0\x9f\x98\x80"), "surrogate pair to UTF-8");
  good(
      "{\"op\":\"on\",\"seq\":10,\"event\":\"connection\",\"label\":\"K\","
      "\"then\":\"close\"}");
  check(good_cmd.op == LCH_OP_ON && good_cmd.then_close == 1 &&
            !strcmp(good_cmd.label, "K"),
        "on with then close");
  good("{\"op\":\"on\",\"seq\":11,\"event\":\"connection\",\"label\":\"K\"}");
  check(good_cmd.then_close == 0, "on without then");
  good("{\"op\":\"close\",\"seq\":9}");
  check(good_cmd.cb == NULL, "close without a callback");
  good("{\"op\":\"fail\",\"seq\":10,\"call\":\"accept\",\"errno\":105}");
  check(good_cmd.op == LCH_OP_FAIL && !strcmp(good_cmd.call, "accept") &&
            good_cmd.fail_errno == 105,
        "fail accept ENOBUFS");
  good("{\"op\":\"fail\",\"seq\":11,\"call\":\"chmod\",\"errno\":4095}");
  check(!strcmp(good_cmd.call, "chmod") && good_cmd.fail_errno == 4095,
        "fail chmod, the largest errno");
  lch__cmd_free(&good_cmd);

  writer_roundtrip();

  if (failures) {
    printf("%d failure(s)\n", failures);
    return 1;
  }
  printf("all parser checks passed\n");
  return 0;
}
