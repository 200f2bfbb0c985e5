/* sweep_probe.c — which code of the reference a scenario reaches.
 *
 * Linked only into the sweep's coverage shim (harness/tools/sweep.py), whose
 * other objects are compiled with -O0 -fsanitize-coverage=trace-pc: every
 * basic block calls __sanitizer_cov_trace_pc().  The first time each block
 * runs in each process, its address (the call's return address, relative to
 * the shim's base) is appended as "B <pid> <offset>\n" to LC_SWEEP_TRACE (a
 * path fixed at compile time: the runner may not pass the environment on), at
 * once, since the host's scenario processes end with _exit().  The sweep
 * writes a line "S <scenario id>" before each scenario, so the lines after it
 * are that scenario's.  This file itself is compiled without the
 * instrumentation.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#ifndef LC_SWEEP_TRACE
#error "compile with -DLC_SWEEP_TRACE=\"path\""
#endif

#define SEEN_SLOTS 16384

static uintptr_t seen[SEEN_SLOTS];
static pid_t seen_by;
static uintptr_t base;

__attribute__((visibility("hidden"))) void __sanitizer_cov_trace_pc(void);

void __sanitizer_cov_trace_pc(void) {
  uintptr_t off;
  unsigned i, n;
  char line[64];
  int fd, len;
  pid_t pid = getpid();

  if (base == 0) {
    Dl_info info;

    if (dladdr((void *)&__sanitizer_cov_trace_pc, &info) == 0)
      return;
    base = (uintptr_t)info.dli_fbase;
  }
  if (pid != seen_by) { /* a new process: it has reached nothing yet */
    for (i = 0; i < SEEN_SLOTS; i++)
      seen[i] = 0;
    seen_by = pid;
  }
  off = (uintptr_t)__builtin_return_address(0) - base;
  for (n = 0, i = (unsigned)(off * 2654435761u) % SEEN_SLOTS; n < SEEN_SLOTS;
       n++, i = (i + 1) % SEEN_SLOTS) {
    if (seen[i] == off)
      return;
    if (seen[i] == 0) {
      seen[i] = off;
      break;
    }
  }
  if (n == SEEN_SLOTS)
    return; /* full: recorded already, or never */
  len = snprintf(line, sizeof(line), "B %ld %lx\n", (long)pid,
                 (unsigned long)off);
  fd = open(LC_SWEEP_TRACE, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0)
    return;
  if (write(fd, line, (size_t)len) < 0) { /* nothing to do about it */
  }
  close(fd);
}
