/* controllers_actor — see controllers_actor.h. */
#include "actors/controllers/controllers_actor.h"
#include "actors/controllers/deployment.h"
#include "actors/controllers/disruption.h"
#include "actors/controllers/endpointslice.h"
#include "actors/controllers/gc.h"
#include "actors/controllers/nodelife.h"
#include "actors/controllers/nodeipam.h"
#include "actors/controllers/pdbindex.h"
#include "actors/controllers/podindex.h"
#include "actors/controllers/replicaset.h"
#include "core/eventrec.h"
#include "core/log.h"
#include "core/value.h"
#include "core/workqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A "controllers"
#define T_DRAIN 1
#define T_RESYNC 2
#define T_GC 3
#define T_NODES 4
#define T_IPAM 5

typedef struct {
    troupe_informer_t *deploys, *rss, *pods, *nodes, *leases, *svcs, *slices, *pdbs;
    int64_t grace_ms, evict_ms;
    int64_t started_ms; /* nodes are judged from here on at the earliest (nodelife.h) */
    workqueue_t *rsq, *dq, *svcq; /* svcq: Services whose EndpointSlices to reconcile */
    workqueue_t *pdbq;            /* PodDisruptionBudgets whose status to compute (disruption.h) */
    json_t *expect;   /* rs key → {active, want, up, deadline} */
    nodeipam_t ipam;  /* node CIDRs (nodeipam.h); ipam_on: configured */
    int ipam_on;
    /* Nodes without a podCIDR (name → true), from the watch: a round of IPAM over every Node
     * runs only while one waits (or once the Nodes are listed), as Kubernetes' range allocator
     * acts on a Node's add or update; every status update of 5,000 nodes scheduled one. */
    json_t *ipam_want;
    int ipam_all;
    podindex_t pidx;  /* pods by controller, orphans by namespace, all by namespace (podindex.h) */
    pdbindex_t bidx;  /* PodDisruptionBudgets by namespace, their selectors parsed (pdbindex.h) */
    tr_recorder_t *rec; /* the controllers' Events, aggregated and rate limited (core/eventrec.h) */
    /* The garbage collector's work, from the watches as Kubernetes' graph builder: an owner gone
     * asks for a pass over every dependent; a dependent come or re-owned, for a look at it alone
     * ("P|R|S" kind letter, then ns/name → true). A pass with neither reads nothing: at 10,000
     * pods the collector copied and walked every pod every 2 s. */
    int gc_full;
    int64_t gc_full_ms; /* the last pass over everything: one at least every GC_FULL_MS */
    json_t *gc_check;
} ctl_t;

#define GC_FULL_MS 60000

/* One sync of a key: its requests in flight. When the last is answered the key's back-off is
 * reset if every one succeeded, or grown by one step if any failed (client-go's Forget /
 * AddRateLimited once per sync, not per request). */
typedef struct {
    char queue;       /* 'r', 'd', 's', 'p' (PDBs), 'g' (collector and node lifecycle: they retry by themselves), 'i' (node IPAM) */
    char key[600];
    int pending;
    int failed;
} sync_t;

/* A ReplicaSet sync's pod creations, sent in slow-start batches (replicaset.h). */
typedef struct {
    rs_slowstart_t st;
    json_t *bodies;   /* the pods to create, in order */
    char ns[TR_NAME_MAX + 1];
} slow_t;

typedef struct {
    ctl_t *c;
    sync_t *sync;
    char key[600];
    tr_verb_t verb;
    char kind[32];
    json_t *obj;      /* for events after a create */
    slow_t *slow;     /* a slow-start creation, or NULL */
} done_t;

static void slow_send (ctl_t *c, troupe_ctx_t *ctx, sync_t *sync, slow_t *slow, const json_t *owner, const char *key);

static void
key_of (const json_t *o, char *buf, size_t len)
{
    snprintf (buf, len, "%s/%s", tv_str (o, "metadata.namespace"), tv_str (o, "metadata.name"));
}

/* Drain within 10 ms of the first event: later events join the batch instead of pushing it back
 * (a steady event stream must not starve the queues). */
static void
arm (troupe_ctx_t *ctx)
{
    troupe_timer_within (ctx, T_DRAIN, 10);
}

static workqueue_t *
queue_of (ctl_t *c, char queue)
{
    return queue == 'r' ? c->rsq : queue == 'd' ? c->dq : queue == 's' ? c->svcq : queue == 'p' ? c->pdbq : NULL;
}

/* The sync's last request was answered (or it sent none). */
static void
sync_end (ctl_t *c, troupe_ctx_t *ctx, sync_t *s)
{
    workqueue_t *q = queue_of (c, s->queue);
    if (q && s->failed) {
        workqueue_add_rate_limited (q, s->key, troupe_mono_ms ());
        arm (ctx);
    } else if (q)
        workqueue_forget (q, s->key);
    free (s);
}

/* The owner of kind `kind` of obj, as a key in obj's namespace, or 0. */
static int
owner_key (const json_t *obj, const char *kind, char *buf, size_t len)
{
    size_t i;
    json_t *r;
    json_array_foreach (tv_get (obj, "metadata.ownerReferences"), i, r) if (tv_str (r, "kind") && !strcmp (tv_str (r, "kind"), kind) &&
                                                                             json_is_true (json_object_get (r, "controller"))) {
        snprintf (buf, len, "%s/%s", tv_str (obj, "metadata.namespace"), tv_str (r, "name"));
        return 1;
    }
    return 0;
}

typedef struct {
    ctl_t *c;
    const char *ns;
} nsq_t;

static void
enqueue_rs_in_ns (void *arg, const json_t *rs)
{
    nsq_t *q = arg;
    const char *ns = tv_str (rs, "metadata.namespace");
    char k[600];
    if (ns && !strcmp (ns, q->ns)) {
        key_of (rs, k, sizeof k);
        workqueue_add (q->c->rsq, k);
    }
}

