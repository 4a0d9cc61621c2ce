/* execsess: the shim's streamed exec sessions, with /bin/sh as the command (the shim runs
 * `runc exec` the same way): bounded buffers, stdin streamed, stdout/stderr, exit codes, a pty
 * (isatty, its size, resize), back-pressure, the long poll, owners, abandoned sessions killed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime-shims/execsess.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* ---- answers collected by the callback ---- */
typedef struct {
    int waiter;
    tr_code_t code;
    json_t *body;
} ans_t;
static ans_t answers[4096];
static int n_answers, n_dropped;

static void
on_answer (void *arg, void *waiter, tr_code_t code, json_t *body, const char *msg)
{
    (void) arg;
    (void) msg;
    assert_true (n_answers < 4096);
    answers[n_answers++] = (ans_t) {(int) (intptr_t) waiter, code, body};
}

static void
on_drop (void *arg, void *waiter)
{
    (void) arg;
    (void) waiter;
    n_dropped++;
}

static void
reset (void)
{
    for (int i = 0; i < n_answers; i++)
        json_decref (answers[i].body);
    n_answers = n_dropped = 0;
}

static long long
now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ticks (polling the session fds) until answer number `want` arrives or ms pass. */
static int
wait_answer (execsess_table_t *t, int want, int ms)
{
    long long end = now_ms () + ms;
    while (n_answers < want && now_ms () < end) {
        struct pollfd fds[16];
        int n = execsess_fds (t, fds, 16);
        poll (fds, (nfds_t) n, execsess_timeout_ms (t, 100));
        execsess_tick (t);
    }
    return n_answers >= want;
}

/* Runs ExecIOs (stdin given to the first) until the session says exited; the output gathered.
 * Returns the exit code. */
static int
drive (execsess_table_t *t, const char *id, const char *in, int eof, char **out, size_t *out_len, char **err)
{
    size_t cap = 1 << 16, len = 0, elen = 0;
    char *o = malloc (cap), *e = calloc (1, 4096);
    int code = -999;
    for (int round = 0; round < 2000 && code == -999; round++) {
        json_t *b = json_pack ("{s:s,s:b}", "session", id, "eof", eof);
        if (round == 0 && in)
            json_object_set_new (b, "stdin", json_string (in));
        int before = n_answers;
        execsess_io (t, b, "pod-1", (void *) (intptr_t) (round + 1));
        json_decref (b);
        assert_true (wait_answer (t, before + 1, 5000));
        ans_t *a = &answers[before];
        assert_int_equal (a->code, TR_OK);
        assert_int_equal (a->waiter, round + 1);
        json_t *so = json_object_get (a->body, "stdout"), *se = json_object_get (a->body, "stderr");
        size_t n = json_string_length (so);
        while (len + n + 1 > cap)
            o = realloc (o, cap *= 2);
        memcpy (o + len, json_string_value (so), n);
        len += n;
        size_t m = json_string_length (se);
        if (elen + m < 4095) {
            memcpy (e + elen, json_string_value (se), m);
            elen += m;
        }
        if (json_is_true (json_object_get (a->body, "exited")))
            code = (int) json_integer_value (json_object_get (a->body, "exitCode"));
    }
    o[len] = 0;
    *out = o;
    if (out_len)
        *out_len = len;
    if (err)
        *err = e;
    else
        free (e);
    return code;
}

static const char *tmp_file; /* given to the next start */
static int raw_next;         /* the next start's pty raw (as for runc) */

static void
start (execsess_table_t *t, char *id, int tty, int in, int rows, int cols, const char *script, const char *pid_file)
{
    char *argv[] = {"/bin/sh", "-c", (char *) script, NULL};
    execsess_new_id (id);
    execsess_spec_t spec = {.id = id, .owner = "pod-1", .argv = argv, .tty = tty, .stdin_open = in, .rows = rows,
                            .cols = cols, .pid_file = pid_file, .tmp_file = tmp_file, .raw = raw_next};
    char err[256];
    assert_int_equal (execsess_start (t, &spec, err, sizeof err), 0);
}

