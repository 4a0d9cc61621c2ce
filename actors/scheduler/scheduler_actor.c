/* scheduler_actor — see scheduler_actor.h. */
#include "actors/scheduler/scheduler_actor.h"
#include "actors/scheduler/bindverdict.h"
#include "actors/scheduler/defaultsel.h"
#include "actors/scheduler/framework.h"
#include "actors/scheduler/nomfollow.h"
#include "actors/scheduler/pdblister.h"
#include "actors/scheduler/profile.h"
#include "actors/scheduler/sched_queue.h"
#include "actors/scheduler/snapshot.h"
#include "core/strcopy.h"
#include "core/eventrec.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A "scheduler"
#define T_RUN 1
#define T_FLUSH 2
#define TICK_BUDGET_MS 20
#define SCHED_WINDOW 480 /* requests in flight to the broker (troupe_set_window's most) */

typedef struct {
    fw_profile_t *prof;
    sched_queue_t *q;
} slot_t;

typedef struct {
    troupe_ctx_t *ctx;
    sched_snap_t *snap;
    troupe_informer_t *pods, *nodes, *nss;
    json_t *ns_labels; /* Namespace name → metadata.labels (host->namespace_labels) */
    troupe_informer_t *svcs, *rss; /* selectors for host->default_selector (dsel_watch) */
    defaultsel_t *dsel;
    troupe_informer_t *pdbinf; /* PodDisruptionBudgets for host->pdbs (DefaultPreemption) */
    pdblister_t *pdbl;
    sched_config_t cfg;
    slot_t slots[16];
    size_t nslots;
    size_t next_slot;
    json_t *pending;   /* uid → tr_sched_pod_t * (ours): pending pods of one of our profiles */
    json_t *reported;  /* uid → the last FitError reported */
    json_t *binding;   /* uid → true while its binding is in flight */
    /* the nominator: pending pods nominated to a node by a preemption (ours, or read from
     * status.nominatedNodeName), uid → node and node → {uid: true} */
    json_t *nom, *nom_by_node;
    uint64_t nom_version; /* bumped when a nomination, a nominated pod or the set of nodes changes */
    fw_nomindex_t *nomix; /* the same nominations, the framework's index of them, kept by deltas */
    json_t *evicting; /* uid → true: victims whose delete we sent, until they are gone */
    json_t *nom_wrote; /* uid → the status.nominatedNodeName we last wrote ("" a clear) until an
                        * update carries it back (actors/scheduler/nomfollow.h) */
    tr_recorder_t *rec; /* our Events, aggregated and rate limited (core/eventrec.h) */
    /* Scheduled Events, best effort as Kubernetes' event broadcaster (a queue of 1,000 that
     * drops when full): written when no pod waits to be scheduled and no binding is in flight,
     * so they never compete with a burst of bindings for the broker */
    json_t *scheduled_evs;
    long scheduled_dropped;
    int armed;
} sch_t;

#define SCHEDULED_EVENTS_QUEUE 1000
#define SCHEDULED_EVENTS_PER_TICK 100

static void *
ptr_of (const json_t *v)
{
    return v ? (void *) (intptr_t) json_integer_value (v) : NULL;
}

static slot_t *
slot_for (sch_t *s, const json_t *pod)
{
    const char *sn = tv_str (pod, "spec.schedulerName");
    if (!sn || !*sn)
        sn = "default-scheduler";
    for (size_t i = 0; i < s->nslots; i++)
        if (!strcmp (fw_profile_name (s->slots[i].prof), sn))
            return &s->slots[i];
    return NULL; /* not ours: kube-scheduler ignores pods of an unknown schedulerName */
}

static int
is_pending (const json_t *pod)
{
    const char *node = tv_str (pod, "spec.nodeName");
    return (!node || !*node) && !tv_get (pod, "metadata.deletionTimestamp");
}

static int
terminal (const json_t *pod)
{
    const char *ph = tv_str (pod, "status.phase");
    return ph && (!strcmp (ph, "Succeeded") || !strcmp (ph, "Failed"));
}

static void
arm (sch_t *s, int ms)
{
    troupe_timer_within (s->ctx, T_RUN, ms);
}

static void
event (sch_t *s, uint32_t mask)
{
    int64_t now = troupe_now_ms ();
    size_t moved = 0;
    for (uint32_t bit = 1; bit && mask; bit <<= 1)
        if (mask & bit) {
            mask &= ~bit;
            for (size_t i = 0; i < s->nslots; i++)
                moved += sq_move_on_event (s->slots[i].q, bit, now);
        }
    if (moved)
        arm (s, 5);
}

/* ---- the nominator ------------------------------------------------------------------------ */

/* The nominator keeps its own copy of each nominated pod (what Filter counts on the node: its
 * requests, labels, priority), so that the pending pod's object changing (the echo of our own
 * status patch) does not change the nominations' version: the framework's index of them stays. */
static void
unnominate (sch_t *s, const char *uid_in)
{
    const char *node = json_string_value (json_object_get (s->nom, uid_in));
    if (!node)
        return;
    char uid[128]; /* uid_in may be a key of the set it is removed from */
    snprintf (uid, sizeof uid, "%s", uid_in);
    json_t *set = json_object_get (s->nom_by_node, node);
    tr_sched_pod_t *copy = ptr_of (json_object_get (set, uid));
    fw_nomindex_remove (s->nomix, copy);
    snap_pod_free (copy);
    json_object_del (set, uid);
    if (set && !json_object_size (set))
        json_object_del (s->nom_by_node, node);
    json_object_del (s->nom, uid);
    s->nom_version++;
}

