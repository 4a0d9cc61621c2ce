/* execsess — the runtime shim's streamed exec sessions (ExecStart / ExecIO, runtime-shims/cri.h).
 *
 * A session is one command started with its stdio on pipes (stdin on a socket, so that a write
 * after the command closed it fails with EPIPE instead of raising SIGPIPE), or on the slave side
 * of a pty the shim opens (tty). Its fds are non-blocking and served by the shim's loop: the
 * loop polls execsess_fds, then calls execsess_tick, which reads output into bounded buffers
 * (EXECSESS_BUF_MAX each: a full buffer is not read, which back-pressures the command), writes
 * the stdin it was given, reaps the command, and answers the pending ExecIO (a long poll): as
 * soon as there is output or the command ended, else after EXECSESS_POLL_MS.
 *
 * A session ends when its command exited and its output was drained (the answer carrying
 * exited:true), or after EXECSESS_IDLE_MS without an ExecIO: the client went away, the command
 * is killed (and the process named by its pid file, e.g. `runc exec --pid-file`, which runc does
 * not kill when it is itself killed).
 *
 * Answers go through the table's answer callback with the opaque waiter given to execsess_io
 * (the shim's routing id + request id); drop frees a waiter never answered.
 */
#ifndef TROUPE_EXECSESS_H
#define TROUPE_EXECSESS_H

#include "core/envelope.h"

#include <jansson.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EXECSESS_BUF_MAX (1u << 20)  /* pending output per stream, pending stdin */
#define EXECSESS_POLL_MS 250         /* an ExecIO with nothing to say is answered after this */
#define EXECSESS_IDLE_MS 60000       /* no ExecIO for this long: the client is gone */
#define EXECSESS_DRAIN_MS 2000       /* after the command exited, output still open (a background
                                      * child holds it) is abandoned after this */
#define EXECSESS_MAX 64

/* A bounded byte buffer (pure). */
typedef struct {
    char *data;
    size_t len, max;
} execbuf_t;

void execbuf_init (execbuf_t *b, size_t max);
void execbuf_free (execbuf_t *b);
size_t execbuf_room (const execbuf_t *b);
/* Appends what fits (at most execbuf_room); returns how many bytes were taken. */
size_t execbuf_put (execbuf_t *b, const void *p, size_t n);
/* Drops the first n bytes. */
void execbuf_consume (execbuf_t *b, size_t n);

typedef void execsess_answer_fn (void *arg, void *waiter, tr_code_t code, json_t *body /* stolen */, const char *msg);
typedef void execsess_drop_fn (void *arg, void *waiter);

typedef struct execsess_table execsess_table_t;

execsess_table_t *execsess_new (execsess_answer_fn *answer, execsess_drop_fn *drop, void *arg);
/* Kills every session's command and frees the table (pending waiters are dropped). */
void execsess_destroy (execsess_table_t **t_p);

/* A new random session id (32 hex digits) into id. */
void execsess_new_id (char id[33]);

typedef struct {
    const char *id;        /* from execsess_new_id */
    const char *owner;     /* who may do ExecIO on it (the container's pod uid); "" anyone */
    char *const *argv;     /* argv[0] is a path */
    int tty;               /* on a pty (stdout and stderr merged) */
    int raw;               /* tty: the pty in raw mode from the start (a relay such as `runc exec
                            * --tty`, which makes the command's terminal and sets its own stdin raw
                            * only once running: input sent earlier is not echoed or interpreted
                            * twice, a ^C not a SIGINT to the relay) */
    int stdin_open;        /* else stdin is /dev/null (pipes) or left alone (tty) */
    int rows, cols;        /* the pty's size (0: unset) */
    const char *pid_file;  /* or NULL: holds the pid to SIGKILL too when the session is abandoned */
    const char *tmp_file;  /* or NULL: a file removed with the session (runc exec's --process) */
} execsess_spec_t;

/* Starts the command. 0, or -1 with err (too many sessions, fork failed). */
int execsess_start (execsess_table_t *t, const execsess_spec_t *spec, char *err, size_t errlen);

/* ExecIO {session, stdin?, eof?, resize?{rows,cols}} from owner: takes the stdin, and keeps
 * waiter to answer {stdout, stderr, exited, exitCode, stdinPending} (now or from execsess_tick).
 * Unknown session (or another owner's): answered NotFound at once. Takes waiter. */
void execsess_io (execsess_table_t *t, const json_t *body, const char *owner, void *waiter);

/* The fds worth waking for (output with buffer room, stdin with data to write): up to max. */
int execsess_fds (execsess_table_t *t, struct pollfd *fds, int max);
/* How long the loop may sleep before the next tick is due (dflt when nothing is). */
int execsess_timeout_ms (execsess_table_t *t, int dflt);
/* I/O, reaping, answers, expiry. Never blocks. */
void execsess_tick (execsess_table_t *t);
/* Sessions not being killed. */
int execsess_count (execsess_table_t *t);
/* EXECSESS_IDLE_MS unless told (tests). */
void execsess_set_idle_ms (execsess_table_t *t, int ms);

#endif
