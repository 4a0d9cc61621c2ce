/* cmd_rollout — rollout status | restart | undo for Deployments. */
#include "cli/cli.h"
#include "core/host.h"
#include "core/meta.h"
#include "core/value.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
get_obj (cli_t *g, const char *kind, const char *name, tr_env_t *rep)
{
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_GET;
    snprintf (req.kind, sizeof req.kind, "%s", kind);
    snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
    snprintf (req.name, sizeof req.name, "%s", name);
    return cli_call_ok (g, &req, rep);
}

static int
status (cli_t *g, const char *name, int timeout_s)
{
    int64_t deadline = zclock_mono () + (int64_t) timeout_s * 1000;
    char last[512] = "";
    while (zclock_mono () < deadline && !zsys_interrupted) {
        tr_env_t rep;
        if (get_obj (g, "Deployment", name, &rep)) {
            tr_env_clear (&rep);
            return 1;
        }
        json_t *d = rep.body;
        json_int_t want = tv_int (d, "spec.replicas", 1), gen = tv_int (d, "metadata.generation", 0),
                   obs = tv_int (d, "status.observedGeneration", 0), upd = tv_int (d, "status.updatedReplicas", 0),
                   tot = tv_int (d, "status.replicas", 0), avail = tv_int (d, "status.availableReplicas", 0);
        char msg[512];
        int done = 0;
        if (obs < gen)
            snprintf (msg, sizeof msg, "Waiting for deployment spec update to be observed...");
        else if (upd < want)
            snprintf (msg, sizeof msg, "Waiting for deployment \"%s\" rollout to finish: %lld out of %lld new replicas have been updated...",
                      name, (long long) upd, (long long) want);
        else if (tot > upd)
            snprintf (msg, sizeof msg, "Waiting for deployment \"%s\" rollout to finish: %lld old replicas are pending termination...",
                      name, (long long) (tot - upd));
        else if (avail < upd)
            snprintf (msg, sizeof msg, "Waiting for deployment \"%s\" rollout to finish: %lld of %lld updated replicas are available...",
                      name, (long long) avail, (long long) upd);
        else {
            snprintf (msg, sizeof msg, "deployment \"%s\" successfully rolled out", name);
            done = 1;
        }
        tr_env_clear (&rep);
        if (strcmp (msg, last)) {
            printf ("%s\n", msg);
            fflush (stdout);
            snprintf (last, sizeof last, "%s", msg);
        }
        if (done)
            return 0;
        zclock_sleep (500);
    }
    fprintf (stderr, "error: timed out waiting for the condition\n");
    return 1;
}

static int
update_deploy (cli_t *g, json_t *d, const char *name, const char *what)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_UPDATE;
    snprintf (req.kind, sizeof req.kind, "Deployment");
    snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
    snprintf (req.name, sizeof req.name, "%s", name);
    req.body = json_incref (d);
    if (cli_call (g, &req, &rep)) {
        tr_env_clear (&req);
        return 1;
    }
    tr_env_clear (&req);
    int bad = rep.code != TR_OK;
    if (bad)
        cli_print_error (&rep);
    else
        printf ("deployment.apps/%s %s\n", name, what);
    tr_env_clear (&rep);
    return bad;
}

static int
restart (cli_t *g, const char *name)
{
    tr_env_t rep;
    if (get_obj (g, "Deployment", name, &rep)) {
        tr_env_clear (&rep);
        return 1;
    }
    char ts[32];
    tr_time_format (troupe_now_ms (), ts, sizeof ts);
    json_t *d = json_incref (rep.body);
    tr_env_clear (&rep);
    json_t *ann = tv_obj (d, "spec.template.metadata.annotations");
    json_object_set_new (ann, "kubectl.kubernetes.io/restartedAt", json_string (ts));
    int rc = update_deploy (g, d, name, "restarted");
    json_decref (d);
    return rc;
}