static void
nominate (sch_t *s, const json_t *pod, const char *node)
{
    const char *uid = tv_str (pod, "metadata.uid");
    if (!uid)
        return;
    const char *was = json_string_value (json_object_get (s->nom, uid));
    if (was && !strcmp (was, node))
        return;
    tr_sched_pod_t *copy = snap_pod_new (pod);
    if (!copy)
        return;
    unnominate (s, uid);
    s->nom_version++;
    json_object_set_new (s->nom, uid, json_string (node));
    json_t *set = json_object_get (s->nom_by_node, node);
    if (!set) {
        set = json_object ();
        json_object_set_new (s->nom_by_node, node, set);
    }
    json_object_set_new (set, uid, json_integer ((json_int_t) (intptr_t) copy));
    if (fw_nomindex_add (s->nomix, node, copy))
        TR_WARN (A, "pod %s: its nomination to %s is not in the index (out of memory)", uid, node);
}

/* A nominated pod's object changed in what Filter reads (spec, labels): its copy follows. */
static void
renominate (sch_t *s, const json_t *pod)
{
    const char *uid = tv_str (pod, "metadata.uid");
    const char *node = uid ? json_string_value (json_object_get (s->nom, uid)) : NULL;
    if (!node)
        return;
    char on[254];
    snprintf (on, sizeof on, "%s", node);
    unnominate (s, uid);
    nominate (s, pod, on);
}

static size_t
nom_pods (void *arg, const char *node, const tr_sched_pod_t **out, size_t max)
{
    sch_t *s = arg;
    if (!json_object_size (s->nom_by_node)) /* the common case: asked for each node filtered */
        return 0;
    json_t *set = json_object_get (s->nom_by_node, node);
    const char *uid;
    json_t *v;
    size_t n = 0;
    json_object_foreach (set, uid, v) {
        if (n < max)
            out[n++] = ptr_of (v);
    }
    return n;
}

static void
nom_each (void *arg, void (*fn) (void *ctx, const char *node, const tr_sched_pod_t *pod), void *ctx)
{
    sch_t *s = arg;
    const char *node, *uid;
    json_t *set, *v;
    json_object_foreach (s->nom_by_node, node, set) {
        json_object_foreach (set, uid, v)
            fn (ctx, node, ptr_of (v));
    }
}

static const char *
nom_node (void *arg, const tr_sched_pod_t *pod)
{
    return json_string_value (json_object_get (((sch_t *) arg)->nom, pod->uid));
}

static int
nom_terminating (void *arg, const tr_sched_pod_t *pod)
{
    return json_object_get (((sch_t *) arg)->evicting, pod->uid) != NULL;
}

/* Drops a pending pod from its queue and frees it. */
static void
unpend (sch_t *s, const char *uid, const json_t *obj)
{
    tr_sched_pod_t *p = ptr_of (json_object_get (s->pending, uid));
    if (!p)
        return;
    slot_t *sl = slot_for (s, p->obj);
    (void) obj;
    if (sl)
        sq_delete (sl->q, uid);
    json_object_del (s->pending, uid);
    snap_pod_free (p);
}

static void
track (sch_t *s, const json_t *old, const json_t *pod)
{
    const char *uid = tv_str (pod, "metadata.uid");
    if (!uid)
        return;
    const char *node = tv_str (pod, "spec.nodeName");
    if (node && *node) {
        unpend (s, uid, pod);
        unnominate (s, uid);
        json_object_del (s->nom_wrote, uid);
        json_object_del (s->reported, uid);
        json_object_del (s->binding, uid);
        /* a victim stays "evicting" until it is gone (on_pod_delete), not only until its
         * deletionTimestamp shows: PodEligibleToPreemptOthers asks for the DisruptionTarget
         * condition too, which our status patch may bring after the delete (a write retried
         * behind it); without it the preemptor looked eligible, preempted again elsewhere and
         * left its first room to whoever came (more victims than preemptors, and in the
         * Preemption workload, where there are exactly as many, pods Pending for good) */
        if (terminal (pod)) { /* as kube-scheduler's informer: terminal pods take no room */
            if (snap_pod_delete (s->snap, uid))
                event (s, TR_SCHED_EV_POD_DELETE);
        } else
            event (s, snap_pod_bound (s->snap, pod));
        return;
    }
    slot_t *sl = slot_for (s, pod);
    if (!sl || !is_pending (pod)) {
        unpend (s, uid, pod);
        unnominate (s, uid);
        json_object_del (s->nom_wrote, uid);
        return;
    }
    /* the nomination follows status.nominatedNodeName as Kubernetes' UpdateNominatedPod (set or
     * changed there, it is taken; removed there, it goes; absent before and after, the one in
     * memory stays: a preemption's, whose status patch has not come back yet), except while a
     * write of ours is in flight: the echo of an older write must not move the pod's room back
     * (nomfollow.h) */
    const char *nn = tv_str (pod, "status.nominatedNodeName");
    const char *onn = old ? tv_str (old, "status.nominatedNodeName") : NULL;
    int changed = !old || !json_equal (tv_get (old, "spec"), tv_get (pod, "spec")) ||
                  !json_equal (tv_get (old, "metadata.labels"), tv_get (pod, "metadata.labels"));
    int landed;
    nf_action_t act = nomfollow (json_string_value (json_object_get (s->nom, uid)),
                                 json_string_value (json_object_get (s->nom_wrote, uid)), onn, nn, &landed);
    if (landed)
        json_object_del (s->nom_wrote, uid);
    if (act == NF_SET)
        nominate (s, pod, nn);
    else if (act == NF_CLEAR)
        unnominate (s, uid);
    else if (changed && old)
        renominate (s, pod);
    tr_sched_pod_t *prev = ptr_of (json_object_get (s->pending, uid));
    tr_sched_pod_t *p = snap_pod_new (pod);
    if (!p)
        return;
    p->created_ms = prev ? prev->created_ms : troupe_now_ms ();
    json_object_set_new (s->pending, uid, json_integer ((json_int_t) (intptr_t) p));
    /* not while its binding is in flight, nor while it is assumed (Kubernetes' skipPodUpdate): the
     * binding answered, the watch may still bring versions from before it (the echoes of our own
     * status patches); queued again, the pod was scheduled a second time, its second binding
     * refused ("already assigned"), and that Unreserve freed the room the first had taken: at
     * 5,000 nodes hundreds of preemptors preempted twice a run. A failed binding requeues it. */
    if (!json_object_get (s->binding, uid) && !snap_is_assumed (s->snap, uid)) {
        sq_add (sl->q, p, changed, troupe_now_ms ());
        arm (s, 5);
    }
    snap_pod_free (prev);
}

