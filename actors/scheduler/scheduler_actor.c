/* scheduler_actor — see scheduler_actor.h. */
#include "actors/scheduler/scheduler_actor.h"
#include "actors/scheduler/sched.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A "scheduler"
#define T_RUN 1
#define T_RETRY 2
#define BATCH 64

typedef struct {
    sched_t *sched;
    troupe_informer_t *pods, *nodes;
    json_t *queue;        /* "ns/name" → true: pods to try */
    json_t *unschedulable;/* "ns/name" → last reason reported */
    json_t *binding;      /* "ns/name" → true while a bind is in flight */
} sch_t;

static int
pending (const json_t *pod)
{
    const char *node = tv_str (pod, "spec.nodeName");
    const char *sn = tv_str (pod, "spec.schedulerName");
    return (!node || !*node) && !tv_get (pod, "metadata.deletionTimestamp") && (!sn || !strcmp (sn, "default-scheduler"));
}

static void
key_of (const json_t *pod, char *buf, size_t len)
{
    snprintf (buf, len, "%s/%s", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"));
}

static void
arm (troupe_ctx_t *ctx)
{
    troupe_timer_within (ctx, T_RUN, 5); /* batch by time: a stream of events must not push it back */
}

static void
track (sch_t *s, troupe_ctx_t *ctx, const json_t *pod)
{
    char key[600];
    key_of (pod, key, sizeof key);
    const char *node = tv_str (pod, "spec.nodeName");
    if (node && *node) {
        sched_usage_add (s->sched, node, pod);
        json_object_del (s->queue, key);
        json_object_del (s->unschedulable, key);
    } else if (pending (pod)) {
        json_object_set_new (s->queue, key, json_true ());
        arm (ctx);
    }
}

static void
on_pod_add (void *self, troupe_ctx_t *ctx, const json_t *pod)
{
    track (self, ctx, pod);
}

static void
on_pod_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *pod)
{
    (void) old;
    track (self, ctx, pod);
}

static void
on_pod_delete (void *self, troupe_ctx_t *ctx, const json_t *pod)
{
    (void) ctx;
    sch_t *s = self;
    char key[600];
    key_of (pod, key, sizeof key);
    json_object_del (s->queue, key);
    json_object_del (s->unschedulable, key);
    if (tv_str (pod, "metadata.uid"))
        sched_usage_remove (s->sched, tv_str (pod, "metadata.uid"));
}

static void
requeue_unschedulable (sch_t *s, troupe_ctx_t *ctx)
{
    const char *k;
    json_t *v;
    json_object_foreach (s->unschedulable, k, v) json_object_set_new (s->queue, k, json_true ());
    if (json_object_size (s->queue))
        arm (ctx);
}

static void
on_node (void *self, troupe_ctx_t *ctx, const json_t *node)
{
    (void) node;
    requeue_unschedulable (self, ctx);
}

static void
on_node_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *node)
{
    /* heartbeats change only timestamps; requeue only on what can change a decision */
    if (!json_equal (tv_get (old, "spec"), tv_get (node, "spec")) ||
        !json_equal (tv_get (old, "status.allocatable"), tv_get (node, "status.allocatable")) ||
        !json_equal (tv_get (old, "metadata.labels"), tv_get (node, "metadata.labels")))
        requeue_unschedulable (self, ctx);
    else {
        /* readiness may have flipped */
        size_t i;
        json_t *c;
        const char *a = NULL, *b = NULL;
        json_array_foreach (tv_get (old, "status.conditions"), i, c) if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), "Ready")) a = tv_str (c, "status");
        json_array_foreach (tv_get (node, "status.conditions"), i, c) if (tv_str (c, "type") && !strcmp (tv_str (c, "type"), "Ready")) b = tv_str (c, "status");
        if ((a == NULL) != (b == NULL) || (a && b && strcmp (a, b)))
            requeue_unschedulable (self, ctx);
    }
}

typedef struct {
    char key[600];
    char uid[64];
    char node[254];
} bind_t;

static void
bound (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    sch_t *s = self;
    bind_t *b = arg;
    json_object_del (s->binding, b->key);
    if (reply->code == TR_OK) {
        TR_INFO (A, "bound pod=%s node=%s", b->key, b->node);
        char msg[1400];
        snprintf (msg, sizeof msg, "Successfully assigned %s to %s", b->key, b->node);
        tr_env_t ev;
        tr_env_init (&ev);
        ev.verb = TR_VERB_CREATE;
        strcpy (ev.kind, "Event");
        snprintf (ev.ns, sizeof ev.ns, "%s", tv_str (reply->body, "metadata.namespace"));
        ev.body = tr_event_new (reply->body, "Normal", "Scheduled", msg, "default-scheduler", NULL, troupe_now_ms ());
        troupe_request (ctx, &ev, NULL, NULL);
        tr_env_clear (&ev);
    } else {
        /* the assumption was wrong (pod changed, or gone): forget it, try again from the cache */
        sched_usage_remove (s->sched, b->uid);
        if (reply->code != TR_NOT_FOUND) {
            json_object_set_new (s->queue, b->key, json_true ());
            troupe_timer_within (ctx, T_RUN, 200);
        }
        TR_DEBUG (A, "bind failed pod=%s code=%s", b->key, tr_code_name (reply->code));
    }
    free (b);
}

static void
ignore (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self;
    (void) ctx;
    (void) reply;
    (void) arg;
}

