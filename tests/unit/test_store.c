/* store: create/CAS/delete and revisions, per-op failures inside a batch, ranges, the change
 * log and compaction, reopen, and durability of acknowledged writes across kill -9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/store/store.h"
#include "tests/unit/dir_fixture.h"

static store_t *
open_store (void)
{
    char err[256];
    store_t *s = store_open (fixture_dir, 0, err, sizeof err);
    assert_non_null (s);
    return s;
}

static store_op_t
put (const char *key, const char *val, store_cond_t cond, uint64_t expect)
{
    store_op_t o = {STORE_PUT, cond, expect, key, val, strlen (val)};
    return o;
}

static void
crud_and_cas (void **state)
{
    (void) state;
    store_t *s = open_store ();
    assert_int_equal (store_revision (s), 0);
    store_op_result_t r[4];
    store_op_t ops[] = {put ("/registry/a", "1", STORE_IF_ABSENT, 0), put ("/registry/b", "2", STORE_IF_ABSENT, 0)};
    assert_int_equal (store_apply (s, ops, 2, r, NULL, NULL), 0);
    assert_int_equal (r[0].result, STORE_OK);
    assert_int_equal (r[0].rev, 1);
    assert_int_equal (r[1].rev, 2);
    assert_int_equal (store_revision (s), 2);
    /* a batch where one op fails its precondition: only that one fails */
    store_op_t mixed[] = {put ("/registry/a", "x", STORE_IF_ABSENT, 0), put ("/registry/a", "3", STORE_IF_MOD_REV, 1),
                          put ("/registry/b", "y", STORE_IF_MOD_REV, 1), {STORE_DELETE, STORE_IF_EXISTS, 0, "/registry/nope", NULL, 0}};
    assert_int_equal (store_apply (s, mixed, 4, r, NULL, NULL), 0);
    assert_int_equal (r[0].result, STORE_ERR_EXISTS);
    assert_int_equal (r[1].result, STORE_OK);
    assert_int_equal (r[1].rev, 3);
    assert_int_equal (r[1].prev_mod_rev, 1);
    assert_int_equal (r[2].result, STORE_ERR_CONFLICT);
    assert_int_equal (r[3].result, STORE_ERR_NOT_FOUND);
    assert_int_equal (store_revision (s), 3);
    void *v;
    size_t len;
    uint64_t mod, create;
    assert_int_equal (store_get (s, "/registry/a", &v, &len, &mod, &create), 0);
    assert_int_equal (len, 1);
    assert_memory_equal (v, "3", 1);
    assert_int_equal (mod, 3);
    assert_int_equal (create, 1);
    free (v);
    store_op_t del = {STORE_DELETE, STORE_IF_MOD_REV, 2, "/registry/b", NULL, 0};
    assert_int_equal (store_apply (s, &del, 1, r, NULL, NULL), 0);
    assert_int_equal (r[0].result, STORE_OK);
    assert_int_equal (store_get (s, "/registry/b", &v, &len, &mod, &create), STORE_ERR_NOT_FOUND);
    assert_int_equal (store_count (s), 1);
    store_close (&s);
    assert_null (s);
}

typedef struct {
    int n;
    uint64_t revs[16];
    int kinds[16];
    int created[16];
} seen_t;

static void
on_ev (void *arg, const store_event_t *ev)
{
    seen_t *x = arg;
    x->revs[x->n] = ev->rev;
    x->kinds[x->n] = ev->kind;
    x->created[x->n++] = ev->created;
}

static int
log_cb (void *arg, const store_event_t *ev)
{
    on_ev (arg, ev);
    return 0;
}

static int
range_cb (void *arg, const char *key, const void *val, size_t len, uint64_t mod, uint64_t create)
{
    (void) val;
    (void) len;
    (void) mod;
    (void) create;
    int *n = arg;
    assert_true (!strncmp (key, "/registry/pods/", 15));
    (*n)++;
    return 0;
}

