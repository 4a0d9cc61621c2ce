/* logrotate: the kubelet's container log rotation plan, its policy, and gzip compression. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "actors/agent/logrotate.h"
#include "runtime-shims/oci/ocirun.h"

#include <errno.h>
#include <fcntl.h>

#define NOW ((time_t) 1796300000) /* 2026-12-03 ... UTC */

static logrotate_policy_t
pol (long long size, int files)
{
    logrotate_policy_t p = {size, files};
    return p;
}

/* the plan as "op path" lines, paths relative to /d/ */
static char *
plan_str (long long size, logrotate_policy_t p, const char *const *names, size_t n)
{
    logrotate_action_t *a;
    int k = logrotate_plan ("/d/1.log", size, &p, names, n, NOW, &a);
    assert_true (k >= 0);
    static char buf[4096];
    buf[0] = 0;
    for (int i = 0; i < k; i++) {
        const char *op = a[i].op == LOGROTATE_REMOVE ? "rm" : a[i].op == LOGROTATE_COMPRESS ? "gz" : "rot";
        assert_int_equal (strncmp (a[i].path, "/d/", 3), 0);
        snprintf (buf + strlen (buf), sizeof buf - strlen (buf), "%s %s;", op, a[i].path + 3);
    }
    logrotate_actions_free (a, k);
    return buf;
}

static void
rotated_name (void **state)
{
    (void) state;
    char *s = logrotate_rotated_name ("/x/0.log", (time_t) 0);
    assert_string_equal (s, "/x/0.log.19700101-000000");
    free (s);
}

static void
below_size_nothing (void **state)
{
    (void) state;
    const char *names[] = {"1.log", "1.log.20261201-000000"};
    assert_string_equal (plan_str (99, pol (100, 5), names, 2), "");
    /* at the size exactly: rotated (the kubelet skips only below MaxSize) */
    char *s = logrotate_rotated_name ("1.log", NOW), want[200];
    snprintf (want, sizeof want, "gz 1.log.20261201-000000;rot %s;", s);
    assert_string_equal (plan_str (100, pol (100, 5), names, 2), want);
    free (s);
}

static void
first_rotation (void **state)
{
    (void) state;
    const char *names[] = {"1.log", "0.log", "0.log.20261201-000000"}; /* another attempt's files: untouched */
    char *s = logrotate_rotated_name ("1.log", NOW), want[200];
    snprintf (want, sizeof want, "rot %s;", s);
    assert_string_equal (plan_str (500, pol (100, 3), names, 3), want);
    free (s);
}

static void
excess_removed_oldest_first_rest_compressed (void **state)
{
    (void) state;
    /* max 3: live + newest rotated + 1 compressed; unsorted input */
    const char *names[] = {"1.log.20261202-000000", "1.log", "1.log.20261201-000000.gz", "1.log.20261203-000000",
                           "1.log.20261130-000000.gz"};
    char *s = logrotate_rotated_name ("1.log", NOW), want[400];
    snprintf (want, sizeof want,
              "rm 1.log.20261130-000000.gz;rm 1.log.20261201-000000.gz;rm 1.log.20261202-000000;"
              "gz 1.log.20261203-000000;rot %s;",
              s);
    assert_string_equal (plan_str (100, pol (100, 3), names, 5), want);
    /* max 2: every rotated file goes, only the new one stays */
    snprintf (want, sizeof want,
              "rm 1.log.20261130-000000.gz;rm 1.log.20261201-000000.gz;rm 1.log.20261202-000000;"
              "rm 1.log.20261203-000000;rot %s;",
              s);
    assert_string_equal (plan_str (100, pol (100, 2), names, 5), want);
    free (s);
}

static void
leftovers_cleaned (void **state)
{
    (void) state;
    /* an interrupted compression (.gz.tmp), a file compressed but not removed, conmon's .tmp */
    const char *names[] = {"1.log", "1.log.20261201-000000", "1.log.20261201-000000.gz", "1.log.20261202-000000.gz.tmp",
                           "1.log.20261202-000000", "1.log.tmp"};
    char *s = logrotate_rotated_name ("1.log", NOW), want[400];
    snprintf (want, sizeof want,
              "rm 1.log.20261201-000000;rm 1.log.20261202-000000.gz.tmp;rm 1.log.tmp;gz 1.log.20261202-000000;rot %s;", s);
    assert_string_equal (plan_str (100, pol (100, 5), names, 6), want);
    free (s);
}