static void
buffer (void **state)
{
    (void) state;
    execbuf_t b;
    execbuf_init (&b, 10);
    assert_int_equal (execbuf_room (&b), 10);
    assert_int_equal (execbuf_put (&b, "abcdef", 6), 6);
    assert_int_equal (execbuf_put (&b, "ghijkl", 6), 4); /* only what fits */
    assert_int_equal (execbuf_room (&b), 0);
    assert_memory_equal (b.data, "abcdefghij", 10);
    assert_int_equal (execbuf_put (&b, "x", 1), 0);
    execbuf_consume (&b, 3);
    assert_int_equal (b.len, 7);
    assert_memory_equal (b.data, "defghij", 7);
    assert_int_equal (execbuf_put (&b, "klm", 3), 3);
    assert_memory_equal (b.data, "defghijklm", 10);
    execbuf_consume (&b, 10);
    assert_null (b.data); /* drained: the memory is given back */
    assert_int_equal (execbuf_room (&b), 10);
    execbuf_free (&b);
    char id[33], id2[33];
    execsess_new_id (id);
    execsess_new_id (id2);
    assert_int_equal (strlen (id), 32);
    assert_string_not_equal (id, id2);
}

static void
pipes (void **state)
{
    (void) state;
    reset ();
    execsess_table_t *t = execsess_new (on_answer, on_drop, NULL);
    char id[33];
    start (t, id, 0, 1, 0, 0, "while read l; do echo got-$l; done; echo oops >&2; exit 7", NULL);
    char *out, *err;
    int code = drive (t, id, "a\nb\n", 1, &out, NULL, &err);
    assert_int_equal (code, 7);
    assert_string_equal (out, "got-a\ngot-b\n");
    assert_string_equal (err, "oops\n");
    free (out);
    free (err);
    assert_int_equal (execsess_count (t), 0); /* the answer with exited ended the session */
    /* an ended session is unknown */
    json_t *b = json_pack ("{s:s}", "session", id);
    int before = n_answers;
    execsess_io (t, b, "pod-1", (void *) 99);
    assert_int_equal (n_answers, before + 1);
    assert_int_equal (answers[before].code, TR_NOT_FOUND);
    json_decref (b);
    /* without stdin: the command reads /dev/null */
    start (t, id, 0, 0, 0, 0, "cat; echo done", NULL);
    code = drive (t, id, NULL, 0, &out, NULL, NULL);
    assert_int_equal (code, 0);
    assert_string_equal (out, "done\n");
    free (out);
    execsess_destroy (&t);
    reset ();
}

static void
streaming (void **state)
{
    (void) state;
    reset ();
    execsess_table_t *t = execsess_new (on_answer, on_drop, NULL);
    char id[33];
    start (t, id, 0, 0, 0, 0, "echo first; sleep 2; echo second", NULL);
    long long t0 = now_ms ();
    json_t *b = json_pack ("{s:s}", "session", id);
    int before = n_answers;
    execsess_io (t, b, "pod-1", (void *) 1);
    assert_true (wait_answer (t, before + 1, 3000));
    /* the first line comes while the command still runs */
    assert_string_equal (json_string_value (json_object_get (answers[before].body, "stdout")), "first\n");
    assert_false (json_is_true (json_object_get (answers[before].body, "exited")));
    assert_true (now_ms () - t0 < 1500);
    /* nothing to say: the long poll ends after EXECSESS_POLL_MS, empty */
    long long t1 = now_ms ();
    execsess_io (t, b, "pod-1", (void *) 2);
    assert_true (wait_answer (t, before + 2, 3000));
    long long waited = now_ms () - t1;
    assert_true (waited >= EXECSESS_POLL_MS - 30 && waited < EXECSESS_POLL_MS + 300);
    assert_string_equal (json_string_value (json_object_get (answers[before + 1].body, "stdout")), "");
    /* a second ExecIO while one waits: the older is answered at once */
    execsess_io (t, b, "pod-1", (void *) 3);
    execsess_io (t, b, "pod-1", (void *) 4);
    assert_int_equal (n_answers, before + 3);
    assert_int_equal (answers[before + 2].waiter, 3);
    /* another pod may not read it */
    execsess_io (t, b, "pod-2", (void *) 5);
    assert_int_equal (n_answers, before + 4);
    assert_int_equal (answers[before + 3].waiter, 5);
    assert_int_equal (answers[before + 3].code, TR_NOT_FOUND);
    json_decref (b);
    assert_true (wait_answer (t, before + 5, 3000));
    assert_int_equal (answers[before + 4].waiter, 4); /* the long poll of waiter 4 ended too */
    char *out;
    assert_int_equal (drive (t, id, NULL, 0, &out, NULL, NULL), 0);
    char all[64];
    snprintf (all, sizeof all, "%s%s", json_string_value (json_object_get (answers[before + 4].body, "stdout")), out);
    assert_string_equal (all, "second\n");
    free (out);
    execsess_destroy (&t);
    reset ();
}