static void
enqueue_svc_in_ns (void *arg, const json_t *svc)
{
    nsq_t *q = arg;
    const char *ns = tv_str (svc, "metadata.namespace");
    char k[600];
    if (!q->ns || (ns && !strcmp (ns, q->ns))) {
        key_of (svc, k, sizeof k);
        workqueue_add (q->c->svcq, k);
    }
}

static void
enqueue_pdb_key (void *arg, const char *key)
{
    workqueue_add (((ctl_t *) arg)->pdbq, key);
}

/* Queues the PDBs of obj's namespace whose selectors match the pod's labels, old or new (or
 * every one when all is set: a controller's scale changed): only that namespace's budgets, their
 * selectors parsed once (pdbindex.h). */
static void
enqueue_pdbs (ctl_t *c, const json_t *obj, const json_t *old_pod, int all)
{
    pdbindex_matching (&c->bidx, tv_str (obj, "metadata.namespace") ? tv_str (obj, "metadata.namespace") : "",
                       tv_get (obj, "metadata.labels"), old_pod ? tv_get (old_pod, "metadata.labels") : NULL, all,
                       enqueue_pdb_key, c);
}

static void
pod_changed (void *self, troupe_ctx_t *ctx, const json_t *pod)
{
    ctl_t *c = self;
    char k[600];
    /* the Services of its namespace may select it (before or after a change of labels) */
    nsq_t sq = {c, tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : ""};
    troupe_informer_foreach (c->svcs, enqueue_svc_in_ns, &sq);
    if (owner_key (pod, "ReplicaSet", k, sizeof k))
        workqueue_add (c->rsq, k);
    else if (!tv_get (pod, "metadata.ownerReferences")) {
        /* an orphan may be adopted by a ReplicaSet of its namespace */
        nsq_t q = {c, tv_str (pod, "metadata.namespace") ? tv_str (pod, "metadata.namespace") : ""};
        troupe_informer_foreach (c->rss, enqueue_rs_in_ns, &q);
    }
    arm (ctx);
}

/* A dependent (a pod, a ReplicaSet, an EndpointSlice) came or changed: the collector looks at it
 * next pass if its owners are new (gc.h). */
static void
gc_note (ctl_t *c, char kind, const json_t *old, const json_t *o)
{
    if (!gc_dependent_changed (old, o))
        return;
    char k[600];
    int n = snprintf (k, sizeof k, "%c%s/%s", kind, tv_str (o, "metadata.namespace") ? tv_str (o, "metadata.namespace") : "",
                      tv_str (o, "metadata.name") ? tv_str (o, "metadata.name") : "");
    if (n > 0 && (size_t) n < sizeof k)
        json_object_set_new (c->gc_check, k, json_true ());
}

/* An owner (a Deployment, a ReplicaSet, a Service) is gone: every dependent is looked at. */
static void
gc_owner_gone (ctl_t *c)
{
    c->gc_full = 1;
}

/* An owner's update that is another object under the same name: one deleted and created again
 * while the watch was down comes from the relist as an update (the informer diffs by name). */
static void
gc_owner_updated (ctl_t *c, const json_t *old, const json_t *o)
{
    if (gc_owner_replaced (old, o))
        gc_owner_gone (c);
}

static void
pod_added (void *self, troupe_ctx_t *ctx, const json_t *pod)
{
    gc_note (self, 'P', NULL, pod);
    podindex_put (&((ctl_t *) self)->pidx, pod);
    enqueue_pdbs (self, pod, NULL, 0);
    pod_changed (self, ctx, pod);
}

static void
pod_updated (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *pod)
{
    gc_note (self, 'P', old, pod);
    podindex_put (&((ctl_t *) self)->pidx, pod);
    enqueue_pdbs (self, pod, old, 0); /* the budgets selecting it before or after a change of labels */
    pod_changed (self, ctx, pod);
}

static void
pod_deleted (void *self, troupe_ctx_t *ctx, const json_t *pod)
{
    podindex_del (&((ctl_t *) self)->pidx, pod);
    enqueue_pdbs (self, pod, NULL, 0);
    pod_changed (self, ctx, pod);
}

/* A controller's scale or ownership changed (or it came or went): the budgets of its namespace
 * may count it (simpler than Kubernetes' lookup of the budgets of its pods, and as cheap here). */
static int
scale_changed (const json_t *old, const json_t *o)
{
    return !old || tv_int (old, "spec.replicas", 1) != tv_int (o, "spec.replicas", 1) ||
           !json_equal (tv_get (old, "metadata.ownerReferences"), tv_get (o, "metadata.ownerReferences")) ||
           !json_equal (tv_get (old, "metadata.uid"), tv_get (o, "metadata.uid"));
}

static void
pdb_changed (void *self, troupe_ctx_t *ctx, const json_t *pdb)
{
    ctl_t *c = self;
    char k[600];
    key_of (pdb, k, sizeof k);
    workqueue_add (c->pdbq, k);
    arm (ctx);
}

static void
pdb_added (void *self, troupe_ctx_t *ctx, const json_t *pdb)
{
    pdbindex_put (&((ctl_t *) self)->bidx, pdb);
    pdb_changed (self, ctx, pdb);
}

static void
pdb_updated (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *pdb)
{
    (void) old;
    pdbindex_put (&((ctl_t *) self)->bidx, pdb); /* its selector parsed again only if it changed */
    pdb_changed (self, ctx, pdb);
}

static void
pdb_deleted (void *self, troupe_ctx_t *ctx, const json_t *pdb)
{
    pdbindex_del (&((ctl_t *) self)->bidx, pdb);
    pdb_changed (self, ctx, pdb);
}

static void
rs_changed (void *self, troupe_ctx_t *ctx, const json_t *rs)
{
    ctl_t *c = self;
    char k[600];
    key_of (rs, k, sizeof k);
    workqueue_add (c->rsq, k);
    if (owner_key (rs, "Deployment", k, sizeof k))
        workqueue_add (c->dq, k);
    arm (ctx);
}