static void
on_pod_add (void *self, troupe_ctx_t *ctx, const json_t *pod)
{
    (void) ctx;
    track (self, NULL, pod);
}

static void
on_pod_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *pod)
{
    (void) ctx;
    track (self, old, pod);
}

static void
on_pod_delete (void *self, troupe_ctx_t *ctx, const json_t *pod)
{
    (void) ctx;
    sch_t *s = self;
    const char *uid = tv_str (pod, "metadata.uid");
    if (!uid)
        return;
    unpend (s, uid, pod);
    unnominate (s, uid);
    json_object_del (s->evicting, uid);
    json_object_del (s->nom_wrote, uid);
    json_object_del (s->reported, uid);
    json_object_del (s->binding, uid);
    for (size_t i = 0; i < s->nslots; i++) /* held by Permit: rejected, Unreserved at the next run */
        if (!fw_waiting_reject (s->slots[i].prof, uid, "pod deleted"))
            arm (s, 1);
    if (snap_pod_delete (s->snap, uid))
        event (s, TR_SCHED_EV_POD_DELETE);
}

static void
on_node (void *self, troupe_ctx_t *ctx, const json_t *node)
{
    (void) ctx;
    sch_t *s = self;
    uint32_t ev = snap_node_set (s->snap, node); /* heartbeats return 0: no requeue */
    if (ev & TR_SCHED_EV_NODE_ADD)
        s->nom_version++; /* the nominations' index resolves node names once */
    if (ev & TR_SCHED_EV_NODE_ADD)
        fw_nomindex_nodes_changed (s->nomix);
    if (ev & (TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_ALLOCATABLE)) {
        tr_sched_res_t r;
        char err[200] = "";
        if (snap_parse_res (tv_get (node, "status.allocatable"), &r, err, sizeof err))
            TR_WARN (A, "node %s: status.allocatable %s: counted as 0", tv_str (node, "metadata.name"), err);
    }
    event (s, ev);
}

static void
on_node_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *node)
{
    (void) old;
    on_node (self, ctx, node);
}

static void
on_node_delete (void *self, troupe_ctx_t *ctx, const json_t *node)
{
    (void) ctx;
    sch_t *s = self;
    if (tv_str (node, "metadata.name"))
        snap_node_delete (s->snap, tv_str (node, "metadata.name"));
    s->nom_version++; /* the nominations' index may point at it */
    fw_nomindex_nodes_changed (s->nomix);
}

static void
on_ns (void *self, troupe_ctx_t *ctx, const json_t *ns)
{
    (void) ctx;
    sch_t *s = self;
    const char *name = tv_str (ns, "metadata.name");
    const json_t *l = tv_get (ns, "metadata.labels");
    if (name)
        json_object_set_new (s->ns_labels, name, json_is_object (l) ? json_deep_copy (l) : json_object ());
}

static void
on_ns_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *ns)
{
    (void) old;
    on_ns (self, ctx, ns);
}

static void
on_ns_delete (void *self, troupe_ctx_t *ctx, const json_t *ns)
{
    (void) ctx;
    const char *name = tv_str (ns, "metadata.name");
    if (name)
        json_object_del (((sch_t *) self)->ns_labels, name);
}

static const json_t *
ns_labels_of (void *arg, const char *ns)
{
    return json_object_get (((sch_t *) arg)->ns_labels, ns);
}

/* ---- host->default_selector: Services and ReplicaSets (Kubernetes' DefaultSelector) -------- */

/* Only their selectors are kept (defaultsel_view). A change requeues nothing: PodTopologySpread
 * registers no Service or ReplicaSet event in Kubernetes (its default constraints only score);
 * the next attempt of a pod reads the new selectors. The API serves no ReplicationController or
 * StatefulSet: such an owner is never found, as a lister miss. */
static void
on_svc (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) ctx;
    defaultsel_put (((sch_t *) self)->dsel, DSEL_SERVICE, o);
}

static void
on_svc_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *o)
{
    (void) old;
    on_svc (self, ctx, o);
}

static void
on_svc_delete (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) ctx;
    defaultsel_del (((sch_t *) self)->dsel, DSEL_SERVICE, o);
}

static void
on_rs (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) ctx;
    defaultsel_put (((sch_t *) self)->dsel, DSEL_RS, o);
}

static void
on_rs_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *o)
{
    (void) old;
    on_rs (self, ctx, o);
}

static void
on_rs_delete (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) ctx;
    defaultsel_del (((sch_t *) self)->dsel, DSEL_RS, o);
}

static int
dsel_of (void *arg, const tr_sched_pod_t *pod, json_t **selector)
{
    *selector = defaultsel_of_pod (((sch_t *) arg)->dsel, pod->obj, pod->ns, pod->labels);
    return 0;
}

static int
dsel_synced (sch_t *s)
{
    return (!s->svcs || troupe_informer_synced (s->svcs)) && (!s->rss || troupe_informer_synced (s->rss)) &&
           (!s->pdbinf || troupe_informer_synced (s->pdbinf));
}

