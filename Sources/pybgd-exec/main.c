// pybgd-exec: runs one command task for pybgd and makes sure none of its processes outlive it.
//
//   pybgd-exec GRACE_MILLISECONDS PROGRAM [ARGUMENT...]
//
// pybgd starts this instead of the command itself, with a pipe as standard input (the lifeline)
// whose other end only pybgd holds. It runs PROGRAM in a new session, hence a process group of its
// own, and is a child subreaper, so descendants that lose their parent are re-parented here rather
// than to init. The task's processes end when:
//   - SIGTERM arrives (pybgd's timeout, cancel or shutdown): the group, and every descendant that
//     left it, get SIGTERM, then SIGKILL once GRACE_MILLISECONDS have passed;
//   - the lifeline reaches its end: pybgd died (even by SIGKILL); the same sequence;
//   - PROGRAM itself exits: whatever it left running gets the same sequence.
// It exits as PROGRAM did (the same status, or the same signal). If PROGRAM cannot be started it
// writes one line "pybgd-exec: cannot run ..." on standard error and exits 127, so pybgd can tell
// a spawn failure from the program's own exit. SIGINT, SIGHUP and SIGQUIT (a terminal's, when
// pybgd runs in the foreground) are ignored: pybgd decides when tasks stop.
//
// Single-threaded C on purpose: it runs for every command task, and must start in well under a
// millisecond and hold no more than a few hundred KiB.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/// How long the descendants still running after SIGKILL (a process stuck in the kernel) are
/// waited for before this process exits without them.
static const long kill_wait_ms = 2000;

static long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/// Ends this process the way the command ended.
static void exit_like(int status) {
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        int signal = WTERMSIG(status);
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);   // the command's core dump, if any, was its own
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        sigaction(signal, &action, NULL);
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, signal);
        sigprocmask(SIG_UNBLOCK, &only, NULL);
        raise(signal);
        _exit(128 + signal);
    }
    _exit(1);
}

/// The pid named by a /proc entry if that process is a child of `self`; 0 otherwise.
static long child_of(pid_t self, const char *name) {
    char *end;
    long pid = strtol(name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self) return 0;
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t count = read(fd, text, sizeof text - 1);
    close(fd);
    if (count <= 0) return 0;
    text[count] = '\0';
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
    char *paren = strrchr(text, ')');
    char state;
    long parent;
    if (paren == NULL || sscanf(paren + 1, " %c %ld", &state, &parent) != 2) return 0;
    return parent == self ? pid : 0;
}

/// The most children one look finds; more are found at the next looks, as these end.
#define MAX_CHILDREN 4096

/// This process's children (zombies too), at most MAX_CHILDREN, into `pids`; returns how many.
/// Reads its list of children (one file), or, on a kernel without it (or with more children
/// than one read of it holds), looks through /proc.
static int children(pid_t *pids) {
    pid_t self = getpid();
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", self, self);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char text[16384];
        ssize_t count = read(fd, text, sizeof text - 1);
        close(fd);
        if (count >= 0 && count < (ssize_t)sizeof text - 1) {
            text[count] = '\0';
            int found = 0;
            for (char *next = text, *end; found < MAX_CHILDREN; next = end) {
                long pid = strtol(next, &end, 10);
                if (end == next) break;
                if (pid > 0) pids[found++] = (pid_t)pid;
            }
            return found;
        }
    }
    int found = 0;
    DIR *proc = opendir("/proc");
    if (proc == NULL) return 0;
    struct dirent *entry;
    while (found < MAX_CHILDREN && (entry = readdir(proc)) != NULL) {
        long pid = child_of(self, entry->d_name);
        if (pid > 0) pids[found++] = (pid_t)pid;
    }
    closedir(proc);
    return found;
}

/// Sends `signal` to the command's process group and to every child of this process (descendants
/// that left the group were re-parented here once their parent ended; a zombie ignores it).
///
/// The group's id is the command's pid, which ``reap`` leaves unreaped (a zombie) until this
/// process exits: no other process can get that id meanwhile, so `kill(-group)` reaches only the
/// task's processes. (Once reaped, the id is free as soon as the group is empty, and pids wrap
/// around, at 32768 by default: a test found a new, unrelated group that got the id killed.)
static void signal_all(pid_t group, int signal) {
    if (group > 0) kill(-group, signal);
    pid_t pids[MAX_CHILDREN];
    int count = children(pids);
    for (int index = 0; index < count; index++) kill(pids[index], signal);
}

/// Reaps the children other than the command that have ended, once the command has; returns true
/// when none is left.
static int reap_others(pid_t command) {
    pid_t pids[MAX_CHILDREN];
    int count = children(pids);
    int left = count == MAX_CHILDREN;  // more than one look finds: some are surely left
    for (int index = 0; index < count; index++) {
        if (pids[index] != command && waitpid(pids[index], NULL, WNOHANG) == 0) left = 1;
    }
    return !left;
}

/// Reaps every child that has ended except the command, which stays a zombie until this process
/// is about to exit (``finish``): its pid is the group's id (see ``signal_all``). Records the
/// command's status once it has ended. Returns true when no child but the command is left.
static int reap(pid_t command, int *command_status, int *command_done) {
    // Ended children, in the kernel's order, peeked at before being reaped: any but the command.
    for (;;) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        int peeked = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
        if (peeked < 0 && errno == EINTR) continue;
        if (peeked != 0 || info.si_pid == 0) break;
        if (info.si_pid != command) {
            waitpid(info.si_pid, NULL, 0);
            continue;
        }
        if (!*command_done) {
            *command_done = 1;
            // As waitpid would have given it, for exit_like's W* macros.
            *command_status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8
                                                         : (info.si_status & 0x7f) | (info.si_code == CLD_DUMPED ? 0x80 : 0);
        }
        break;  // the command's zombie stays first in line: the others are found one by one
    }
    return *command_done && reap_others(command);
}

