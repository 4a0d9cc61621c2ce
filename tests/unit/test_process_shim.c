/* process shim with real processes: output to the log file, env and args, exit codes and
 * reasons, SIGTERM then SIGKILL after the timeout, a shim restarted on the same state dir
 * re-adopting a running container, bad specs refused. Every child is ended before returning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/value.h"
#include "runtime-shims/process/process_shim.h"
#include "tests/unit/dir_fixture.h"

static int
call (process_shim_t *s, tr_verb_t verb, json_t *body, json_t **out)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = verb;
    req.body = body;
    process_shim_handle (s, &req, &rep);
    int code = rep.code;
    if (out)
        *out = json_incref (rep.body);
    tr_env_clear (&req);
    tr_env_clear (&rep);
    return code;
}

static char *
start (process_shim_t *s, const char *script, int attempt)
{
    char log[128];
    snprintf (log, sizeof log, "%s/logs/c/%d.log", fixture_dir, attempt);
    json_t *out = NULL;
    json_t *body = json_pack ("{s:s,s:s,s:s,s:i,s:s,s:[s,s],s:[s],s:[{s:s,s:s}],s:s}", "sandboxId", "sb-u1", "podUid",
                              "u1", "name", "c", "attempt", attempt, "image", "busybox", "command", "/bin/sh", "-c",
                              "args", script, "env", "name", "GREETING", "value", "hi there", "logPath", log);
    assert_int_equal (call (s, TR_VERB_CREATE_CONTAINER, body, &out), TR_OK);
    char *id = strdup (tv_str (out, "containerId"));
    json_decref (out);
    assert_int_equal (call (s, TR_VERB_START_CONTAINER, json_pack ("{s:s}", "containerId", id), NULL), TR_OK);
    return id;
}

static json_t *
status (process_shim_t *s, const char *id)
{
    json_t *out = NULL;
    assert_int_equal (call (s, TR_VERB_CONTAINER_STATUS, json_pack ("{s:s}", "containerId", id), &out), TR_OK);
    return out;
}

static int
wait_state (process_shim_t *s, const char *id, const char *state, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        process_shim_tick (s);
        json_t *st = status (s, id);
        int ok = !strcmp (tv_str (st, "state"), state);
        json_decref (st);
        if (ok)
            return 1;
        usleep (20000);
    }
    return 0;
}

static void
run_log_exit (void **state)
{
    (void) state;
    process_shim_t *s = process_shim_new (fixture_dir);
    assert_non_null (s);
    char *id = start (s, "echo \"$GREETING\" from $0; exit 3", 0);
    assert_true (wait_state (s, id, "EXITED", 5000));
    json_t *st = status (s, id);
    assert_int_equal (tv_int (st, "exitCode", -1), 3);
    assert_string_equal (tv_str (st, "reason"), "Error");
    char path[128], buf[256] = "";
    snprintf (path, sizeof path, "%s/logs/c/0.log", fixture_dir);
    FILE *f = fopen (path, "r");
    assert_non_null (f);
    assert_non_null (fgets (buf, sizeof buf, f));
    fclose (f);
    assert_string_equal (buf, "hi there from /bin/sh\n");
    json_decref (st);
    /* its process writes the log file itself: ReopenContainerLog is refused (the agent does not
     * rotate these logs), NotFound for an unknown id */
    assert_int_equal (call (s, TR_VERB_REOPEN_CONTAINER_LOG, json_pack ("{s:s}", "containerId", id), NULL),
                      TR_METHOD_NOT_ALLOWED);
    assert_int_equal (call (s, TR_VERB_REOPEN_CONTAINER_LOG, json_pack ("{s:s}", "containerId", "nope"), NULL),
                      TR_NOT_FOUND);
    /* list by pod, then remove */
    json_t *out = NULL;
    assert_int_equal (call (s, TR_VERB_LIST_CONTAINERS, json_pack ("{s:s}", "podUid", "u1"), &out), TR_OK);
    assert_int_equal (json_array_size (tv_get (out, "items")), 1);
    json_decref (out);
    assert_int_equal (call (s, TR_VERB_REMOVE_CONTAINER, json_pack ("{s:s}", "containerId", id), NULL), TR_OK);
    assert_int_equal (call (s, TR_VERB_CONTAINER_STATUS, json_pack ("{s:s}", "containerId", id), NULL), TR_NOT_FOUND);
    free (id);
    process_shim_destroy (&s);
}