static void
rs_added (void *self, troupe_ctx_t *ctx, const json_t *rs)
{
    gc_note (self, 'R', NULL, rs);
    enqueue_pdbs (self, rs, NULL, 1);
    rs_changed (self, ctx, rs);
}

static void
rs_deleted (void *self, troupe_ctx_t *ctx, const json_t *rs)
{
    gc_owner_gone (self);
    enqueue_pdbs (self, rs, NULL, 1);
    rs_changed (self, ctx, rs);
}

static void
rs_updated (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *rs)
{
    gc_note (self, 'R', old, rs);
    gc_owner_updated (self, old, rs);
    if (scale_changed (old, rs))
        enqueue_pdbs (self, rs, NULL, 1);
    rs_changed (self, ctx, rs);
}

static void
d_changed (void *self, troupe_ctx_t *ctx, const json_t *d)
{
    ctl_t *c = self;
    char k[600];
    key_of (d, k, sizeof k);
    workqueue_add (c->dq, k);
    arm (ctx);
}

static void
d_added (void *self, troupe_ctx_t *ctx, const json_t *d)
{
    enqueue_pdbs (self, d, NULL, 1);
    d_changed (self, ctx, d);
}

static void
d_deleted (void *self, troupe_ctx_t *ctx, const json_t *d)
{
    gc_owner_gone (self);
    d_added (self, ctx, d);
}

static void
d_updated (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *d)
{
    gc_owner_updated (self, old, d);
    if (scale_changed (old, d))
        enqueue_pdbs (self, d, NULL, 1);
    d_changed (self, ctx, d);
}

static void
svc_changed (void *self, troupe_ctx_t *ctx, const json_t *svc)
{
    ctl_t *c = self;
    char k[600];
    key_of (svc, k, sizeof k);
    workqueue_add (c->svcq, k);
    arm (ctx);
}

static void
svc_deleted (void *self, troupe_ctx_t *ctx, const json_t *svc)
{
    gc_owner_gone (self);
    svc_changed (self, ctx, svc);
}

static void
svc_updated (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *svc)
{
    gc_owner_updated (self, old, svc);
    svc_changed (self, ctx, svc);
}

/* a slice changed by someone else (or deleted) is put back as its Service says */
static void
slice_changed (void *self, troupe_ctx_t *ctx, const json_t *slice)
{
    ctl_t *c = self;
    const char *svc = json_string_value (json_object_get (tv_get (slice, "metadata.labels"), EPS_SERVICE_LABEL));
    if (!svc)
        return;
    char k[600];
    snprintf (k, sizeof k, "%s/%s", tv_str (slice, "metadata.namespace"), svc);
    workqueue_add (c->svcq, k);
    arm (ctx);
}

static void
slice_added (void *self, troupe_ctx_t *ctx, const json_t *slice)
{
    gc_note (self, 'S', NULL, slice);
    slice_changed (self, ctx, slice);
}

static void
slice_updated (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *slice)
{
    gc_note (self, 'S', old, slice);
    slice_changed (self, ctx, slice);
}

/* a node came or went: its pods' endpoints follow */
static void
endpoints_node_changed (void *self, troupe_ctx_t *ctx, const json_t *node)
{
    ctl_t *c = self;
    (void) node;
    nsq_t sq = {c, NULL};
    troupe_informer_foreach (c->svcs, enqueue_svc_in_ns, &sq);
    arm (ctx);
}

static void
synced (void *self, troupe_ctx_t *ctx)
{
    (void) self;
    arm (ctx);
}

typedef struct {
    const char *ns;
    json_t *out;
} coll_t;

static void
collect_ns (void *arg, const json_t *o)
{
    coll_t *c = arg;
    const char *ns = tv_str (o, "metadata.namespace");
    if (!c->ns || (ns && !strcmp (ns, c->ns)))
        json_array_append (c->out, (json_t *) o);
}

static json_t *
list_ns (troupe_informer_t *inf, const char *ns)
{
    coll_t c = {ns, json_array ()};
    troupe_informer_foreach (inf, collect_ns, &c);
    return c.out;
}

/* Appends the pods of a podindex set (their versions last put, the informer's) to out. */
static void
add_indexed (json_t *out, const json_t *set)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) set, k, v) {
        const ctrl_podfacts_t *f = podindex_facts (v);
        if (f && f->pod)
            json_array_append (out, (json_t *) f->pod);
    }
}

static void
action_done (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    ctl_t *c = self;
    done_t *d = arg;
    int64_t now = troupe_now_ms ();
    if (reply->code == TR_OK) {
        if (d->verb == TR_VERB_CREATE && !strcmp (d->kind, "Pod") && d->obj) {
            char msg[400];
            snprintf (msg, sizeof msg, "Created pod: %s", tv_str (reply->body, "metadata.name"));
            tr_record (c->rec, ctx, ctrl_event (d->obj, "Normal", "SuccessfulCreate", msg, "replicaset-controller", now));
        }
    } else if (reply->code != TR_NOT_FOUND || d->verb != TR_VERB_DELETE) {
        if (d->verb == TR_VERB_CREATE && !strcmp (d->kind, "Pod")) {
            /* one expected creation will never be observed */
            json_t *e = json_object_get (c->expect, d->key);
            if (e)
                json_object_set_new (e, "want", json_integer (tv_int (e, "want", 1) - 1));
        }
        if (reply->code != TR_CONFLICT && reply->code != TR_ALREADY_EXISTS)
            TR_WARN (A, "%s %s for %s failed code=%s msg=\"%s\"", tr_verb_name (d->verb), d->kind, d->key,
                     tr_code_name (reply->code), reply->msg ? reply->msg : "");
        d->sync->failed = 1;
        if (d->sync->queue == 'g' && d->verb == TR_VERB_DELETE && gc_delete_failed (reply->code))
            c->gc_full = 1; /* the collector's (or the node lifecycle's) delete failed: the next pass
                               looks at everything again, as the pass every 2 s did */
        if (d->sync->queue == 'i' && d->verb == TR_VERB_PATCH)
            nodeipam_failed (&c->ipam, d->key); /* its subnet is free again; retried next round */
    }
    if (d->slow) {
        rs_slowstart_result (&d->slow->st, reply->code == TR_OK);
        if (!d->slow->st.inflight)
            slow_send (c, ctx, d->sync, d->slow, d->obj, d->key); /* the next batch, or the end */
    }
    if (--d->sync->pending == 0)
        sync_end (c, ctx, d->sync);
    json_decref (d->obj);
    free (d);
}