/* ---- host->pdbs: PodDisruptionBudgets (Kubernetes' PDB lister, for preemption) ------------- */

/* Only what preemption reads is kept (pdblister_view). A change requeues nothing: Kubernetes'
 * DefaultPreemption registers no PDB event; the next attempt of a pod reads the new budgets. */
static void
on_pdb (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) ctx;
    pdblister_put (((sch_t *) self)->pdbl, o);
}

static void
on_pdb_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *o)
{
    (void) old;
    on_pdb (self, ctx, o);
}

static void
on_pdb_delete (void *self, troupe_ctx_t *ctx, const json_t *o)
{
    (void) ctx;
    pdblister_del (((sch_t *) self)->pdbl, o);
}

static size_t
pdbs_of (void *arg, const char *ns, const tr_sched_pdb_t *const **out)
{
    return pdblister_list (((sch_t *) arg)->pdbl, ns, out);
}

static void on_synced (void *self, troupe_ctx_t *ctx);

static void
dsel_watch (sch_t *s, troupe_ctx_t *ctx)
{
    s->dsel = defaultsel_new ();
    for (size_t i = 0; i < s->nslots; i++)
        fw_profile_set_default_selector (s->slots[i].prof, dsel_of, s);
    troupe_handlers_t vh = {on_svc, on_svc_update, on_svc_delete, on_synced};
    troupe_handlers_t rh = {on_rs, on_rs_update, on_rs_delete, on_synced};
    s->svcs = troupe_watch (ctx, "Service", NULL, NULL, &vh);
    troupe_informer_set_transform (s->svcs, defaultsel_view);
    s->rss = troupe_watch (ctx, "ReplicaSet", NULL, NULL, &rh);
    troupe_informer_set_transform (s->rss, defaultsel_view);
    s->pdbl = pdblister_new ();
    for (size_t i = 0; i < s->nslots; i++)
        fw_profile_set_pdbs (s->slots[i].prof, pdbs_of, s);
    troupe_handlers_t bh = {on_pdb, on_pdb_update, on_pdb_delete, on_synced};
    s->pdbinf = troupe_watch (ctx, "PodDisruptionBudget", NULL, NULL, &bh);
    troupe_informer_set_transform (s->pdbinf, pdblister_view);
}

/* ---- the environment a cycle runs in ------------------------------------------------------ */

static void
env_of (sch_t *s, fw_env_t *env)
{
    fw_env_of_snapshot (env, s->snap);
}

/* ---- bindings and reports ----------------------------------------------------------------- */

typedef struct {
    char uid[64];
    char ns[254], name[254];
    char node[254];
    size_t slot;
} bind_t;

/* A request about one Pod (the caller sets opts/body/rv and clears it after sending). */
static void
pod_req (tr_env_t *req, tr_verb_t verb, const char *ns, const char *name)
{
    tr_env_init (req);
    req->verb = verb;
    strcpy (req->kind, "Pod");
    tr_strlcpy (req->ns, ns, sizeof req->ns);
    tr_strlcpy (req->name, name, sizeof req->name);
}

static void
ignore (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) self, (void) ctx;
    /* status writes: the next attempt writes them again; a failure is worth a line */
    if (reply->code != TR_OK && reply->code != TR_NOT_FOUND)
        TR_WARN (A, "%s failed code=%s msg=\"%s\"", (const char *) arg, tr_code_name (reply->code),
                 reply->msg ? reply->msg : "");
}

/* A victim's delete, and the pod that preempted it. */
typedef struct {
    char victim[128], ns[254], name[254], preemptor[128];
} evict_t;

/* The victim's delete failed (refused, or no answer in time: it may still land): the victim is
 * no longer counted as going, and its preemptor loses the nomination and goes back to the
 * active queue, so that its next cycle preempts again (Kubernetes: prepareCandidate's error
 * fails the cycle). Without this a lost delete strands the preemptor and every pod nominated
 * to the same node until the unschedulable queue's 5 minutes run out. */
static void
victim_deleted (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) ctx;
    sch_t *s = self;
    evict_t *e = arg;
    if (reply->code != TR_OK && reply->code != TR_NOT_FOUND) {
        TR_WARN (A, "deleting victim pod=%s/%s failed code=%s msg=\"%s\": preempting again", e->ns, e->name,
                 tr_code_name (reply->code), reply->msg ? reply->msg : "");
        json_object_del (s->evicting, e->victim);
        tr_sched_pod_t *p = ptr_of (json_object_get (s->pending, e->preemptor));
        slot_t *sl = p ? slot_for (s, p->obj) : NULL;
        if (p && sl && !json_object_get (s->binding, p->uid)) {
            unnominate (s, p->uid);
            sq_add (sl->q, p, 1, troupe_now_ms ());
            arm (s, 5);
        }
    }
    free (e);
}

static void bind_send (sch_t *s, bind_t *b);
static void bind_readback (sch_t *s, bind_t *b);

/* The binding failed for certain (or the pod is gone): Unreserve, forget, requeue unless gone. */
static void
bind_failed (sch_t *s, bind_t *b, int code)
{
    tr_sched_pod_t *p = ptr_of (json_object_get (s->pending, b->uid));
    if (snap_is_assumed (s->snap, b->uid)) {
        if (p) {
            fw_env_t env;
            env_of (s, &env);
            fw_unreserve (s->slots[b->slot].prof, &env, p, b->node);
        } else
            snap_forget (s->snap, b->uid);
    }
    if (p && code != TR_NOT_FOUND) {
        sq_add (s->slots[b->slot].q, p, 1, troupe_now_ms ());
        arm (s, 50);
    }
    TR_DEBUG (A, "bind failed pod=%s/%s code=%s", b->ns, b->name, tr_code_name (code));
}

