/* oci shim, RemoveContainer and RemovePodSandbox off the serve loop: with a runc whose `delete`
 * blocks until the test releases it, the removal is handed back as a job (the handler does not
 * run runc), other requests on the same shim are answered meanwhile (ListContainers still shows
 * the container, StartContainer of it is refused as being removed, a second RemoveContainer is
 * the same job key), and once the job ran and finished the container and its directory are gone.
 * No real runc, conmon or network: a shell script stands in for runc, /bin/true for conmon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/value.h"
#include "runtime-shims/cri.h"
#include "runtime-shims/oci/oci_shim.h"

static char dir[200];

static void
put (const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
    chmod (path, mode);
}

static void
record (const char *state_dir, const char *id, const char *sb)
{
    char p[600];
    snprintf (p, sizeof p, "%s/containers/%s", state_dir, id);
    assert_int_equal (mkdir (p, 0700), 0);
    snprintf (p, sizeof p, "%s/containers/%s/record.json", state_dir, id);
    char js[400];
    snprintf (js, sizeof js,
              "{\"containerId\":\"%s\",\"state\":\"%s\",\"sandboxId\":\"%s\",\"name\":\"c\",\"podUid\":\"u1\","
              "\"attempt\":0,\"exitCode\":0,\"image\":\"i\"}",
              id, CRI_STATE_EXITED, sb);
    put (p, js, 0600);
}

static int
listed (oci_shim_t *s, const char *id)
{
    json_t *l = oci_shim_list (s, NULL);
    size_t i;
    json_t *r;
    int found = 0;
    json_array_foreach (l, i, r) found |= tv_str (r, "containerId") && !strcmp (tv_str (r, "containerId"), id);
    json_decref (l);
    return found;
}

static int
handle (oci_shim_t *s, tr_verb_t verb, json_t *body, tr_env_t *rep, oci_job_t **job)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = verb;
    req.id = 1;
    req.body = body;
    int rc = oci_shim_handle (s, &req, rep, job);
    tr_env_clear (&req);
    return rc;
}

static void *
run (void *j)
{
    oci_job_run (j);
    return NULL;
}

static void
remove_off_the_loop (void **state)
{
    (void) state;
    char p[1400], st[300], rn[300], script[1200];
    snprintf (st, sizeof st, "%s/state", dir);
    snprintf (rn, sizeof rn, "%s/run", dir);
    snprintf (p, sizeof p, "mkdir -p %s/containers %s", st, rn);
    assert_int_equal (system (p), 0);
    snprintf (script, sizeof script,
              "#!/bin/sh\necho \"$*\" >> %s/runc.log\n"
              "case \"$*\" in *delete*) i=0; while [ ! -e %s/release ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done;; esac\n"
              "exit 0\n",
              dir, dir);
    snprintf (p, sizeof p, "%s/runc", dir);
    put (p, script, 0755);
    record (st, "c1", "sb1");
    record (st, "c2", "sb2");
    oci_opts_t o = {.state_dir = st, .run_dir = rn, .node = "t-oci-remove", .runc = p, .conmon = "/bin/true",
                    .no_masq = 1}; /* no nftables table on the host for a unit test */
    char err[600];
    oci_shim_t *s = oci_shim_new (&o, err, sizeof err);
    if (!s)
        fail_msg ("oci_shim_new: %s", err);
    assert_true (listed (s, "c1"));
    tr_env_t rep;
    oci_job_t *job = NULL, *job2 = NULL;
    /* RemoveContainer: a job, runc not run by the handler */
    assert_int_equal (handle (s, TR_VERB_REMOVE_CONTAINER, json_pack ("{s:s}", "containerId", "c1"), &rep, &job), 1);
    tr_env_clear (&rep);
    assert_non_null (job);
    assert_string_equal (oci_job_key (job), "ctr-rm/c1");
    snprintf (p, sizeof p, "%s/runc.log", dir);
    assert_int_equal (access (p, F_OK), -1);
    pthread_t th;
    pthread_create (&th, NULL, run, job);
    /* while its runc delete blocks: other requests are answered */
    for (int i = 0; i < 100 && access (p, F_OK); i++)
        usleep (20000);
    assert_int_equal (access (p, F_OK), 0); /* the job is inside runc delete now */
    assert_int_equal (handle (s, TR_VERB_LIST_CONTAINERS, json_object (), &rep, &job2), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&rep);
    assert_true (listed (s, "c1"));
    assert_int_equal (handle (s, TR_VERB_START_CONTAINER, json_pack ("{s:s}", "containerId", "c1"), &rep, &job2), 0);
    assert_int_equal (rep.code, TR_CONFLICT);
    tr_env_clear (&rep);
    assert_int_equal (handle (s, TR_VERB_REMOVE_CONTAINER, json_pack ("{s:s}", "containerId", "c1"), &rep, &job2), 1);
    tr_env_clear (&rep);
    assert_string_equal (oci_job_key (job2), "ctr-rm/c1"); /* the serve loop joins it to the running one */
    oci_job_free (&job2);
    assert_int_equal (handle (s, TR_VERB_PING, json_object (), &rep, &job2), 0);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&rep);
    /* released: the job ends, the loop applies it */
    snprintf (p, sizeof p, "%s/release", dir);
    put (p, "", 0600);
    pthread_join (th, NULL);
    oci_job_finish (s, job, &rep);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&rep);
    assert_false (listed (s, "c1"));
    snprintf (p, sizeof p, "%s/containers/c1", st);
    assert_int_equal (access (p, F_OK), -1);
    /* RemovePodSandbox of a sandbox without a record: its container goes in a job too */
    unlink (p);
    assert_int_equal (handle (s, TR_VERB_REMOVE_POD_SANDBOX, json_pack ("{s:s}", "sandboxId", "sb2"), &rep, &job), 1);
    tr_env_clear (&rep);
    assert_true (listed (s, "c2"));
    oci_job_run (job);
    oci_job_finish (s, job, &rep);
    assert_int_equal (rep.code, TR_OK);
    tr_env_clear (&rep);
    assert_false (listed (s, "c2"));
    snprintf (p, sizeof p, "%s/runc.log", dir);
    FILE *f = fopen (p, "r");
    char line[600];
    int deletes = 0;
    while (fgets (line, sizeof line, f))
        deletes += strstr (line, "delete --force c1") || strstr (line, "delete --force c2");
    fclose (f);
    assert_int_equal (deletes, 2);
    oci_shim_destroy (&s);
}

int
main (void)
{
    char tmpl[] = "/tmp/test_oci_remove_XXXXXX";
    if (!mkdtemp (tmpl))
        return 1;
    snprintf (dir, sizeof dir, "%s", tmpl);
    const struct CMUnitTest tests[] = {cmocka_unit_test (remove_off_the_loop)};
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    if (system (cmd))
        rc = 1;
    return rc;
}