/* Sends the slow-start's next batch; at its end, lowers the expectations by the creations it
 * skipped and releases its hold on the sync. */
static void
slow_send (ctl_t *c, troupe_ctx_t *ctx, sync_t *sync, slow_t *slow, const json_t *owner, const char *key)
{
    int n = rs_slowstart_next (&slow->st);
    for (int k = 0; k < n; k++) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_CREATE;
        strcpy (req.kind, "Pod");
        snprintf (req.ns, sizeof req.ns, "%s", slow->ns);
        req.body = json_incref (json_array_get (slow->bodies, (size_t) (slow->st.sent - n + k)));
        done_t *d = calloc (1, sizeof *d);
        d->c = c;
        d->sync = sync;
        snprintf (d->key, sizeof d->key, "%s", key);
        d->verb = TR_VERB_CREATE;
        strcpy (d->kind, "Pod");
        d->obj = owner ? json_incref ((json_t *) owner) : NULL;
        d->slow = slow;
        sync->pending++;
        if (troupe_request (ctx, &req, action_done, d)) { /* not queued: counts as a failure */
            sync->pending--;
            sync->failed = 1;
            json_t *e = json_object_get (c->expect, key);
            if (e)
                json_object_set_new (e, "want", json_integer (tv_int (e, "want", 1) - 1));
            rs_slowstart_result (&slow->st, 0);
            json_decref (d->obj);
            free (d);
        }
        tr_env_clear (&req);
    }
    if (!rs_slowstart_finished (&slow->st))
        return;
    int skipped = rs_slowstart_skipped (&slow->st);
    if (skipped) {
        json_t *e = json_object_get (c->expect, key);
        if (e)
            json_object_set_new (e, "want", json_integer (tv_int (e, "want", 0) - skipped));
        TR_WARN (A, "replicaset %s: %d pod creations skipped after a failed batch", key, skipped);
        sync->failed = 1;
    }
    json_decref (slow->bodies);
    free (slow);
    if (--sync->pending == 0)
        sync_end (c, ctx, sync);
}

static void
send_actions (ctl_t *c, troupe_ctx_t *ctx, ctrl_actions_t *acts, char queue, const char *key, const json_t *owner)
{
    slow_t *slow = NULL;
    sync_t *sync = calloc (1, sizeof *sync);
    sync->queue = queue;
    snprintf (sync->key, sizeof sync->key, "%s", key);
    sync->pending = 1; /* held until every request below is sent */
    for (size_t i = 0; i < acts->n; i++) {
        ctrl_action_t *a = &acts->v[i];
        if (queue == 'r' && a->verb == TR_VERB_CREATE && !strcmp (a->kind, "Pod")) {
            if (!slow) {
                slow = calloc (1, sizeof *slow);
                slow->bodies = json_array ();
                snprintf (slow->ns, sizeof slow->ns, "%s", a->ns);
            }
            json_array_append_new (slow->bodies, a->body);
            a->body = NULL;
            continue;
        }
        tr_env_t req;
        tr_env_init (&req);
        req.verb = a->verb;
        snprintf (req.kind, sizeof req.kind, "%s", a->kind);
        snprintf (req.ns, sizeof req.ns, "%s", a->ns);
        snprintf (req.name, sizeof req.name, "%s", a->name);
        req.rv = a->rv;
        req.body = a->body;
        a->body = NULL;
        req.opts = a->opts;
        a->opts = NULL;
        done_t *d = calloc (1, sizeof *d);
        d->c = c;
        d->sync = sync;
        snprintf (d->key, sizeof d->key, "%s", key);
        d->verb = a->verb;
        snprintf (d->kind, sizeof d->kind, "%s", a->kind);
        d->obj = owner ? json_incref ((json_t *) owner) : NULL;
        if (!strcmp (a->kind, "Event")) { /* fire and forget: d is not needed, nor its owner reference */
            tr_record (c->rec, ctx, req.body);
            req.body = NULL;
            json_decref (d->obj);
            free (d);
        } else {
            sync->pending++;
            if (troupe_request (ctx, &req, action_done, d)) { /* not queued: no answer will come */
                sync->pending--;
                sync->failed = 1;
                json_decref (d->obj);
                free (d);
            }
        }
        tr_env_clear (&req);
    }
    if (slow) {
        rs_slowstart_init (&slow->st, (int) json_array_size (slow->bodies));
        sync->pending++; /* held by the slow start until its last batch is answered */
        slow_send (c, ctx, sync, slow, owner, key);
    }
    if (--sync->pending == 0)
        sync_end (c, ctx, sync);
}