static void
same_second_waits (void **state)
{
    (void) state;
    char *s = logrotate_rotated_name ("1.log", NOW);
    const char *names[] = {"1.log", s};
    assert_string_equal (plan_str (1000, pol (100, 5), names, 2), "");
    char gz[100];
    snprintf (gz, sizeof gz, "%s.gz", s);
    const char *names2[] = {"1.log", gz};
    assert_string_equal (plan_str (1000, pol (100, 5), names2, 2), "");
    free (s);
}

static void
policy (void **state)
{
    (void) state;
    logrotate_policy_t p;
    char err[300];
    assert_int_equal (logrotate_policy_parse (NULL, -1, &p, err, sizeof err), 0);
    assert_int_equal (p.max_size, 10LL << 20);
    assert_int_equal (p.max_files, 5);
    assert_int_equal (logrotate_policy_parse ("1Ki", 3, &p, err, sizeof err), 0);
    assert_int_equal (p.max_size, 1024);
    assert_int_equal (p.max_files, 3);
    assert_int_equal (logrotate_policy_parse ("2M", 2, &p, err, sizeof err), 0);
    assert_int_equal (p.max_size, 2000000);
    assert_int_equal (logrotate_policy_parse ("10Mi", 1, &p, err, sizeof err), -1);
    assert_non_null (strstr (err, "containerLogMaxFiles (1) must be"));
    assert_int_equal (logrotate_policy_parse ("lots", 5, &p, err, sizeof err), -1);
    assert_non_null (strstr (err, "containerLogMaxSize \"lots\""));
    assert_int_equal (logrotate_policy_parse ("0", 5, &p, err, sizeof err), -1);
    assert_int_equal (logrotate_policy_parse ("-5Mi", 5, &p, err, sizeof err), -1);
    long long ms;
    assert_int_equal (logrotate_interval_parse (NULL, &ms, err, sizeof err), 0);
    assert_int_equal (ms, 10000);
    assert_int_equal (logrotate_interval_parse ("3s", &ms, err, sizeof err), 0);
    assert_int_equal (ms, 3000);
    assert_int_equal (logrotate_interval_parse ("4500ms", &ms, err, sizeof err), 0);
    assert_int_equal (ms, 4500);
    assert_int_equal (logrotate_interval_parse ("2m", &ms, err, sizeof err), 0);
    assert_int_equal (ms, 120000);
    assert_int_equal (logrotate_interval_parse ("2s", &ms, err, sizeof err), -1); /* the kubelet's floor: 3s */
    assert_non_null (strstr (err, "at least 3s"));
    assert_int_equal (logrotate_interval_parse ("10", &ms, err, sizeof err), -1);
    assert_int_equal (logrotate_interval_parse ("s", &ms, err, sizeof err), -1);
    assert_int_equal (logrotate_interval_parse ("-10s", &ms, err, sizeof err), -1);
}

static void
compress_roundtrip (void **state)
{
    (void) state;
    char dir[] = "/tmp/test_logrotate.XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[200], gz[220];
    snprintf (path, sizeof path, "%s/0.log.20261201-000000", dir);
    snprintf (gz, sizeof gz, "%s.gz", path);
    FILE *f = fopen (path, "w");
    for (int i = 0; i < 20000; i++)
        fprintf (f, "2026-12-03T10:21:04.414597173+00:00 stdout F line %d\n", i);
    fclose (f);
    struct stat st0;
    assert_int_equal (stat (path, &st0), 0);
    char err[300];
    assert_int_equal (logrotate_compress (path, err, sizeof err), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), -1); /* the plain file is gone */
    assert_int_equal (stat (gz, &st), 0);
    assert_true (st.st_size < st0.st_size / 4);
    gzFile z = gzopen (gz, "rb");
    char line[200];
    int i = 0;
    while (gzgets (z, line, sizeof line)) {
        char want[200];
        snprintf (want, sizeof want, "2026-12-03T10:21:04.414597173+00:00 stdout F line %d\n", i++);
        assert_string_equal (line, want);
    }
    gzclose (z);
    assert_int_equal (i, 20000);
    /* a missing file: an error, nothing left behind */
    assert_int_equal (logrotate_compress (path, err, sizeof err), -1);
    assert_non_null (strstr (err, "open"));
    /* apply: remove and compress */
    char a1[200], a2[200];
    snprintf (a1, sizeof a1, "%s/x", dir);
    snprintf (a2, sizeof a2, "%s/y", dir);
    fclose (fopen (a1, "w"));
    fclose (fopen (a2, "w"));
    logrotate_action_t acts[] = {{LOGROTATE_REMOVE, a1}, {LOGROTATE_COMPRESS, a2}, {LOGROTATE_ROTATE, path}};
    assert_int_equal (logrotate_apply (acts, 3, err, sizeof err), 0);
    assert_int_equal (stat (a1, &st), -1);
    assert_int_equal (stat (a2, &st), -1);
    snprintf (a1, sizeof a1, "%s/y.gz", dir);
    assert_int_equal (stat (a1, &st), 0);
    unlink (a1);
    unlink (gz);
    assert_int_equal (rmdir (dir), 0);
}