static void
log_range_compaction (void **state)
{
    (void) state;
    store_t *s = open_store ();
    store_op_result_t r[3];
    store_op_t ops[] = {put ("/registry/pods/x", "1", STORE_IF_ANY, 0), put ("/registry/pods/y", "2", STORE_IF_ANY, 0),
                        put ("/registry/podsecurity/z", "3", STORE_IF_ANY, 0)};
    seen_t ev = {0};
    assert_int_equal (store_apply (s, ops, 3, r, on_ev, &ev), 0);
    assert_int_equal (ev.n, 3);
    assert_int_equal (ev.revs[2], 3);
    assert_int_equal (ev.created[0], 1);
    store_op_t upd = put ("/registry/pods/x", "9", STORE_IF_ANY, 0);
    store_op_t del = {STORE_DELETE, STORE_IF_ANY, 0, "/registry/pods/y", NULL, 0};
    memset (&ev, 0, sizeof ev);
    assert_int_equal (store_apply (s, &upd, 1, r, on_ev, &ev), 0);
    assert_int_equal (store_apply (s, &del, 1, r, on_ev, &ev), 0);
    assert_int_equal (ev.created[0], 0);
    assert_int_equal (ev.kinds[1], STORE_EV_DELETE);
    int n = 0;
    uint64_t at;
    assert_int_equal (store_range (s, "/registry/pods/", &at, range_cb, &n), 0);
    assert_int_equal (n, 1); /* "podsecurity" is not under "pods/", and y is deleted */
    assert_int_equal (at, 5);
    seen_t lg = {0};
    assert_int_equal (store_log_read (s, 2, log_cb, &lg), 0);
    assert_int_equal (lg.n, 4);
    assert_int_equal (lg.revs[0], 2);
    assert_int_equal (store_compact (s, 4), 3);
    assert_int_equal (store_oldest_rev (s), 4);
    assert_int_equal (store_log_read (s, 2, log_cb, &lg), STORE_ERR_NOT_FOUND);
    memset (&lg, 0, sizeof lg);
    assert_int_equal (store_log_read (s, 4, log_cb, &lg), 0);
    assert_int_equal (lg.n, 2);
    store_close (&s);
    /* reopen: revision, data and compaction point survive */
    s = open_store ();
    assert_int_equal (store_revision (s), 5);
    assert_int_equal (store_oldest_rev (s), 4);
    assert_int_equal (store_count (s), 2);
    store_close (&s);
}

static void
survives_kill_9 (void **state)
{
    (void) state;
    int fds[2];
    assert_int_equal (pipe (fds), 0);
    pid_t pid = fork ();
    if (pid == 0) {
        close (fds[0]);
        char err[256];
        store_t *s = store_open (fixture_dir, 0, err, sizeof err);
        if (!s)
            _exit (1);
        for (int i = 0;; i++) {
            char key[64], val[32];
            snprintf (key, sizeof key, "/registry/k/%d", i);
            snprintf (val, sizeof val, "v%d", i);
            store_op_t o = put (key, val, STORE_IF_ANY, 0);
            store_op_result_t r;
            if (store_apply (s, &o, 1, &r, NULL, NULL) == 0 && r.result == STORE_OK) {
                uint64_t rev = r.rev; /* acknowledged: tell the parent */
                if (write (fds[1], &rev, sizeof rev) != sizeof rev)
                    _exit (1);
            }
        }
        _exit (1);
    }
    close (fds[1]);
    uint64_t acked = 0, rev;
    for (int i = 0; i < 50 && read (fds[0], &rev, sizeof rev) == sizeof rev; i++)
        acked = rev;
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
    while (read (fds[0], &rev, sizeof rev) == sizeof rev)
        acked = rev; /* acknowledgements already in the pipe count too */
    close (fds[0]);
    assert_true (acked >= 50);
    store_t *s = open_store ();
    assert_true (store_revision (s) >= acked);
    for (uint64_t i = 0; i < acked; i++) {
        char key[64];
        snprintf (key, sizeof key, "/registry/k/%llu", (unsigned long long) i);
        void *v;
        size_t len;
        assert_int_equal (store_get (s, key, &v, &len, NULL, NULL), 0);
        free (v);
    }
    store_close (&s);
}

