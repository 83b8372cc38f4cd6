/* bench/fair-logs' writers, static so that they run in the busybox image.
 *   tick_writer tick PERIOD_MS SECONDS   one line "<CLOCK_REALTIME ns>\n"
 *                                        every PERIOD_MS ms for SECONDS s
 *   tick_writer flood LINE_BYTES         LINE_BYTES-byte lines, flat out,
 *                                        in 64 KiB writes, until killed
 * A tick's line carries the time it was written, so a reader that gets it
 * from `logs -f` knows how long it took to become readable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(int clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int write_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "tick") == 0) {
    long long period = atoll(argv[2]) * 1000000LL, end = now_ns(CLOCK_MONOTONIC) + atoll(argv[3]) * 1000000000LL;
    /* A random phase, so that a thousand tickers do not write together. */
    srand((unsigned)(now_ns(CLOCK_MONOTONIC) ^ getpid()));
    long long next = now_ns(CLOCK_MONOTONIC) + rand() % period;
    while (next < end) {
      long long wait = next - now_ns(CLOCK_MONOTONIC);
      if (wait > 0) {
        struct timespec d = {(time_t)(wait / 1000000000LL), (long)(wait % 1000000000LL)};
        nanosleep(&d, NULL);
      }
      char line[32];
      int n = snprintf(line, sizeof line, "%lld\n", now_ns(CLOCK_REALTIME));
      if (write_all(line, (size_t)n) < 0) return 1;
      next += period;
    }
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "flood") == 0) {
    size_t line = (size_t)atol(argv[2]), size = 64 * 1024 / line * line;
    char* buf = malloc(size);
    if (!buf || line < 2) return 2;
    memset(buf, 'x', size);
    for (size_t i = line - 1; i < size; i += line) buf[i] = '\n';
    for (;;)
      if (write_all(buf, size) < 0) return 1;
  }
  fprintf(stderr, "usage: tick_writer tick PERIOD_MS SECONDS | flood LINE_BYTES\n");
  return 2;
}