static void
report_unschedulable (sch_t *s, troupe_ctx_t *ctx, const json_t *pod, const char *key, const char *why)
{
    const char *last = json_string_value (json_object_get (s->unschedulable, key));
    if (last && !strcmp (last, why))
        return; /* already said (compared before the set below frees the old string) */
    json_object_set_new (s->unschedulable, key, json_string (why));
    TR_INFO (A, "unschedulable pod=%s reason=\"%s\"", key, why);
    char now[32];
    tr_time_format (troupe_now_ms (), now, sizeof now);
    tr_env_t req;
    tr_env_init (&req);
    req.verb = TR_VERB_PATCH;
    strcpy (req.kind, "Pod");
    snprintf (req.ns, sizeof req.ns, "%s", tv_str (pod, "metadata.namespace"));
    snprintf (req.name, sizeof req.name, "%s", tv_str (pod, "metadata.name"));
    req.opts = json_pack ("{s:s}", "subresource", "status");
    req.body = json_pack ("{s:{s:s,s:[{s:s,s:s,s:s,s:s,s:s}]}}", "status", "phase", "Pending", "conditions", "type",
                          "PodScheduled", "status", "False", "reason", "Unschedulable", "message", why,
                          "lastTransitionTime", now);
    troupe_request (ctx, &req, ignore, NULL);
    tr_env_clear (&req);
    tr_env_init (&req);
    req.verb = TR_VERB_CREATE;
    strcpy (req.kind, "Event");
    snprintf (req.ns, sizeof req.ns, "%s", tv_str (pod, "metadata.namespace"));
    req.body = tr_event_new (pod, "Warning", "FailedScheduling", why, "default-scheduler", NULL, troupe_now_ms ());
    troupe_request (ctx, &req, ignore, NULL);
    tr_env_clear (&req);
}

static void
collect (void *arg, const json_t *node)
{
    json_array_append ((json_t *) arg, (json_t *) node);
}

static void
run (sch_t *s, troupe_ctx_t *ctx)
{
    if (!troupe_informer_synced (s->pods) || !troupe_informer_synced (s->nodes))
        return;
    json_t *nodes = json_array ();
    troupe_informer_foreach (s->nodes, collect, nodes);
    int done = 0;
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (s->queue, tmp, key, v) {
        if (done == BATCH)
            break;
        char k[600];
        snprintf (k, sizeof k, "%s", key);
        json_object_del (s->queue, k);
        if (json_object_get (s->binding, k))
            continue;
        char ns[254], name[254];
        const char *slash = strchr (k, '/');
        if (!slash)
            continue;
        snprintf (ns, sizeof ns, "%.*s", (int) (slash - k), k);
        snprintf (name, sizeof name, "%s", slash + 1);
        const json_t *pod = troupe_informer_get (s->pods, ns, name);
        if (!pod || !pending (pod))
            continue;
        done++;
        char node[254], why[512];
        if (sched_schedule (s->sched, pod, nodes, node, sizeof node, why, sizeof why)) {
            report_unschedulable (s, ctx, pod, k, why);
            continue;
        }
        sched_usage_add (s->sched, node, pod); /* assume: the next pod sees this one */
        bind_t *b = calloc (1, sizeof *b);
        snprintf (b->key, sizeof b->key, "%s", k);
        snprintf (b->uid, sizeof b->uid, "%s", tv_str (pod, "metadata.uid") ? tv_str (pod, "metadata.uid") : "");
        snprintf (b->node, sizeof b->node, "%s", node);
        json_object_set_new (s->binding, k, json_true ());
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_PATCH;
        strcpy (req.kind, "Pod");
        snprintf (req.ns, sizeof req.ns, "%s", ns);
        snprintf (req.name, sizeof req.name, "%s", name);
        const char *rvs = tv_str (pod, "metadata.resourceVersion");
        req.rv = rvs ? strtoull (rvs, NULL, 10) : 0;
        req.opts = json_pack ("{s:s}", "subresource", "binding");
        req.body = json_pack ("{s:{s:s}}", "spec", "nodeName", node);
        troupe_request (ctx, &req, bound, b);
        tr_env_clear (&req);
    }
    json_decref (nodes);
    if (json_object_size (s->queue))
        arm (ctx);
}

static void
on_synced (void *self, troupe_ctx_t *ctx)
{
    (void) self;
    arm (ctx);
}

static void *
sch_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    sch_t *s = calloc (1, sizeof *s);
    s->sched = sched_new ();
    s->queue = json_object ();
    s->unschedulable = json_object ();
    s->binding = json_object ();
    troupe_handlers_t ph = {on_pod_add, on_pod_update, on_pod_delete, on_synced};
    troupe_handlers_t nh = {on_node, on_node_update, on_node, on_synced};
    s->nodes = troupe_watch (ctx, "Node", NULL, NULL, &nh);
    s->pods = troupe_watch (ctx, "Pod", NULL, NULL, &ph);
    troupe_timer (ctx, T_RETRY, 10000, 1);
    return s;
}

static int
sch_timer (void *self, troupe_ctx_t *ctx, int id)
{
    sch_t *s = self;
    if (id == T_RUN)
        run (s, ctx);
    else if (id == T_RETRY)
        requeue_unschedulable (s, ctx);
    return 0;
}

static void
sch_destroy (void **p)
{
    sch_t *s = *p;
    if (!s)
        return;
    sched_destroy (&s->sched);
    json_decref (s->queue);
    json_decref (s->unschedulable);
    json_decref (s->binding);
    free (s);
    *p = NULL;
}

static const troupe_actor_t def = {TROUPE_ACTOR_ABI, "scheduler", sch_create, NULL, sch_timer, sch_destroy};

const troupe_actor_t *
scheduler_actor (void)
{
    return &def;
}