static void
large (void **state)
{
    (void) state;
    reset ();
    execsess_table_t *t = execsess_new (on_answer, on_drop, NULL);
    char id[33];
    start (t, id, 0, 0, 0, 0, "head -c 3000000 /dev/zero | tr '\\0' x", NULL);
    /* no ExecIO for a while: the command fills the buffer and waits (back-pressure) */
    struct pollfd fds[16];
    int n = 0;
    for (long long end = now_ms () + 5000; now_ms () < end;) {
        n = execsess_fds (t, fds, 16);
        if (n == 1)
            break;
        poll (fds, (nfds_t) n, 10);
        execsess_tick (t);
    }
    usleep (100000);
    execsess_tick (t);
    n = execsess_fds (t, fds, 16);
    assert_int_equal (n, 1); /* stdout (full) is not polled any more, only stderr */
    char *out;
    size_t len;
    int before = n_answers;
    assert_int_equal (drive (t, id, NULL, 0, &out, &len, NULL), 0);
    assert_int_equal (json_string_length (json_object_get (answers[before].body, "stdout")), EXECSESS_BUF_MAX);
    assert_int_equal (len, 3000000);
    for (size_t i = 0; i < len; i++)
        if (out[i] != 'x')
            fail_msg ("byte %zu is %d", i, out[i]);
    free (out);
    execsess_destroy (&t);
    reset ();
}

static void
tty (void **state)
{
    (void) state;
    reset ();
    execsess_table_t *t = execsess_new (on_answer, on_drop, NULL);
    char id[33];
    start (t, id, 1, 1, 30, 100, "tty; stty size; read l; stty size; echo got-$l; exit 3", NULL);
    json_t *b = json_pack ("{s:s}", "session", id);
    /* until the command waits in "read" with its first lines written */
    char all[8192] = "";
    int before = n_answers;
    for (int i = 0; i < 40 && !strstr (all, "30 100\r\n"); i++) {
        execsess_io (t, b, "pod-1", (void *) 1);
        assert_true (wait_answer (t, n_answers + 1, 3000));
        strncat (all, json_string_value (json_object_get (answers[n_answers - 1].body, "stdout")), sizeof all - strlen (all) - 1);
    }
    json_decref (b);
    /* then resize and type a line */
    b = json_pack ("{s:s,s:s,s:{s:i,s:i}}", "session", id, "stdin", "hello\n", "resize", "rows", 40, "cols", 120);
    before = n_answers;
    execsess_io (t, b, "pod-1", (void *) 2);
    json_decref (b);
    assert_true (wait_answer (t, before + 1, 3000));
    char *out;
    assert_int_equal (drive (t, id, NULL, 0, &out, NULL, NULL), 3);
    for (int i = before; i < n_answers; i++)
        strncat (all, json_string_value (json_object_get (answers[i].body, "stdout")), sizeof all - strlen (all) - 1);
    free (out);
    print_message ("tty output: %s\n", all);
    /* a terminal: its name, the size given, CR LF line ends, echo of the typed line, the new size */
    assert_non_null (strstr (all, "/dev/pts/"));
    assert_non_null (strstr (all, "30 100\r\n"));
    assert_non_null (strstr (all, "hello\r\n"));
    assert_non_null (strstr (all, "40 120\r\n"));
    assert_non_null (strstr (all, "got-hello\r\n"));
    execsess_destroy (&t);
    reset ();
}

