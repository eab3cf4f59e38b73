/*
 * uds_bench: a minimal C client for Unix-socket line protocols, so that pybgd and its
 * comparisons are driven by the same code.
 *
 *   uds_bench pingpong COUNT              raw ping-pong between two processes over a Unix socket
 *   uds_bench sequential PATH COUNT REQ   one request, wait for its reply, repeat
 *   uds_bench pipelined PATH COUNT REQ W  W requests per write, then read their W replies
 *   uds_bench watch PATH REQ              send REQ (EVENTS) and read what comes until the end; prints
 *                                         the count of lines (a reader that keeps up)
 *   uds_bench bsworker PATH COUNT         a beanstalkd worker: `reserve`, then `delete` the job it got,
 *                                         COUNT times (jobs of a one-byte body, as `put 0 0 60 1`)
 *
 * REQ may contain \r and \n escapes; every reply is one line. Prints "<mode> <count> <seconds> <per-second>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) { perror(what); exit(1); }

static void write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0) { if (errno == EINTR) continue; die("write"); }
        data += n; length -= (size_t)n;
    }
}

/* Reads until `lines` newlines have arrived; returns the first reply's first bytes in `first`. */
static char buffer[1 << 20];
static void read_lines(int fd, long lines, char *first, size_t first_size) {
    long seen = 0;
    int captured = first == NULL;
    while (seen < lines) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0) { if (errno == EINTR) continue; die("read"); }
        if (n == 0) { fprintf(stderr, "connection closed after %ld of %ld replies\n", seen, lines); exit(1); }
        if (!captured) {
            size_t k = (size_t)n < first_size - 1 ? (size_t)n : first_size - 1;
            memcpy(first, buffer, k); first[k] = 0; captured = 1;
        }
        for (ssize_t i = 0; i < n; i++) if (buffer[i] == '\n') seen++;
    }
}

static int connect_to(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die(path);
    return fd;
}

static char *unescape(const char *text) {
    char *out = malloc(strlen(text) + 2), *o = out;
    for (const char *p = text; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') { *o++ = '\n'; p++; }
        else if (p[0] == '\\' && p[1] == 'r') { *o++ = '\r'; p++; }
        else *o++ = *p;
    }
    if (o == out || o[-1] != '\n') *o++ = '\n';
    *o = 0;
    return out;
}

static void report(const char *mode, long count, double seconds) {
    printf("%s %ld %.6f %.1f\n", mode, count, seconds, count / seconds);
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "pingpong") == 0) {
        long count = atol(argv[2]);
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) die("socketpair");
        pid_t child = fork();
        if (child == 0) {   /* the echo process: one reply line per request line */
            close(pair[0]);
            char line[256];
            for (long i = 0; i < count; i++) {
                read_lines(pair[1], 1, NULL, 0);
                snprintf(line, sizeof line, "OK {\"pong\":true}\n");
                write_all(pair[1], line, strlen(line));
            }
            _exit(0);
        }
        close(pair[1]);
        const char *request = "PING\n";
        double start = now();
        for (long i = 0; i < count; i++) {
            write_all(pair[0], request, strlen(request));
            read_lines(pair[0], 1, NULL, 0);
        }
        report("pingpong", count, now() - start);
        waitpid(child, NULL, 0);
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "sequential") == 0) {
        int fd = connect_to(argv[2]);
        long count = atol(argv[3]);
        char *request = unescape(argv[4]);
        size_t length = strlen(request);
        char first[128];
        double start = now();
        for (long i = 0; i < count; i++) {
            write_all(fd, request, length);
            read_lines(fd, 1, i == 0 ? first : NULL, sizeof first);
        }
        report("sequential", count, now() - start);
        fprintf(stderr, "first reply: %s", first);
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "pipelined") == 0) {
        int fd = connect_to(argv[2]);
        long count = atol(argv[3]);
        char *request = unescape(argv[4]);
        long window = atol(argv[5]);
        size_t length = strlen(request);
        char *batch = malloc(length * (size_t)window);
        for (long i = 0; i < window; i++) memcpy(batch + i * length, request, length);
        char first[128];
        double start = now();
        for (long sent = 0; sent < count; sent += window) {
            long n = count - sent < window ? count - sent : window;
            write_all(fd, batch, length * (size_t)n);
            read_lines(fd, n, sent == 0 ? first : NULL, sizeof first);
        }
        report("pipelined", count, now() - start);
        fprintf(stderr, "first reply: %s", first);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "watch") == 0) {
        int fd = connect_to(argv[2]);
        char *request = unescape(argv[3]);
        write_all(fd, request, strlen(request));
        long lines = 0;
        for (;;) {
            ssize_t n = read(fd, buffer, sizeof buffer);
            if (n < 0) { if (errno == EINTR) continue; die("read"); }
            if (n == 0) break;
            for (ssize_t i = 0; i < n; i++) if (buffer[i] == '\n') lines++;
        }
        printf("watch %ld lines\n", lines);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "bsworker") == 0) {
        int fd = connect_to(argv[2]);
        long count = atol(argv[3]);
        char reply[128], request[64];
        double start = now();
        for (long i = 0; i < count; i++) {
            write_all(fd, "reserve\r\n", 9);
            read_lines(fd, 2, reply, sizeof reply);   /* RESERVED <id> 1, then the body */
            unsigned long long id;
            if (sscanf(reply, "RESERVED %llu", &id) != 1) { fprintf(stderr, "reserve: %s", reply); return 1; }
            int length = snprintf(request, sizeof request, "delete %llu\r\n", id);
            write_all(fd, request, (size_t)length);
            read_lines(fd, 1, reply, sizeof reply);
            if (strncmp(reply, "DELETED", 7) != 0) { fprintf(stderr, "delete: %s", reply); return 1; }
        }
        report("bsworker", count, now() - start);
        return 0;
    }
    fprintf(stderr, "usage: uds_bench pingpong COUNT | sequential PATH COUNT REQ | pipelined PATH COUNT REQ WINDOW | watch PATH REQ | bsworker PATH COUNT\n");
    return 2;
}