/* ReopenContainerLog for conmon: "2 0 0\n" (REOPEN_LOGS_EVENT) on <bundle>/ctl; no reader → an
 * error at once, never a hang */
static void
conmon_reopen_message (void **state)
{
    (void) state;
    char dir[] = "/tmp/test_logrotate_ctl.XXXXXX", ctl[100], err[300];
    assert_non_null (mkdtemp (dir));
    snprintf (ctl, sizeof ctl, "%s/ctl", dir);
    assert_int_equal (ocirun_reopen_log (dir, err, sizeof err), -1); /* no fifo */
    assert_int_equal (mkfifo (ctl, 0600), 0);
    assert_int_equal (ocirun_reopen_log (dir, err, sizeof err), -1); /* nobody reading: ENXIO */
    assert_non_null (strstr (err, strerror (ENXIO)));
    int r = open (ctl, O_RDONLY | O_NONBLOCK);
    assert_true (r >= 0);
    assert_int_equal (ocirun_reopen_log (dir, err, sizeof err), 0);
    char buf[16] = "";
    assert_int_equal (read (r, buf, sizeof buf - 1), 6);
    assert_string_equal (buf, "2 0 0\n");
    close (r);
    unlink (ctl);
    assert_int_equal (rmdir (dir), 0);
}

/* the kubelet's Clean: the log and its rotated files, not another attempt's */
static void
clean (void **state)
{
    (void) state;
    char dir[] = "/tmp/test_logrotate_clean.XXXXXX", p[200];
    assert_non_null (mkdtemp (dir));
    const char *names[] = {"1.log", "1.log.20261201-000000.gz", "1.log.20261202-000000", "0.log", "0.log.20261201-000000", "11.log"};
    for (size_t i = 0; i < 6; i++) {
        snprintf (p, sizeof p, "%s/%s", dir, names[i]);
        fclose (fopen (p, "w"));
    }
    snprintf (p, sizeof p, "%s/1.log", dir);
    logrotate_clean (p);
    struct stat st;
    for (size_t i = 0; i < 6; i++) {
        snprintf (p, sizeof p, "%s/%s", dir, names[i]);
        assert_int_equal (stat (p, &st), i < 3 ? -1 : 0);
        unlink (p);
    }
    assert_int_equal (rmdir (dir), 0);
}

/* a follower's file found again after the rotation by its inode; .gz ones are not read */
static void
open_rotated (void **state)
{
    (void) state;
    char dir[] = "/tmp/test_logrotate_fol.XXXXXX", log[200], rot[220], other[220];
    assert_non_null (mkdtemp (dir));
    snprintf (log, sizeof log, "%s/0.log", dir);
    snprintf (rot, sizeof rot, "%s/0.log.20261201-000000", dir);
    snprintf (other, sizeof other, "%s/0.log.20261130-000000.gz", dir);
    fclose (fopen (log, "w"));
    fclose (fopen (other, "w"));
    struct stat st, og;
    assert_int_equal (stat (log, &st), 0);
    assert_int_equal (stat (other, &og), 0);
    assert_int_equal (rename (log, rot), 0);
    fclose (fopen (log, "w"));
    int fd = logrotate_open_rotated (log, (unsigned long long) st.st_ino);
    assert_true (fd >= 0);
    struct stat got;
    assert_int_equal (fstat (fd, &got), 0);
    assert_int_equal (got.st_ino, st.st_ino);
    close (fd);
    assert_int_equal (logrotate_open_rotated (log, (unsigned long long) og.st_ino), -1);
    unlink (log);
    unlink (rot);
    unlink (other);
    assert_int_equal (rmdir (dir), 0);
}