/* raw: the pty a relay (runc exec --tty) gets: no echo, no line editing, no signal characters,
 * no CR added — what it is given reaches it once and as it is, before it sets raw mode itself */
static void
tty_raw (void **state)
{
    (void) state;
    reset ();
    execsess_table_t *t = execsess_new (on_answer, on_drop, NULL);
    char id[33];
    raw_next = 1;
    start (t, id, 1, 1, 30, 100,
           "stty -a | tr ' ;' '\\n\\n' | grep -x -e -icanon -e -echo -e -isig -e -opost | sort | tr '\\n' ' '; "
           "echo; stty size; read l; echo got-$l; exit 4",
           NULL);
    raw_next = 0;
    char *out;
    size_t len;
    assert_int_equal (drive (t, id, "a\003b\n", 0, &out, &len, NULL), 4);
    print_message ("raw tty output: %s\n", out);
    assert_string_equal (out, "-echo -icanon -isig -opost \n30 100\ngot-a\003b\n");
    free (out);
    execsess_destroy (&t);
    reset ();
}

static int
gone (pid_t p)
{
    char path[64], st[512] = "";
    snprintf (path, sizeof path, "/proc/%d/stat", (int) p);
    FILE *f = fopen (path, "r");
    if (!f)
        return 1;
    size_t n = fread (st, 1, sizeof st - 1, f);
    fclose (f);
    st[n] = 0;
    char *rp = strrchr (st, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X'); /* a zombie of whoever adopted it */
}

static void
abandoned (void **state)
{
    (void) state;
    reset ();
    execsess_table_t *t = execsess_new (on_answer, on_drop, NULL);
    execsess_set_idle_ms (t, 300);
    char pid_file[] = "/tmp/test_execsess_XXXXXX";
    int fd = mkstemp (pid_file);
    close (fd);
    char script[256];
    /* the pid file names a process the session's own child does not wait for (as runc's) */
    snprintf (script, sizeof script, "sleep 100 & echo $! > %s; wait", pid_file);
    char proc_file[] = "/tmp/test_execsess_proc_XXXXXX"; /* as runc exec's --process */
    fd = mkstemp (proc_file);
    close (fd);
    char id[33];
    tmp_file = proc_file;
    start (t, id, 0, 1, 0, 0, script, pid_file);
    tmp_file = NULL;
    json_t *b = json_pack ("{s:s}", "session", id);
    execsess_io (t, b, "pod-1", (void *) 1);
    json_decref (b);
    assert_true (wait_answer (t, 1, 3000));
    int sleeper = 0;
    for (int i = 0; i < 100 && !sleeper; i++) {
        FILE *f = fopen (pid_file, "r");
        if (f) {
            if (fscanf (f, "%d", &sleeper) != 1)
                sleeper = 0;
            fclose (f);
        }
        if (!sleeper)
            usleep (20000);
    }
    assert_true (sleeper > 1);
    assert_false (gone (sleeper));
    /* nobody asks any more: after the idle time both are killed, the session is gone */
    long long end = now_ms () + 5000;
    /* (a killed session is freed, its files removed, once its child is reaped: a tick later) */
    while (now_ms () < end && (execsess_count (t) || !gone (sleeper) || !access (pid_file, F_OK))) {
        usleep (20000);
        execsess_tick (t);
    }
    assert_int_equal (execsess_count (t), 0);
    assert_true (gone (sleeper));
    assert_int_equal (access (pid_file, F_OK), -1); /* removed with the session */
    assert_int_equal (access (proc_file, F_OK), -1); /* so is its process file */
    execsess_destroy (&t);
    reset ();
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (buffer),    cmocka_unit_test (pipes), cmocka_unit_test (streaming),
        cmocka_unit_test (large),     cmocka_unit_test (tty),   cmocka_unit_test (tty_raw),
        cmocka_unit_test (abandoned),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