/* The pod read back after a binding's answer was lost (bindverdict.h). */
static void
readback (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) ctx;
    sch_t *s = self;
    bind_t *b = arg;
    const char *node = reply->code == TR_OK ? tv_str (reply->body, "spec.nodeName") : NULL;
    int deleting = reply->code == TR_OK && tv_get (reply->body, "metadata.deletionTimestamp");
    switch (bind_verdict_readback (reply->code, node, deleting, b->node)) {
    case BIND_DONE:
        TR_INFO (A, "bound pod=%s/%s node=%s (read back)", b->ns, b->name, b->node);
        break;
    case BIND_RECHECK:
        bind_readback (s, b);
        return;
    case BIND_RETRY:
        bind_send (s, b);
        return;
    case BIND_REQUEUE:
    case BIND_FORGET:
        bind_failed (s, b, reply->code == TR_OK ? TR_NOT_FOUND : reply->code);
        break;
    }
    json_object_del (s->binding, b->uid);
    free (b);
}

static void
bind_readback (sch_t *s, bind_t *b)
{
    TR_INFO (A, "binding's answer lost pod=%s/%s node=%s: reading it back, still assumed", b->ns, b->name, b->node);
    tr_env_t req;
    pod_req (&req, TR_VERB_GET, b->ns, b->name);
    troupe_request (s->ctx, &req, readback, b);
    tr_env_clear (&req);
}

static void
bound (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    sch_t *s = self;
    bind_t *b = arg;
    if (bind_verdict_reply (reply->code) == BIND_RECHECK) {
        bind_readback (s, b); /* still in s->binding, still assumed */
        return;
    }
    json_object_del (s->binding, b->uid);
    if (reply->code == TR_OK) {
        /* at debug level, as kube-scheduler logs each binding at -v=2: at info it cost a line and
         * a write(2) of the scheduler's thread per pod (30,000 lines in a 10 s benchmark); TROUPE_LOG=debug
         * shows them */
        TR_DEBUG (A, "bound pod=%s/%s node=%s", b->ns, b->name, b->node);
        (void) ctx;
        /* "Successfully assigned ns/name to node", deferred (scheduled_evs): written at once it
         * cost more than 10 % of the scheduling throughput and 6× the binding latency */
        if (json_array_size (s->scheduled_evs) < SCHEDULED_EVENTS_QUEUE) {
            char msg[1400];
            snprintf (msg, sizeof msg, "Successfully assigned %s/%s to %s", b->ns, b->name, b->node);
            /* the answer is a Status (as BindingREST's), not the pod: the event's object is the
             * binding's own reference */
            json_t *ref = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name",
                                     b->name, "namespace", b->ns, "uid", b->uid);
            json_array_append_new (s->scheduled_evs, tr_event_new (ref, "Normal", "Scheduled", msg,
                                                                   fw_profile_name (s->slots[b->slot].prof), NULL,
                                                                   troupe_now_ms ()));
            json_decref (ref);
        } else
            s->scheduled_dropped++;
    } else
        bind_failed (s, b, reply->code); /* the assumption was wrong (the pod changed, or is gone) */
    free (b);
}

/* Writes deferred Scheduled Events while the scheduler is idle (nothing to schedule now, no
 * binding in flight), a bounded number per tick; comes back while some are left. */
static void
scheduled_events_flush (sch_t *s)
{
    size_t n = json_array_size (s->scheduled_evs);
    if (!n)
        return;
    if (!json_object_size (s->binding)) {
        if (s->scheduled_dropped) {
            TR_INFO (A, "Scheduled events dropped=%ld: their queue of %d was full (best effort, as Kubernetes' "
                        "event broadcaster)", s->scheduled_dropped, SCHEDULED_EVENTS_QUEUE);
            s->scheduled_dropped = 0;
        }
        size_t k = n < SCHEDULED_EVENTS_PER_TICK ? n : SCHEDULED_EVENTS_PER_TICK;
        for (size_t i = 0; i < k; i++)
            tr_record (s->rec, s->ctx, json_incref (json_array_get (s->scheduled_evs, i)));
        json_t *rest = json_array ();
        for (size_t i = k; i < n; i++)
            json_array_append (rest, json_array_get (s->scheduled_evs, i));
        json_decref (s->scheduled_evs);
        s->scheduled_evs = rest;
    }
    if (json_array_size (s->scheduled_evs))
        arm (s, 20);
}

static void
send_binding (sch_t *s, size_t slot, const tr_sched_pod_t *p, const char *node)
{
    bind_t *b = calloc (1, sizeof *b);
    tr_strlcpy (b->uid, p->uid, sizeof b->uid);
    tr_strlcpy (b->ns, p->ns, sizeof b->ns);
    tr_strlcpy (b->name, p->name, sizeof b->name);
    tr_strlcpy (b->node, node, sizeof b->node);
    b->slot = slot;
    json_object_set_new (s->binding, p->uid, json_true ());
    bind_send (s, b);
}

/* The binding, as Kubernetes' DefaultBinder: the pod's UID as the precondition, not its
 * resourceVersion. With the version, a binding sent before the echo of our own status patch
 * (PodScheduled=False, nominatedNodeName) came back failed with Conflict: 4,374 of 5,000
 * preemptors' bindings in one run at 5,000 nodes, each then requeued without its nomination, its
 * room left to another pod (the Preemption benchmark's double preemptions and 5-minute tail). */
