/* A container's writer for bench/log-outage: writes RATE bytes per second
 * to stdout in chunks of CHUNK bytes (one every CHUNK/RATE seconds) for
 * SECONDS seconds, timing each write(2). A write that takes long is the
 * container blocked on its log pipe (berthd down: nobody drains it).
 * At the end it prints to stderr, and to the file given as argv[4]:
 * the longest write, the total time spent in writes, and how far behind
 * its schedule it ended.
 *   log_writer RATE CHUNK SECONDS OUTFILE
 * Static (built by the bench), so that it runs in the busybox image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  double rate = atof(argv[1]);
  size_t chunk = (size_t)atol(argv[2]);
  double seconds = atof(argv[3]);
  char* buf = malloc(chunk);
  memset(buf, 'x', chunk);
  buf[chunk - 1] = '\n';
  double start = now(), longest = 0, blocked = 0, period = chunk / rate;
  long writes = 0;
  for (;;) {
    double due = start + writes * period, t = now();
    if (due - start >= seconds) break;
    if (due > t) {
      struct timespec d = {(time_t)(due - t), (long)((due - t - (time_t)(due - t)) * 1e9)};
      nanosleep(&d, NULL);
    }
    double w0 = now();
    size_t off = 0;
    while (off < chunk) {
      ssize_t n = write(1, buf + off, chunk - off);
      if (n <= 0) return 3;
      off += (size_t)n;
    }
    double took = now() - w0;
    blocked += took;
    if (took > longest) longest = took;
    writes++;
  }
  double behind = now() - start - seconds;
  char line[256];
  snprintf(line, sizeof line,
           "%ld bytes in %ld writes, longest %.0f ms, blocked in total %.0f ms, ended %.0f ms behind schedule\n",
           writes * (long)chunk, writes, longest * 1000, blocked * 1000, behind * 1000);
  fputs(line, stderr);
  FILE* f = fopen(argv[4], "w");
  if (f) {
    fputs(line, f);
    fclose(f);
  }
  return 0;
}