static void
sync_rs (ctl_t *c, troupe_ctx_t *ctx, const char *key)
{
    char ns[254], name[254];
    const char *slash = strchr (key, '/');
    if (!slash)
        return;
    snprintf (ns, sizeof ns, "%.*s", (int) (slash - key), key);
    snprintf (name, sizeof name, "%s", slash + 1);
    const json_t *rs = troupe_informer_get (c->rss, ns, name);
    if (!rs) {
        json_object_del (c->expect, key);
        return;
    }
    /* its own pods and the namespace's orphans: what rs_reconcile can act on (others' are skipped),
     * their facts as the index keeps them */
    ctrl_podfacts_t **pods = NULL;
    size_t npods = 0, cap = 0;
    podindex_gather (podindex_owned (&c->pidx, tv_str (rs, "metadata.uid")), &pods, &npods, &cap);
    podindex_gather (podindex_orphans (&c->pidx, ns), &pods, &npods, &cap);
    json_t *e = json_object_get (c->expect, key);
    rs_expect_t exp = {0};
    if (e) {
        exp.active = (int) tv_int (e, "active", 0);
        exp.want = (int) tv_int (e, "want", 0);
        exp.up = (int) tv_int (e, "up", 0);
        exp.deadline = tv_int (e, "deadline", 0);
    }
    ctrl_actions_t acts = {0};
    int64_t now = troupe_now_ms ();
    rs_reconcile_facts (rs, pods, npods, &exp, now, &acts);
    json_object_set_new (c->expect, key, json_pack ("{s:i,s:i,s:i,s:I}", "active", exp.active, "want", exp.want, "up",
                                                    exp.up, "deadline", (json_int_t) exp.deadline));
    if (exp.active)
        workqueue_add_after (c->rsq, key, exp.deadline - now + 10, troupe_mono_ms ()); /* re-check at expiry */
    send_actions (c, ctx, &acts, 'r', key, rs);
    ctrl_actions_clear (&acts);
    free (pods);
}

static void
sync_deploy (ctl_t *c, troupe_ctx_t *ctx, const char *key)
{
    char ns[254], name[254];
    const char *slash = strchr (key, '/');
    if (!slash)
        return;
    snprintf (ns, sizeof ns, "%.*s", (int) (slash - key), key);
    snprintf (name, sizeof name, "%s", slash + 1);
    const json_t *d = troupe_informer_get (c->deploys, ns, name);
    if (!d)
        return;
    json_t *rss = list_ns (c->rss, ns);
    ctrl_podfacts_t **pods = NULL;
    size_t npods = 0, cap = 0, i;
    json_t *rs;
    json_array_foreach (rss, i, rs) /* deploy_reconcile counts the pods of each ReplicaSet */
        podindex_gather (podindex_owned (&c->pidx, tv_str (rs, "metadata.uid")), &pods, &npods, &cap);
    ctrl_actions_t acts = {0};
    deploy_reconcile_facts (d, rss, (const ctrl_podfacts_t *const *) pods, npods, troupe_now_ms (), &acts);
    send_actions (c, ctx, &acts, 'd', key, d);
    ctrl_actions_clear (&acts);
    json_decref (rss);
    free (pods);
}

/* disruption_get_fn over the informers: the ReplicaSets and Deployments a budget's pods belong to */
static const json_t *
get_controller (void *arg, const char *kind, const char *ns, const char *name)
{
    ctl_t *c = arg;
    troupe_informer_t *inf = !strcmp (kind, "ReplicaSet") ? c->rss : !strcmp (kind, "Deployment") ? c->deploys : NULL;
    return inf ? troupe_informer_get (inf, ns, name) : NULL;
}

/* pdbindex_pod_fn over the pod informer */
static const json_t *
get_pod (void *arg, const char *ns, const char *name)
{
    return troupe_informer_get (((ctl_t *) arg)->pods, ns, name);
}

/* One budget: its status computed from the pods it selects among its namespace's (disruption.h;
 * the namespace's pods from podindex, matched by the budget's cached selector, pdbindex.h), written with its
 * resourceVersion when it changed (the Eviction API writes it too: a conflict is retried with
 * back-off); re-checked when a disruptedPods entry expires; a failed sync retried with back-off. */