static void
bind_send (sch_t *s, bind_t *b)
{
    tr_env_t req;
    pod_req (&req, TR_VERB_PATCH, b->ns, b->name);
    req.opts = json_pack ("{s:s}", "subresource", "binding");
    req.body = json_pack ("{s:{s:s},s:{s:s}}", "spec", "nodeName", b->node, "metadata", "uid", b->uid);
    troupe_request (s->ctx, &req, bound, b); /* not awaited: the store's group commit batches them */
    tr_env_clear (&req);
}

/* A strategic-merge patch of the pod's status subresource (body stolen), not awaited: as
 * Kubernetes' scheduler writes pod status, so a condition it sends (PodScheduled,
 * DisruptionTarget) replaces only the one of its type and the others the kubelet wrote stay. */
static void
status_patch (sch_t *s, const char *ns, const char *name, json_t *body, const char *what)
{
    tr_env_t req;
    pod_req (&req, TR_VERB_PATCH, ns, name);
    req.opts = json_pack ("{s:s,s:s}", "subresource", "status", "patchType", "strategic");
    req.body = body;
    troupe_request (s->ctx, &req, ignore, (void *) what);
    tr_env_clear (&req);
}

/* PodScheduled=False and one FailedScheduling Event, only when the message changed; with
 * status.nominatedNodeName in the same patch when a preemption nominated a node, or removed
 * when it found no candidate for a nominated pod (nominated "": as Kubernetes' updatePod, one
 * status write for both). */
static void
report_unschedulable (sch_t *s, size_t slot, const tr_sched_pod_t *p, const char *why, const char *nominated)
{
    const char *last = json_string_value (json_object_get (s->reported, p->uid));
    int same = last && !strcmp (last, why);
    if (same && !nominated)
        return;
    json_object_set_new (s->reported, p->uid, json_string (why));
    if (!same)
        TR_INFO (A, "unschedulable pod=%s/%s reason=\"%s\"", p->ns, p->name, why);
    char now[32];
    tr_time_format (troupe_now_ms (), now, sizeof now);
    json_t *body = json_pack ("{s:{s:s,s:[{s:s,s:s,s:s,s:s,s:s}]}}", "status", "phase", "Pending", "conditions", "type",
                              "PodScheduled", "status", "False", "reason", "Unschedulable", "message", why,
                              "lastTransitionTime", now);
    if (nominated && *nominated)
        tv_set_str (body, "status.nominatedNodeName", nominated);
    else if (nominated)
        json_object_set_new (json_object_get (body, "status"), "nominatedNodeName", json_null ());
    if (nominated)
        json_object_set_new (s->nom_wrote, p->uid, json_string (nominated));
    status_patch (s, p->ns, p->name, body, "PodScheduled=False status patch");
    if (!same)
        tr_record (s->rec, s->ctx,
                   tr_event_new (p->obj, "Warning", "FailedScheduling", why, fw_profile_name (s->slots[slot].prof),
                                 NULL, troupe_now_ms ()));
}

/* A status patch of a pod: status.nominatedNodeName = node (NULL: cleared). */
static void
patch_nominated (sch_t *s, const char *uid, const char *ns, const char *name, const char *node)
{
    json_object_set_new (s->nom_wrote, uid, json_string (node ? node : ""));
    status_patch (s, ns, name, json_pack ("{s:{s:o}}", "status", "nominatedNodeName", node ? json_string (node) : json_null ()),
                  "nominatedNodeName status patch");
}

/* What Kubernetes' prepareCandidate does once DefaultPreemption chose a node for p: the pods of
 * lower priority nominated to that node lose their nomination, p is nominated (in memory at once;
 * status.nominatedNodeName is written by report_unschedulable), and each victim gets a DisruptionTarget condition
 * (PreemptionByScheduler), a Preempted Event and a graceful delete (its own grace period). */
