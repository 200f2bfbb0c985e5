/* lc-floor — the benchmark's floor: the least a listen can cost.  Binds
 * 127.0.0.1:0, listens, prints the port on stdout, exits. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "lc-floor: socket: %s\n", strerror(errno));
    return 1;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
    fprintf(stderr, "lc-floor: bind 127.0.0.1:0: %s\n", strerror(errno));
    return 1;
  }
  if (listen(fd, 511) < 0) {
    fprintf(stderr, "lc-floor: listen 127.0.0.1:0: %s\n", strerror(errno));
    return 1;
  }
  if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
    fprintf(stderr, "lc-floor: getsockname: %s\n", strerror(errno));
    return 1;
  }
  printf("%u\n", (unsigned)ntohs(sin.sin_port));
  close(fd);
  return 0;
}