static void
sync_pdb (ctl_t *c, troupe_ctx_t *ctx, const char *key)
{
    char ns[254], name[254];
    const char *slash = strchr (key, '/');
    if (!slash)
        return;
    snprintf (ns, sizeof ns, "%.*s", (int) (slash - key), key);
    snprintf (name, sizeof name, "%s", slash + 1);
    const json_t *pdb = troupe_informer_get (c->pdbs, ns, name);
    if (!pdb)
        return;
    pdbindex_put (&c->bidx, pdb); /* the selector of this very version (no-op when unchanged) */
    json_t *pods = pdbindex_select_pods (&c->bidx, ns, name, podindex_ns (&c->pidx, ns), get_pod, c);
    int64_t now = troupe_now_ms ();
    disruption_result_t r;
    disruption_sync (pdb, pods, get_controller, c, now, &r);
    json_decref (pods);
    if (r.unmanaged) {
        /* Kubernetes' Warning, once per sync (the recorder aggregates the repeats) */
        char *sel = json_dumps (tv_get (pdb, "spec.selector"), JSON_COMPACT | JSON_SORT_KEYS);
        char msg[1024];
        snprintf (msg, sizeof msg,
                  "Pods selected by this PodDisruptionBudget (selector: %s) were found to be unmanaged. As a result, "
                  "the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To "
                  "account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                  sel ? sel : "null");
        free (sel);
        tr_record (c->rec, ctx, ctrl_event (pdb, "Warning", "UnmanagedPods", msg, "disruption-controller", now));
    }
    if (r.failed) {
        TR_WARN (A, "disruption: budget %s: sync failed: %s", key, r.message);
        workqueue_add_rate_limited (c->pdbq, key, troupe_mono_ms ());
    } else if (r.recheck_ms >= 0)
        workqueue_add_after (c->pdbq, key, r.recheck_ms - now + 10, troupe_mono_ms ());
    if (!r.status) {
        if (!r.failed)
            workqueue_forget (c->pdbq, key);
        return;
    }
    ctrl_actions_t acts = {0};
    ctrl_actions_add (&acts, TR_VERB_UPDATE_STATUS, "PodDisruptionBudget", ns, name, ctrl_rv (pdb),
                      json_pack ("{s:o}", "status", r.status), name);
    send_actions (c, ctx, &acts, r.failed ? 'g' : 'p', key, NULL);
    ctrl_actions_clear (&acts);
}

static void
add_name (void *arg, const json_t *o)
{
    const char *n = tv_str (o, "metadata.name");
    if (n)
        json_object_set_new ((json_t *) arg, n, json_true ());
}

static void
sync_svc (ctl_t *c, troupe_ctx_t *ctx, const char *key)
{
    char ns[254], name[254];
    const char *slash = strchr (key, '/');
    if (!slash)
        return;
    snprintf (ns, sizeof ns, "%.*s", (int) (slash - key), key);
    snprintf (name, sizeof name, "%s", slash + 1);
    const json_t *svc = troupe_informer_get (c->svcs, ns, name);
    if (!svc)
        return; /* its slices go with it (garbage collector) */
    json_t *pods = json_array (), *slices = list_ns (c->slices, ns), *nodes = NULL;
    add_indexed (pods, podindex_ns (&c->pidx, ns)); /* the namespace's pods, not a walk of all */
    if (troupe_informer_synced (c->nodes)) {
        nodes = json_object ();
        troupe_informer_foreach (c->nodes, add_name, nodes);
    }
    ctrl_actions_t acts = {0};
    eps_reconcile (svc, pods, slices, nodes, &acts);
    send_actions (c, ctx, &acts, 's', key, svc);
    ctrl_actions_clear (&acts);
    json_decref (pods);
    json_decref (slices);
    json_decref (nodes);
}

static void
add_uid (void *arg, const json_t *o)
{
    const char *uid = tv_str (o, "metadata.uid");
    if (uid)
        json_object_set_new ((json_t *) arg, uid, json_true ());
}

typedef struct {
    const json_t *live;
    const char *const *kinds;
    ctrl_actions_t *acts;
} gcpass_t;

static void
gc_one (void *arg, const json_t *o)
{
    gcpass_t *g = arg;
    gc_collect_one (o, g->live, g->kinds, g->acts);
}

/* The collector's pass: every dependent when an owner went (and once a minute, in case a watch
 * missed it), else only those come or re-owned since the last pass; nothing when neither. */
static void
run_gc (ctl_t *c, troupe_ctx_t *ctx)
{
    if (!troupe_informer_synced (c->deploys) || !troupe_informer_synced (c->rss) || !troupe_informer_synced (c->pods))
        return;
    int64_t now = troupe_mono_ms ();
    int full = c->gc_full || !c->gc_full_ms || now - c->gc_full_ms >= GC_FULL_MS;
    if (!full && !json_object_size (c->gc_check))
        return;
    json_t *live = json_object ();
    troupe_informer_foreach (c->deploys, add_uid, live);
    troupe_informer_foreach (c->rss, add_uid, live);
    int svcs = troupe_informer_synced (c->svcs) && troupe_informer_synced (c->slices);
    if (svcs)
        troupe_informer_foreach (c->svcs, add_uid, live);
    static const char *const kinds[] = {"Deployment", "ReplicaSet", NULL};
    static const char *const svc_kinds[] = {"Service", NULL};
    ctrl_actions_t acts = {0};
    gcpass_t g = {live, kinds, &acts}, gs = {live, svc_kinds, &acts};
    json_t *keep = json_object (); /* slices to look at once the Services are known */
    if (full) {
        troupe_informer_foreach (c->rss, gc_one, &g);
        troupe_informer_foreach (c->pods, gc_one, &g);
        if (svcs)
            troupe_informer_foreach (c->slices, gc_one, &gs);
        c->gc_full = !svcs; /* the slices' pass waits for the Services */
        c->gc_full_ms = now;
    } else {
        const char *k;
        json_t *v;
        json_object_foreach (c->gc_check, k, v) {
            const char *slash = strchr (k + 1, '/');
            if (!slash)
                continue;
            char ns[254];
            snprintf (ns, sizeof ns, "%.*s", (int) (slash - k - 1), k + 1);
            troupe_informer_t *inf = k[0] == 'P' ? c->pods : k[0] == 'R' ? c->rss : c->slices;
            if (k[0] == 'S' && !svcs) {
                json_object_set (keep, k, v);
                continue;
            }
            const json_t *o = troupe_informer_get (inf, ns, slash + 1);
            if (o)
                gc_one (k[0] == 'S' ? &gs : &g, o);
        }
    }
    json_decref (c->gc_check);
    c->gc_check = keep;
    for (size_t i = 0; i < acts.n; i++)
        TR_INFO (A, "garbage-collecting %s %s/%s (owner gone)", acts.v[i].kind, acts.v[i].ns, acts.v[i].name);
    send_actions (c, ctx, &acts, 'g', "", NULL);
    ctrl_actions_clear (&acts);
    json_decref (live);
}

typedef struct {
    ctl_t *c;
    troupe_ctx_t *ctx;
    json_t *by_node; /* node → [pods], for the nodes whose pods the round reads only */
    int64_t now_ms;  /* one reading for the round: a node judged past its grace period has its pods */
} nodes_t;

static void
want_pods (void *arg, const json_t *node)
{
    nodes_t *n = arg;
    const char *name = tv_str (node, "metadata.name");
    if (name && nodelife_wants_pods (node, troupe_informer_get (n->c->leases, "kube-node-lease", name), n->now_ms,
                                     n->c->started_ms, n->c->grace_ms))
        json_object_set_new (n->by_node, name, json_array ());
}

static void
group_pod (void *arg, const json_t *pod)
{
    nodes_t *n = arg;
    const char *node = tv_str (pod, "spec.nodeName");
    json_t *list = node && *node ? json_object_get (n->by_node, node) : NULL;
    if (list)
        json_array_append (list, (json_t *) pod);
}

static void
check_node (void *arg, const json_t *node)
{
    nodes_t *n = arg;
    const char *name = tv_str (node, "metadata.name");
    if (!name)
        return;
    ctrl_actions_t acts = {0};
    nodelife_reconcile (node, troupe_informer_get (n->c->leases, "kube-node-lease", name),
                        json_object_get (n->by_node, name), n->now_ms, n->c->started_ms, n->c->grace_ms,
                        n->c->evict_ms, &acts);
    for (size_t i = 0; i < acts.n; i++)
        if (acts.v[i].verb != TR_VERB_CREATE)
            TR_INFO (A, "node lifecycle: %s %s %s/%s", tr_verb_name (acts.v[i].verb), acts.v[i].kind, acts.v[i].ns,
                     acts.v[i].name);
    send_actions (n->c, n->ctx, &acts, 'g', "", NULL);
    ctrl_actions_clear (&acts);
}

static void
run_nodes (ctl_t *c, troupe_ctx_t *ctx)
{
    if (!troupe_informer_synced (c->nodes) || !troupe_informer_synced (c->leases) || !troupe_informer_synced (c->pods))
        return;
    nodes_t n = {c, ctx, json_object (), troupe_now_ms ()};
    troupe_informer_foreach (c->nodes, want_pods, &n);
    if (json_object_size (n.by_node))
        troupe_informer_foreach (c->pods, group_pod, &n);
    troupe_informer_foreach (c->nodes, check_node, &n);
    json_decref (n.by_node);
}

/* Node IPAM: a round over every Node (nodeipam.h), each PATCH keyed by its node's name. */
static void
run_ipam (ctl_t *c, troupe_ctx_t *ctx)
{
    if (!c->ipam_on || !troupe_informer_synced (c->nodes) || (!c->ipam_all && !json_object_size (c->ipam_want)))
        return;
    c->ipam_all = 0;
    json_t *nodes = list_ns (c->nodes, NULL);
    ctrl_actions_t acts = {0};
    nodeipam_reconcile (&c->ipam, nodes, troupe_now_ms (), &acts);
    for (size_t i = 0; i < acts.n; i++) {
        ctrl_actions_t one = {&acts.v[i], 1, 1};
        if (acts.v[i].verb == TR_VERB_PATCH)
            TR_INFO (A, "node ipam: node %s gets podCIDR %s", acts.v[i].name, tv_str (acts.v[i].body, "spec.podCIDR"));
        else
            TR_WARN (A, "node ipam: no pod CIDR left for node %s", acts.v[i].owner);
        send_actions (c, ctx, &one, 'i', acts.v[i].owner, NULL);
    }
    ctrl_actions_clear (&acts);
    json_decref (nodes);
}

/* A node came or changed: IPAM's round soon if it has no podCIDR. */
static void
ipam_note (ctl_t *c, troupe_ctx_t *ctx, const json_t *node)
{
    const char *name = tv_str (node, "metadata.name");
    if (!name || !c->ipam_on)
        return;
    if (!nodeipam_wants (node)) {
        json_object_del (c->ipam_want, name);
        return;
    }
    json_object_set_new (c->ipam_want, name, json_true ());
    troupe_timer_within (ctx, T_IPAM, 10);
}

/* a node came: its CIDR (node IPAM), its pods' endpoints */
static void
node_added (void *self, troupe_ctx_t *ctx, const json_t *node)
{
    ipam_note (self, ctx, node);
    endpoints_node_changed (self, ctx, node);
}

/* a node went: its subnet is free for one waiting; its pods' endpoints */
static void
node_deleted (void *self, troupe_ctx_t *ctx, const json_t *node)
{
    ctl_t *c = self;
    const char *name = tv_str (node, "metadata.name");
    if (name)
        json_object_del (c->ipam_want, name);
    if (json_object_size (c->ipam_want))
        troupe_timer_within (ctx, T_IPAM, 10);
    endpoints_node_changed (self, ctx, node);
}

static void
node_updated (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *node)
{
    (void) old;
    ipam_note (self, ctx, node);
}

static void
nodes_synced (void *self, troupe_ctx_t *ctx)
{
    ((ctl_t *) self)->ipam_all = 1; /* the first round looks at every Node */
    troupe_timer_within (ctx, T_IPAM, 10);
    arm (ctx);
}

static void
drain (ctl_t *c, troupe_ctx_t *ctx)
{
    if (!troupe_informer_synced (c->deploys) || !troupe_informer_synced (c->rss) || !troupe_informer_synced (c->pods))
        return;
    char key[600];
    int64_t now = troupe_mono_ms ();
    for (int i = 0; i < 256 && workqueue_pop (c->dq, now, key, sizeof key) == 0; i++)
        sync_deploy (c, ctx, key);
    for (int i = 0; i < 256 && workqueue_pop (c->rsq, now, key, sizeof key) == 0; i++)
        sync_rs (c, ctx, key);
    int svcs = troupe_informer_synced (c->svcs) && troupe_informer_synced (c->slices);
    for (int i = 0; svcs && i < 256 && workqueue_pop (c->svcq, now, key, sizeof key) == 0; i++)
        sync_svc (c, ctx, key);
    int pdbs = troupe_informer_synced (c->pdbs) && troupe_informer_synced (c->deploys);
    for (int i = 0; pdbs && i < 256 && workqueue_pop (c->pdbq, now, key, sizeof key) == 0; i++)
        sync_pdb (c, ctx, key);
    int64_t a = workqueue_next_in (c->dq, now), b = workqueue_next_in (c->rsq, now);
    int64_t next = a < 0 ? b : b < 0 ? a : a < b ? a : b;
    int64_t s = svcs ? workqueue_next_in (c->svcq, now) : -1;
    next = next < 0 ? s : s < 0 ? next : next < s ? next : s;
    int64_t p = pdbs ? workqueue_next_in (c->pdbq, now) : -1;
    next = next < 0 ? p : p < 0 ? next : next < p ? next : p;
    if (next >= 0)
        troupe_timer_within (ctx, T_DRAIN, (int) (next < 10 ? 10 : next > 60000 ? 60000 : next));
}

static void
enqueue_all (void *arg, const json_t *o)
{
    void **a = arg;
    char k[600];
    key_of (o, k, sizeof k);
    workqueue_add ((workqueue_t *) a[0], k);
}

static int
ctl_timer (void *self, troupe_ctx_t *ctx, int id)
{
    ctl_t *c = self;
    if (id == T_DRAIN)
        drain (c, ctx);
    else if (id == T_RESYNC) {
        void *a[1] = {c->dq};
        troupe_informer_foreach (c->deploys, enqueue_all, a);
        a[0] = c->rsq;
        troupe_informer_foreach (c->rss, enqueue_all, a);
        a[0] = c->svcq;
        troupe_informer_foreach (c->svcs, enqueue_all, a);
        a[0] = c->pdbq;
        troupe_informer_foreach (c->pdbs, enqueue_all, a);
        arm (ctx);
    } else if (id == T_GC)
        run_gc (c, ctx);
    else if (id == T_NODES) {
        run_nodes (c, ctx);
        run_ipam (c, ctx); /* a failed patch or a full range is retried at this period */
    } else if (id == T_IPAM)
        run_ipam (c, ctx);
    return 0;
}

static void *
ctl_create (troupe_ctx_t *ctx, const json_t *config)
{
    ctl_t *c = calloc (1, sizeof *c);
    /* Kubernetes' kube-controller-manager flags, in seconds */
    c->grace_ms = tv_int (config, "nodeMonitorGracePeriodSeconds", NODELIFE_GRACE_MS / 1000) * 1000;
    c->evict_ms = tv_int (config, "podEvictionTimeoutSeconds", NODELIFE_EVICT_MS / 1000) * 1000;
    c->started_ms = troupe_now_ms ();
    /* kube-controller-manager's --cluster-cidr and --node-cidr-mask-size (cmd_cluster.c checks them) */
    char err[300];
    const char *cidr = tv_str (config, "clusterCIDR") ? tv_str (config, "clusterCIDR") : NODEIPAM_CLUSTER_CIDR;
    if (nodeipam_init (&c->ipam, cidr, (int) tv_int (config, "nodeCIDRMaskSize", NODEIPAM_MASK), err, sizeof err))
        TR_ERROR (A, "node ipam off: %s", err);
    else
        c->ipam_on = 1;
    c->rsq = workqueue_new ();
    c->dq = workqueue_new ();
    c->svcq = workqueue_new ();
    c->pdbq = workqueue_new ();
    c->expect = json_object ();
    c->gc_check = json_object ();
    c->ipam_want = json_object ();
    c->gc_full = 1; /* the first pass, once the informers have synced, looks at everything */
    podindex_init (&c->pidx);
    pdbindex_init (&c->bidx);
    c->rec = tr_recorder_new ();
    troupe_handlers_t dh = {d_added, d_updated, d_deleted, synced};
    troupe_handlers_t rh = {rs_added, rs_updated, rs_deleted, synced};
    troupe_handlers_t ph = {pod_added, pod_updated, pod_deleted, synced};
    c->deploys = troupe_watch (ctx, "Deployment", NULL, NULL, &dh);
    c->rss = troupe_watch (ctx, "ReplicaSet", NULL, NULL, &rh);
    c->pods = troupe_watch (ctx, "Pod", NULL, NULL, &ph);
    /* What the controllers read of a pod (ReplicaSet ranking, garbage collection by owner,
     * EndpointSlices: named ports, addresses, readiness; node lifecycle: tolerations, conditions;
     * disruption: labels, readiness): containers' images, commands, resources, volumes and
     * container statuses are never decoded nor held. A controller that reads another pod field
     * adds it here. */
    static const char *const pod_fields[] = {"metadata", "spec.nodeName", "spec.tolerations", "spec.containers.name",
                                              "spec.containers.ports", "spec.hostname", "spec.subdomain",
                                              "status.phase", "status.conditions", "status.podIP", "status.podIPs",
                                              "status.startTime"};
    troupe_informer_set_fields (c->pods, pod_fields, sizeof pod_fields / sizeof pod_fields[0]);
    troupe_handlers_t none = {0};
    troupe_handlers_t sh = {svc_changed, svc_updated, svc_deleted, synced};
    troupe_handlers_t eh = {slice_added, slice_updated, slice_changed, synced};
    troupe_handlers_t nh = {node_added, node_updated, node_deleted, nodes_synced};
    c->svcs = troupe_watch (ctx, "Service", NULL, NULL, &sh);
    c->slices = troupe_watch (ctx, "EndpointSlice", NULL, NULL, &eh);
    c->nodes = troupe_watch (ctx, "Node", NULL, NULL, &nh);
    troupe_handlers_t bh = {pdb_added, pdb_updated, pdb_deleted, synced};
    c->pdbs = troupe_watch (ctx, "PodDisruptionBudget", NULL, NULL, &bh);
    c->leases = troupe_watch (ctx, "Lease", NULL, "metadata.namespace=kube-node-lease", &none);
    troupe_timer (ctx, T_NODES, 5000, 1);
    troupe_timer (ctx, T_RESYNC, 30000, 1);
    troupe_timer (ctx, T_GC, 2000, 1);
    return c;
}

static void
ctl_destroy (void **p)
{
    ctl_t *c = *p;
    if (!c)
        return;
    workqueue_destroy (&c->rsq);
    workqueue_destroy (&c->dq);
    workqueue_destroy (&c->svcq);
    workqueue_destroy (&c->pdbq);
    json_decref (c->expect);
    json_decref (c->gc_check);
    json_decref (c->ipam_want);
    podindex_destroy (&c->pidx);
    pdbindex_destroy (&c->bidx);
    tr_recorder_destroy (&c->rec);
    nodeipam_clear (&c->ipam);
    free (c);
    *p = NULL;
}

static const troupe_actor_t def = {TROUPE_ACTOR_ABI, "controllers", ctl_create, NULL, ctl_timer, ctl_destroy};

const troupe_actor_t *
controllers_actor (void)
{
    return &def;
}