static int
undo (cli_t *g, const char *name, long to_revision)
{
    tr_env_t rep;
    if (get_obj (g, "Deployment", name, &rep)) {
        tr_env_clear (&rep);
        return 1;
    }
    json_t *d = json_incref (rep.body);
    tr_env_clear (&rep);
    const char *uid = tv_str (d, "metadata.uid");
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_LIST;
    snprintf (req.kind, sizeof req.kind, "ReplicaSet");
    snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
    if (cli_call (g, &req, &rep) || rep.code != TR_OK) {
        tr_env_clear (&req);
        json_decref (d);
        return 1;
    }
    tr_env_clear (&req);
    /* the RSs this deployment owns, by revision: current = highest, target = the one before
     * (or --to-revision) */
    json_t *cur = NULL, *target = NULL;
    long cur_rev = -1, target_rev = -1;
    json_t *items = tv_get (rep.body, "items");
    size_t i;
    json_t *rs;
    for (int pass = 0; pass < 2; pass++) /* pass 0 finds the current revision, pass 1 the target */
        json_array_foreach (items, i, rs) {
            json_t *refs = tv_get (rs, "metadata.ownerReferences");
            size_t j;
            json_t *ref;
            int owned = 0;
            json_array_foreach (refs, j, ref) owned |= uid && tv_str (ref, "uid") && !strcmp (tv_str (ref, "uid"), uid);
            if (!owned)
                continue;
            const char *r = json_string_value (
                json_object_get (tv_get (rs, "metadata.annotations"), "deployment.kubernetes.io/revision"));
            long rev = r ? atol (r) : 0;
            if (pass == 0 && rev > cur_rev)
                cur = rs, cur_rev = rev;
            else if (pass == 1 && rs != cur &&
                     (to_revision ? rev == to_revision : (rev < cur_rev && rev > target_rev)))
                target = rs, target_rev = rev;
        }
    int rc = 1;
    if (!target || target == cur)
        fprintf (stderr, "error: no rollout history found for deployment \"%s\"%s\n", name,
                 to_revision ? " at that revision" : "");
    else {
        json_t *tmpl = json_deep_copy (tv_get (target, "spec.template"));
        json_object_del (tv_get (tmpl, "metadata.labels"), "pod-template-hash");
        tv_set (d, "spec.template", tmpl);
        rc = update_deploy (g, d, name, "rolled back");
    }
    tr_env_clear (&rep);
    json_decref (d);
    return rc;
}

int
cmd_rollout (cli_t *g, int argc, char **argv)
{
    const char *timeout = cli_opt (&argc, argv, "--timeout", NULL);
    const char *to_rev = cli_opt (&argc, argv, "--to-revision", NULL);
    if (argc < 3) {
        fprintf (stderr, "usage: troupe rollout status|restart|undo deployment NAME\n");
        return 1;
    }
    const char *sub = argv[1];
    char kindbuf[128];
    snprintf (kindbuf, sizeof kindbuf, "%s", argv[2]);
    const char *name = argc > 3 ? argv[3] : NULL;
    char *slash = strchr (kindbuf, '/');
    if (slash) {
        *slash = 0;
        name = slash + 1;
    }
    const schema_kind_t *k = cli_kind (g, kindbuf);
    if (!k || !name)
        return 1;
    if (strcmp (schema_kind_name (k), "Deployment")) {
        fprintf (stderr, "error: rollout supports deployments only\n");
        return 1;
    }
    if (!strcmp (sub, "status")) {
        int t = 600;
        if (timeout) {
            t = atoi (timeout);
            if (strchr (timeout, 'm'))
                t *= 60;
        }
        return status (g, name, t);
    }
    if (!strcmp (sub, "restart"))
        return restart (g, name);
    if (!strcmp (sub, "undo"))
        return undo (g, name, to_rev ? atol (to_rev) : 0);
    fprintf (stderr, "error: unknown rollout subcommand \"%s\" (status, restart, undo)\n", sub);
    return 1;
}