/// Reaps the command (its zombie held the group's id: see ``signal_all``) and ends this process
/// the way it ended; with `command_done` false, exits as killed.
static void finish(pid_t command, int command_done, int command_status) {
    if (command_done) {
        waitpid(command, NULL, 0);
        exit_like(command_status);
    }
    _exit(128 + SIGKILL);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: pybgd-exec GRACE_MILLISECONDS PROGRAM [ARGUMENT...]\n"
                        "(started by pybgd for each command task; standard input is pybgd's lifeline)\n");
        return 64;
    }
    char *end;
    long grace_ms = strtol(argv[1], &end, 10);
    if (*end != '\0' || grace_ms < 0 || grace_ms > 24L * 3600 * 1000) {
        fprintf(stderr, "pybgd-exec: GRACE_MILLISECONDS must be a whole number from 0 to 86400000, got \"%s\"\n", argv[1]);
        return 64;
    }

    // Orphaned descendants come here, not to init: they can be found, signalled and reaped.
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    sigaddset(&handled, SIGQUIT);
    sigset_t previous;
    sigprocmask(SIG_BLOCK, &handled, &previous);
    int signals = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signals < 0) {
        fprintf(stderr, "pybgd-exec: cannot run \"%s\": signalfd: %s\n", argv[2], strerror(errno));
        return 127;
    }

    // Standard input is the lifeline only when it is a pipe or socket (pybgd's); run by hand from a
    // terminal or with a file, it is not watched.
    struct stat input;
    int lifeline = fstat(0, &input) == 0 && (S_ISSOCK(input.st_mode) || S_ISFIFO(input.st_mode)) ? 0 : -1;

    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        fprintf(stderr, "pybgd-exec: cannot run \"%s\": pipe: %s\n", argv[2], strerror(errno));
        return 127;
    }
    pid_t command = fork();
    if (command < 0) {
        fprintf(stderr, "pybgd-exec: cannot run \"%s\": fork: %s\n", argv[2], strerror(errno));
        return 127;
    }
    if (command == 0) {
        close(report[0]);
        setsid();   // a session, hence a process group, of its own; no controlling terminal
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null >= 0) dup2(null, 0);   // the lifeline is not the command's to read
        sigprocmask(SIG_SETMASK, &previous, NULL);
        sigprocmask(SIG_UNBLOCK, &handled, NULL);
        execvp(argv[2], argv + 2);
        int error = errno;
        ssize_t ignored = write(report[1], &error, sizeof error);
        (void)ignored;
        _exit(127);
    }
    close(report[1]);
    int exec_error = 0;
    ssize_t got;
    do { got = read(report[0], &exec_error, sizeof exec_error); } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof exec_error) {
        waitpid(command, NULL, 0);
        fprintf(stderr, "pybgd-exec: cannot run \"%s\": %s\n", argv[2], strerror(exec_error));
        return 127;
    }

    int command_status = 0, command_done = 0;
    int stopping = 0, killed = 0;
    long deadline = -1;
    for (;;) {
        int none_left = reap(command, &command_status, &command_done);
        if (command_done && none_left) finish(command, command_done, command_status);
        if (command_done && !stopping) {
            // The command ended and left processes behind: they end with the task.
            stopping = 1;
            signal_all(command, SIGTERM);
            deadline = now_ms() + grace_ms;
        }
        long now = now_ms();
        if (stopping && !killed && now >= deadline) {
            killed = 1;
            signal_all(command, SIGKILL);
            deadline = now + kill_wait_ms;
        } else if (killed && now >= deadline) {
            // Something ignores even SIGKILL for now (stuck in the kernel): leave without it.
            finish(command, command_done, command_status);
        }
        if (stopping) {
            // Descendants re-parented here since the last look get the signal too.
            signal_all(command, killed ? SIGKILL : SIGTERM);
        }

        struct pollfd watched[2] = {{.fd = signals, .events = POLLIN}, {.fd = lifeline, .events = POLLIN}};
        int timeout = -1;
        if (stopping) {
            long left = deadline - now_ms();
            timeout = left < 0 ? 0 : (left > 50 ? 50 : (int)left);
        }
        int ready = poll(watched, lifeline >= 0 ? 2 : 1, timeout);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;

        if (watched[0].revents & POLLIN) {
            struct signalfd_siginfo info;
            while (read(signals, &info, sizeof info) == (ssize_t)sizeof info) {
                if (info.ssi_signo == SIGTERM && !stopping) {
                    stopping = 1;
                    signal_all(command, SIGTERM);
                    deadline = now_ms() + grace_ms;
                }
                // SIGCHLD: reaped at the top of the loop. SIGINT, SIGHUP, SIGQUIT: ignored.
            }
        }
        if (lifeline >= 0 && (watched[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char byte;
            ssize_t count = read(lifeline, &byte, 1);
            if (count <= 0 && !(count < 0 && errno == EINTR)) {
                // pybgd is gone: nothing of the task may outlive it.
                lifeline = -1;
                if (!stopping) {
                    stopping = 1;
                    signal_all(command, SIGTERM);
                    deadline = now_ms() + grace_ms;
                }
            }
        }
    }
    signal_all(command, SIGKILL);
    if (command_done) finish(command, command_done, command_status);
    return 127;
}