static void
bad_keys (void **state)
{
    (void) state;
    store_t *s = open_store ();
    char longkey[600];
    memset (longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    store_op_t o = put (longkey, "v", STORE_IF_ANY, 0);
    store_op_result_t r;
    assert_int_equal (store_apply (s, &o, 1, &r, NULL, NULL), 0);
    assert_int_not_equal (r.result, STORE_OK);
    assert_int_equal (store_revision (s), 0);
    char err[256];
    assert_null (store_open ("/nonexistent/dir", 0, err, sizeof err));
    assert_non_null (strstr (err, "/nonexistent/dir"));
    store_close (&s);
}

/* ---- a full map grows ---------------------------------------------------------------------- */

enum { VAL = 8192, BATCH = 10 };

/* BATCH puts of VAL bytes under prefix, keys from *next on; 0 when all were written */
static int
put_batch (store_t *s, const char *prefix, int *next)
{
    static char val[VAL];
    memset (val, 'v', sizeof val);
    char keys[BATCH][64];
    store_op_t ops[BATCH];
    store_op_result_t r[BATCH];
    for (int i = 0; i < BATCH; i++) {
        snprintf (keys[i], sizeof keys[i], "%s/%d", prefix, (*next)++);
        ops[i] = (store_op_t) {STORE_PUT, STORE_IF_ANY, 0, keys[i], val, sizeof val};
    }
    int rc = store_apply (s, ops, BATCH, r, NULL, NULL);
    for (int i = 0; !rc && i < BATCH; i++)
        rc = r[i].result != STORE_OK;
    return rc;
}

typedef struct {
    store_t *s;
    int fd, rc;
    volatile int done;
} copy_job_t;

static void *
copy_job (void *arg)
{
    copy_job_t *j = arg;
    j->rc = store_copy_fd (j->s, j->fd);
    close (j->fd);
    j->done = 1;
    return NULL;
}

typedef struct {
    store_t *s;
    size_t from_map;
    int rc, next;
    volatile int done;
} grow_job_t;

/* writes until the map has grown once more (at most 4× the map in data) */
static void *
grow_job (void *arg)
{
    grow_job_t *j = arg;
    for (int b = 0; !j->rc && store_map_size (j->s) == j->from_map && b < (int) (4 * j->from_map / (VAL * BATCH)); b++)
        j->rc = put_batch (j->s, "/registry/more", &j->next);
    j->done = 1;
    return NULL;
}

/* A store opened with a small map takes 400 writes of 8 KiB (6 MiB with the log's copies): every
 * one is written, the map doubled as it filled, and kept through compaction. A write that fills
 * the map while a snapshot's copy reads (another thread) waits for the copy to end, then grows it:
 * the copy is whole and opens with what it read. Reopened, the store keeps the size it grew to.
 * Before, MDB_MAP_FULL failed the write (under Raft the store stopped, and stopped again at every
 * start). */
static void
map_grows (void **state)
{
    (void) state;
    char err[256], dir[300], path[400];
    snprintf (dir, sizeof dir, "%s/db", fixture_dir);
    assert_int_equal (mkdir (dir, 0700), 0);
    store_t *s = store_open (dir, 2 << 20, err, sizeof err);
    assert_non_null (s);
    assert_int_equal (store_map_size (s), 2 << 20);
    int next = 0;
    for (int b = 0; b < 40; b++)
        assert_int_equal (put_batch (s, "/registry/a", &next), 0);
    assert_int_equal (store_count (s), 400);
    assert_true (store_map_size (s) > (6 << 20));
    assert_true (store_compact (s, store_revision (s) + 1) == 400);

    /* a copy in progress: it has begun writing (one byte read), and blocks on the full pipe */
    int p[2];
    assert_int_equal (pipe (p), 0);
    copy_job_t cj = {.s = s, .fd = p[1]};
    pthread_t ct, gt;
    assert_int_equal (pthread_create (&ct, NULL, copy_job, &cj), 0);
    snprintf (path, sizeof path, "%s/copy", fixture_dir);
    assert_int_equal (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/copy/data.mdb", fixture_dir);
    FILE *out = fopen (path, "wb");
    assert_non_null (out);
    char buf[65536];
    ssize_t got = read (p[0], buf, 1);
    assert_int_equal (got, 1);
    assert_int_equal (fwrite (buf, 1, 1, out), 1);
    grow_job_t gj = {.s = s, .from_map = store_map_size (s)};
    assert_int_equal (pthread_create (&gt, NULL, grow_job, &gj), 0);
    usleep (300 * 1000);
    assert_false (gj.done); /* the map is full and the copy still reads: the write waits */
    assert_false (cj.done);
    assert_int_equal (store_map_size (s), gj.from_map); /* never resized under the copy's reads */
    while ((got = read (p[0], buf, sizeof buf)) > 0)
        assert_int_equal (fwrite (buf, 1, (size_t) got, out), (size_t) got);
    assert_int_equal (fclose (out), 0);
    close (p[0]);
    assert_int_equal (pthread_join (ct, NULL), 0);
    assert_int_equal (pthread_join (gt, NULL), 0);
    assert_int_equal (cj.rc, 0);
    assert_int_equal (gj.rc, 0);
    assert_true (store_map_size (s) > gj.from_map);
    assert_int_equal (store_count (s), 400 + (size_t) gj.next);
    store_close (&s);
    snprintf (path, sizeof path, "%s/copy", fixture_dir);
    store_t *c = store_open (path, 0, err, sizeof err);
    assert_non_null (c);
    assert_int_equal (store_count (c), 400);
    store_close (&c);
    /* reopened with the small map again: the size it had grown to, and writes go on */
    s = store_open (dir, 2 << 20, err, sizeof err);
    assert_non_null (s);
    assert_true (store_map_size (s) > gj.from_map);
    assert_int_equal (put_batch (s, "/registry/b", &next), 0);
    store_close (&s);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (crud_and_cas, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (log_range_compaction, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (survives_kill_9, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (bad_keys, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (map_grows, dir_fixture_setup, dir_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