static void
stop_escalates (void **state)
{
    (void) state;
    process_shim_t *s = process_shim_new (fixture_dir);
    char *id = start (s, "trap '' TERM; echo ready; while true; do sleep 0.1; done", 0);
    assert_true (wait_state (s, id, "RUNNING", 2000));
    usleep (200000); /* let the shell install its trap */
    assert_int_equal (call (s, TR_VERB_STOP_CONTAINER, json_pack ("{s:s,s:i}", "containerId", id, "timeout", 1), NULL), TR_OK);
    /* SIGTERM is ignored: still running just after, killed once the second passed */
    process_shim_tick (s);
    json_t *st = status (s, id);
    assert_string_equal (tv_str (st, "state"), "RUNNING");
    json_decref (st);
    assert_true (wait_state (s, id, "EXITED", 4000));
    st = status (s, id);
    assert_int_equal (tv_int (st, "exitCode", -1), 128 + SIGKILL);
    json_decref (st);
    free (id);
    process_shim_destroy (&s);
}

static void
restart_readopts (void **state)
{
    (void) state;
    process_shim_t *s = process_shim_new (fixture_dir);
    char *id = start (s, "while true; do sleep 0.1; done", 0);
    assert_true (wait_state (s, id, "RUNNING", 2000));
    json_t *st = status (s, id);
    pid_t pid = (pid_t) tv_int (st, "pid", 0);
    json_decref (st);
    process_shim_destroy (&s); /* the container keeps running */
    assert_int_equal (kill (pid, 0), 0);
    s = process_shim_new (fixture_dir);
    st = status (s, id);
    assert_string_equal (tv_str (st, "state"), "RUNNING");
    assert_int_equal (tv_int (st, "pid", 0), pid);
    json_decref (st);
    assert_int_equal (process_shim_running (s), 1);
    process_shim_stop_all (s, 2);
    assert_int_equal (process_shim_running (s), 0);
    /* in this test the process is still our child (one process plays both shims): it must
     * have exited, and we reap it */
    pid_t got = 0;
    for (int i = 0; i < 100 && got != pid; i++) {
        got = waitpid (pid, NULL, WNOHANG);
        usleep (20000);
    }
    assert_int_equal (got, pid);
    free (id);
    process_shim_destroy (&s);
}

static void
bad_specs (void **state)
{
    (void) state;
    process_shim_t *s = process_shim_new (fixture_dir);
    json_t *out = NULL;
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE_CONTAINER;
    req.body = json_pack ("{s:s,s:s,s:s}", "name", "c", "image", "busybox", "logPath", "/tmp/x.log");
    process_shim_handle (s, &req, &rep);
    assert_int_equal (rep.code, TR_INVALID);
    assert_non_null (strstr (rep.msg, "needs a command"));
    assert_non_null (strstr (rep.msg, "busybox"));
    tr_env_clear (&req);
    tr_env_clear (&rep);
    assert_int_equal (call (s, TR_VERB_START_CONTAINER, json_pack ("{s:s}", "containerId", "nope"), NULL), TR_NOT_FOUND);
    assert_int_equal (call (s, TR_VERB_GET, json_object (), &out), TR_METHOD_NOT_ALLOWED);
    json_decref (out);
    process_shim_destroy (&s);
}

int
main (void)
{
    setenv ("TROUPE_LOG", "error", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (run_log_exit, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (stop_escalates, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (restart_readopts, dir_fixture_setup, dir_fixture_teardown),
        cmocka_unit_test_setup_teardown (bad_specs, dir_fixture_setup, dir_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