/* a gone pod's logs: every container's log files and their directories; volumes and other files
 * untouched (no walk into a volume) */
static void
clean_pod (void **state)
{
    (void) state;
    char dir[] = "/tmp/test_logrotate_pod.XXXXXX", p[300];
    assert_non_null (mkdtemp (dir));
    const char *mk[] = {"/a", "/b", "/volumes", "/volumes/v", "/keep"};
    for (size_t i = 0; i < 5; i++) {
        snprintf (p, sizeof p, "%s%s", dir, mk[i]);
        assert_int_equal (mkdir (p, 0700), 0);
    }
    const char *files[] = {"/a/0.log", "/a/0.log.20261201-000000.gz", "/a/1.log", "/b/0.log", "/volumes/v/0.log",
                           "/keep/0.log", "/keep/notes", "/x.log"};
    for (size_t i = 0; i < 8; i++) {
        snprintf (p, sizeof p, "%s%s", dir, files[i]);
        fclose (fopen (p, "w"));
    }
    logrotate_clean_pod (dir);
    struct stat st;
    const char *gone[] = {"/a", "/b", "/keep/0.log"}, *kept[] = {"/volumes/v/0.log", "/keep/notes", "/x.log"};
    for (size_t i = 0; i < 3; i++) {
        snprintf (p, sizeof p, "%s%s", dir, gone[i]);
        assert_int_equal (stat (p, &st), -1);
        snprintf (p, sizeof p, "%s%s", dir, kept[i]);
        assert_int_equal (stat (p, &st), 0);
        unlink (p);
    }
    const char *dirs[] = {"/volumes/v", "/volumes", "/keep"};
    for (size_t i = 0; i < 3; i++) {
        snprintf (p, sizeof p, "%s%s", dir, dirs[i]);
        assert_int_equal (rmdir (p), 0);
    }
    assert_int_equal (rmdir (dir), 0);
}

/* prepare: a directory on disk, below then at the size */
static void
prepare (void **state)
{
    (void) state;
    char dir[] = "/tmp/test_logrotate_prep.XXXXXX", p[200], log[200], err[300];
    assert_non_null (mkdtemp (dir));
    snprintf (log, sizeof log, "%s/0.log", dir);
    FILE *f = fopen (log, "w");
    fputs ("0123456789", f);
    fclose (f);
    const char *old[] = {"0.log.20261130-000000.gz", "0.log.20261201-000000", "0.log.20261202-000000"};
    for (size_t i = 0; i < 3; i++) {
        snprintf (p, sizeof p, "%s/%s", dir, old[i]);
        f = fopen (p, "w");
        fputs ("x\n", f);
        fclose (f);
    }
    logrotate_policy_t pol11 = {11, 3}, pol10 = {10, 3};
    char *rot = NULL;
    assert_int_equal (logrotate_prepare (log, &pol11, NOW, &rot, err, sizeof err), 0);
    assert_null (rot);
    assert_int_equal (logrotate_prepare (log, &pol10, NOW, &rot, err, sizeof err), 1);
    char *want = logrotate_rotated_name (log, NOW);
    assert_string_equal (rot, want);
    struct stat st;
    snprintf (p, sizeof p, "%s/0.log.20261202-000000.gz", dir); /* compressed, the two older ones gone */
    assert_int_equal (stat (p, &st), 0);
    unlink (p);
    for (size_t i = 0; i < 3; i++) {
        snprintf (p, sizeof p, "%s/%s", dir, old[i]);
        assert_int_equal (stat (p, &st), -1);
    }
    assert_int_equal (stat (log, &st), 0); /* the rename is the caller's */
    unlink (log);
    free (rot);
    free (want);
    assert_int_equal (rmdir (dir), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (rotated_name),
        cmocka_unit_test (below_size_nothing),
        cmocka_unit_test (first_rotation),
        cmocka_unit_test (excess_removed_oldest_first_rest_compressed),
        cmocka_unit_test (leftovers_cleaned),
        cmocka_unit_test (same_second_waits),
        cmocka_unit_test (policy),
        cmocka_unit_test (compress_roundtrip),
        cmocka_unit_test (conmon_reopen_message),
        cmocka_unit_test (clean),
        cmocka_unit_test (prepare),
        cmocka_unit_test (clean_pod),
        cmocka_unit_test (open_rotated),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