static void
preempt (sch_t *s, size_t slot, const tr_sched_pod_t *p, const json_t *pre)
{
    const char *node = tv_str (pre, "node");
    if (!node)
        return;
    const char *prof = fw_profile_name (s->slots[slot].prof);
    json_t *set = json_incref (json_object_get (s->nom_by_node, node)), *tmp; /* unnominate may drop it */
    const char *uid;
    json_t *v;
    json_object_foreach_safe (set, tmp, uid, v) {
        const tr_sched_pod_t *q = ptr_of (json_object_get (s->pending, uid));
        if (!q || q->priority >= p->priority || !strcmp (uid, p->uid))
            continue;
        TR_INFO (A, "nomination cleared pod=%s/%s node=%s (a higher-priority pod preempts there)", q->ns, q->name, node);
        patch_nominated (s, uid, q->ns, q->name, NULL);
        unnominate (s, uid);
    }
    json_decref (set);
    nominate (s, p->obj, node);
    char now[32], msg[600], why[400];
    snprintf (why, sizeof why, "%s: preempting to accommodate a higher priority pod", prof);
    tr_time_format (troupe_now_ms (), now, sizeof now);
    snprintf (msg, sizeof msg, "Preempted by pod %s on node %s", p->uid, node);
    size_t i;
    const json_t *vic;
    json_array_foreach (tv_get (pre, "victims"), i, vic) {
        const char *vns = tv_str (vic, "metadata.namespace"), *vname = tv_str (vic, "metadata.name");
        const char *vuid = tv_str (vic, "metadata.uid");
        if (tv_get (vic, "metadata.deletionTimestamp") || !vns || !vname || !vuid || json_object_get (s->evicting, vuid))
            continue; /* already going (another preemptor chose it before its delete was seen) */
        json_object_set_new (s->evicting, vuid, json_true ());
        TR_INFO (A, "preempting pod=%s/%s node=%s for pod=%s/%s", vns, vname, node, p->ns, p->name);
        status_patch (s, vns, vname,
                      json_pack ("{s:{s:[{s:s,s:s,s:s,s:s,s:s}]}}", "status", "conditions", "type", "DisruptionTarget",
                                 "status", "True", "reason", "PreemptionByScheduler", "message", why,
                                 "lastTransitionTime", now),
                      "DisruptionTarget status patch");
        tr_record (s->rec, s->ctx, tr_event_new (vic, "Normal", "Preempted", msg, prof, NULL, troupe_now_ms ()));
        tr_env_t req;
        pod_req (&req, TR_VERB_DELETE, vns, vname);
        evict_t *ev = calloc (1, sizeof *ev);
        if (ev) {
            snprintf (ev->victim, sizeof ev->victim, "%s", vuid);
            snprintf (ev->ns, sizeof ev->ns, "%s", vns);
            snprintf (ev->name, sizeof ev->name, "%s", vname);
            snprintf (ev->preemptor, sizeof ev->preemptor, "%s", p->uid);
        }
        troupe_request (s->ctx, &req, ev ? victim_deleted : ignore, ev ? (void *) ev : (void *) "victim delete");
        tr_env_clear (&req);
    }
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Schedules one pod of slot i; 0 when its queue had nothing ready. */
static int
one (sch_t *s, size_t i, int64_t now)
{
    slot_t *sl = &s->slots[i];
    tr_sched_pod_t *p = sq_pop (sl->q, now);
    if (!p)
        return 0;
    if (ptr_of (json_object_get (s->pending, p->uid)) != p || json_object_get (s->binding, p->uid)) {
        sq_done (sl->q, p->uid); /* stale: a newer version is (or will be) queued */
        return 1;
    }
    fw_env_t env;
    env_of (s, &env);
    fw_nominator_t nom = {nom_pods, nom_node, s, nom_terminating, nom_each, s->nom_version, s->nomix};
    fw_result_t r;
    fw_schedule_nominated (sl->prof, &env, &nom, p, &r);
    switch (r.outcome) {
    case FW_SCHEDULED:
        unnominate (s, p->uid); /* assumed: its room is counted as a pod of the node now */
        sq_done (sl->q, p->uid);
        sq_delete (sl->q, p->uid);
        if (r.host_binds)
            send_binding (s, i, p, r.node);
        break;
    case FW_UNSCHEDULABLE: {
        const char *nn = r.preempt ? tv_str (r.preempt, "node") : r.clear_nomination ? "" : NULL;
        if (nn && *nn)
            preempt (s, i, p, r.preempt);
        else if (nn) { /* no candidate: the pod's nomination goes, in memory and in its status */
            if (!json_object_get (s->nom, p->uid) && !tv_str (p->obj, "status.nominatedNodeName"))
                nn = NULL; /* none to clear */
            unnominate (s, p->uid);
        }
        sq_requeue (sl->q, p, 1, r.events, now);
        report_unschedulable (s, i, p, r.message, nn);
        break;
    }
    case FW_ERROR:
        TR_WARN (A, "scheduling pod=%s/%s: %s", p->ns, p->name, r.message);
        sq_requeue (sl->q, p, 0, 0, now);
        break;
    case FW_WAITING:
        /* held by Permit (assumed, reserved), still in flight for the queue: finished by
         * waiting () once allowed, rejected or timed out */
        TR_DEBUG (A, "pod=%s/%s waits on Permit node=%s", p->ns, p->name, r.node);
        json_object_set_new (s->binding, p->uid, json_string ("waiting"));
        break;
    }
    json_decref (r.preempt);
    return 1;
}

/* Permit's waiting pods of every profile that are decided: bound, or back to the queue. */
static void
waiting (sch_t *s, int64_t now)
{
    for (size_t i = 0; i < s->nslots; i++) {
        slot_t *sl = &s->slots[i];
        if (!fw_waiting_count (sl->prof))
            continue;
        fw_env_t env;
        env_of (s, &env);
        fw_done_t done[16];
        size_t n;
        do {
            n = fw_waiting_poll (sl->prof, &env, done, 16);
            for (size_t k = 0; k < n; k++) {
                json_object_del (s->binding, done[k].uid);
                tr_sched_pod_t *p = ptr_of (json_object_get (s->pending, done[k].uid));
                if (!p) /* deleted meanwhile (already rejected and forgotten) */
                    continue;
                fw_result_t *r = &done[k].r;
                if (r->outcome == FW_SCHEDULED) {
                    sq_done (sl->q, p->uid);
                    if (r->host_binds)
                        send_binding (s, i, p, r->node);
                } else if (r->outcome == FW_UNSCHEDULABLE) {
                    sq_requeue (sl->q, p, 1, r->events, now);
                    report_unschedulable (s, i, p, r->message, NULL);
                } else {
                    TR_WARN (A, "binding pod=%s/%s after Permit: %s", p->ns, p->name, r->message);
                    sq_requeue (sl->q, p, 0, 0, now);
                }
            }
        } while (n == 16);
    }
}

static void
run (sch_t *s)
{
    if (!troupe_informer_synced (s->pods) || !troupe_informer_synced (s->nodes) || !troupe_informer_synced (s->nss) ||
        !dsel_synced (s) || !s->nslots)
        return;
    int64_t start = troupe_now_ms (), now = start;
    size_t idle = 0;
    waiting (s, now);
    /* many pods per tick, round-robin over the profiles, but a bounded time so watches flow */
    while (idle < s->nslots && now - start < TICK_BUDGET_MS) {
        size_t i = s->next_slot++ % s->nslots;
        if (one (s, i, now))
            idle = 0;
        else
            idle++;
        now = troupe_now_ms ();
    }
    if (idle >= s->nslots) /* nothing to schedule now */
        scheduled_events_flush (s);
    int64_t next = -1;
    for (size_t i = 0; i < s->nslots; i++) {
        int64_t n = sq_next_ms (s->slots[i].q, now), w = fw_waiting_next_ms (s->slots[i].prof);
        if (n >= 0 && (next < 0 || n < next))
            next = n;
        if (w >= 0 && (next < 0 || w < next))
            next = w;
    }
    if (next >= 0)
        arm (s, next > 0 ? (int) (next < 1000 ? next : 1000) : 1);
}

static void
on_synced (void *self, troupe_ctx_t *ctx)
{
    (void) ctx;
    arm (self, 1);
}

static void *
sch_create (troupe_ctx_t *ctx, const json_t *config)
{
    sch_t *s = calloc (1, sizeof *s);
    s->ctx = ctx;
    s->snap = snap_new ();
    s->pending = json_object ();
    s->reported = json_object ();
    s->binding = json_object ();
    s->ns_labels = json_object ();
    s->nom = json_object ();
    s->nom_by_node = json_object ();
    s->nomix = fw_nomindex_new ();
    s->evicting = json_object ();
    s->nom_wrote = json_object ();
    s->rec = tr_recorder_new ();
    s->scheduled_evs = json_array ();
    /* bindings stream, never awaited: at most the window over the broker's round trip. With the
     * default 128 the bindings could not keep up with 3,400 creates/s at 5,000 nodes (a backlog
     * in the host, p99 created→bound 1.1–1.4 s; 480: 0.2–0.5 s, benchmarks.md) */
    troupe_set_window (ctx, SCHED_WINDOW);
    char err[512] = "";
    const char *file = tv_str (config, "schedulerConfig");
    int rc = file && *file ? sched_config_load_file (file, &s->cfg, err, sizeof err)
                           : sched_config_load (NULL, NULL, &s->cfg, err, sizeof err);
    if (rc) {
        TR_ERROR (A, "scheduler configuration %s: %s; using the default profile", file ? file : "", err);
        sched_config_clear (&s->cfg);
        sched_config_load (NULL, NULL, &s->cfg, err, sizeof err);
    }
    for (size_t i = 0; i < s->cfg.nerrors; i++)
        TR_ERROR (A, "%s", s->cfg.errors[i]);
    for (size_t i = 0; i < s->cfg.nprofiles && s->nslots < 16; i++) {
        s->slots[s->nslots].prof = s->cfg.profiles[i];
        s->slots[s->nslots].q = sq_new (fw_profile_less, s->cfg.profiles[i], NULL);
        fw_profile_set_namespaces (s->cfg.profiles[i], ns_labels_of, s);
        TR_INFO (A, "profile %s loaded", fw_profile_name (s->cfg.profiles[i]));
        s->nslots++;
    }
    troupe_handlers_t ph = {on_pod_add, on_pod_update, on_pod_delete, on_synced};
    troupe_handlers_t nh = {on_node, on_node_update, on_node_delete, on_synced};
    troupe_handlers_t sh = {on_ns, on_ns_update, on_ns_delete, on_synced};
    s->nodes = troupe_watch (ctx, "Node", NULL, NULL, &nh);
    s->nss = troupe_watch (ctx, "Namespace", NULL, NULL, &sh);
    dsel_watch (s, ctx);
    s->pods = troupe_watch (ctx, "Pod", NULL, NULL, &ph);
    /* a pod's metadata and spec whole (plugins may read any of it), of its status what the
     * scheduler and its plugins read (sched_plugin.h, tr_sched_pod_t.obj): not the container
     * statuses and addresses a node reports, a third of a running pod's tree */
    static const char *const pod_fields[] = {"metadata", "spec", "status.phase", "status.conditions",
                                             "status.nominatedNodeName", "status.startTime"};
    troupe_informer_set_fields (s->pods, pod_fields, sizeof pod_fields / sizeof *pod_fields);
    troupe_timer (ctx, T_FLUSH, 1000, 1);
    return s;
}

static int
sch_timer (void *self, troupe_ctx_t *ctx, int id)
{
    (void) ctx;
    sch_t *s = self;
    if (id == T_RUN)
        run (s);
    else if (id == T_FLUSH) {
        int64_t now = troupe_now_ms ();
        for (size_t i = 0; i < s->nslots; i++) {
            sq_flush (s->slots[i].q, now);
            if (sq_next_ms (s->slots[i].q, now) == 0)
                arm (s, 1);
        }
    }
    return 0;
}

static void
sch_destroy (void **p)
{
    sch_t *s = *p;
    if (!s)
        return;
    for (size_t i = 0; i < s->nslots; i++)
        sq_destroy (&s->slots[i].q);
    const char *k;
    json_t *v;
    json_object_foreach (s->pending, k, v) snap_pod_free (ptr_of (v));
    json_decref (s->pending);
    json_decref (s->reported);
    json_decref (s->binding);
    json_decref (s->ns_labels);
    defaultsel_destroy (&s->dsel);
    pdblister_destroy (&s->pdbl);
    json_decref (s->nom);
    const char *nk, *uk;
    json_t *set, *nv;
    json_object_foreach (s->nom_by_node, nk, set) {
        json_object_foreach (set, uk, nv) snap_pod_free (ptr_of (nv));
    }
    json_decref (s->nom_by_node);
    fw_nomindex_free (s->nomix);
    json_decref (s->evicting);
    json_decref (s->nom_wrote);
    tr_recorder_destroy (&s->rec);
    json_decref (s->scheduled_evs);
    sched_config_clear (&s->cfg);
    snap_destroy (&s->snap);
    free (s);
    *p = NULL;
}

static const troupe_actor_t def = {TROUPE_ACTOR_ABI, "scheduler", sch_create, NULL, sch_timer, sch_destroy};

const troupe_actor_t *
scheduler_actor (void)
{
    return &def;
}
