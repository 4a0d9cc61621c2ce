/* DefaultPreemption — PostFilter: when no node fits, find the node where evicting lower-priority
 * pods makes room, with the choices of Kubernetes' pkg/scheduler/framework/plugins/
 * defaultpreemption and framework/preemption.
 *
 * A pod with preemptionPolicy Never does not preempt. Candidate nodes are those the filters
 * rejected as Unschedulable (never UnschedulableAndUnresolvable). On each, every pod of lower
 * priority is removed; if the pod then fits, victims are reprieved one by one, most important
 * first (higher priority, then earlier start), keeping each one whose return still leaves room.
 * PodDisruptionBudgets (host->pdbs, ABI 1.2) order the reprieve as Kubernetes'
 * filterPodsWithPDBViolation: walking the potential victims most important first, each PDB of the
 * pod's namespace whose selector matches the pod's labels (a nil or empty selector matches
 * nothing there, nor does any PDB a pod without labels; a malformed one is skipped) spends one of
 * a per-node copy of its status.disruptionsAllowed, unless the pod is already in its
 * status.disruptedPods (the api-server counted it); a pod that takes one below 0 is violating.
 * Violating victims are reprieved first, those that cannot be are the node's PDB violations,
 * then the others. The node is then picked as pickOneNodeForPreemption: a node without victims,
 * fewest PDB violations, lowest priority of its most important victim, smallest sum of victims'
 * priorities, fewest victims, latest start time of its most important victims. Victims are
 * deleted even when that violates a budget (best effort, as Kubernetes: preemption does not go
 * through the Eviction API).
 * host->preempt nominates it (Success, as Kubernetes' PostFilterResult with a nominated node);
 * the framework deletes the victims. Every other outcome is Unschedulable with Kubernetes'
 * message, "preemption: " first (DefaultPreemption.PostFilter's prefix): "not eligible due to
 * …", or a FitError of the dry run ("0/N nodes are available: k No preemption victims found for
 * incoming pod, m Preemption is not helpful for scheduling."), which the framework appends to
 * the pod's FailedScheduling message.
 *
 * The "fits once victims are gone" check cannot call the other plugins' filters (the plugin
 * interface has no such call): it is NodeResourcesFit's check (cpu, memory, ephemeral-storage,
 * pod count, extended resources). So a node is a candidate only when its filter status is
 * NodeResourcesFit's ("Insufficient <resource>", "Too many pods"): a node rejected as
 * Unschedulable by another filter (inter-pod anti-affinity, spread, ports) might not fit even
 * with victims gone, and is not nominated (docs/decisions.md).
 *
 * As Kubernetes, the search stops once max (minCandidateNodesPercentage % of the nodes,
 * minCandidateNodesAbsolute) candidates are found, starting at an offset that depends on the pod
 * (Kubernetes: random) so that preemptors do not all pile onto the first nodes.
 */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/sched_plugin.h"
#include "core/fnv.h"
#include "core/meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DP_NAME "DefaultPreemption"

#define NOT_HELPFUL "Preemption is not helpful for scheduling"
#define NO_VICTIMS "No preemption victims found for incoming pod"

typedef struct {
    const tr_sched_host_t *host;
    int64_t min_pct, min_abs;
} dp_t;

typedef struct {
    const tr_sched_node_t *node;
    const tr_sched_pod_t **victims; /* most important first */
    size_t nvictims;
    size_t nviolating;              /* victims whose eviction violates a PDB (numPDBViolations) */
    /* what pickOneNodeForPreemption compares, made once with the candidate (computed at every
     * comparison, the start times' lookups were a tenth of the scheduler's thread in the
     * Preemption benchmark: some 500 candidates a preemptor) */
    int64_t sum_priorities;
    int64_t top_start;              /* earliest start among the victims of the highest priority */
} candidate_t;

/* The cycle's PodDisruptionBudgets (host->pdbs (cs, NULL), as Kubernetes lists them once per
 * preemption) and a scratch copy of their disruptionsAllowed for one node. */
typedef struct {
    const tr_sched_pdb_t *const *pdbs;
    size_t n;
    int32_t *allowed;
} pdbset_t;

/* ---- pods -------------------------------------------------------------------------------- */

/* When the pod started (ms since the epoch): the snapshot's parse of status.startTime (ABI 1.3),
 * or for a pod of an older host the object's string; INT64_MAX when not started ("now", later
 * than any start). */
static int64_t
start_time (const tr_sched_pod_t *p)
{
    if (p->size >= offsetof (tr_sched_pod_t, start_ms) + sizeof p->start_ms)
        return p->start_ms;
    const char *s = json_string_value (json_object_get (json_object_get (p->obj, "status"), "startTime"));
    int64_t ms = s ? tr_time_parse (s) : -1;
    return ms >= 0 ? ms : INT64_MAX;
}

static int64_t
sum_priorities (const candidate_t *c)
{
    int64_t s = 0;
    for (size_t i = 0; i < c->nvictims; i++)
        s += (int64_t) c->victims[i]->priority + INT32_MAX + 1; /* so that negative priorities count */
    return s;
}

/* Earliest start among the victims of the highest priority. */
static int64_t
earliest_top_start (const candidate_t *c)
{
    int64_t e = INT64_MAX;
    for (size_t i = 0; i < c->nvictims; i++) {
        if (c->victims[i]->priority != c->victims[0]->priority)
            continue;
        int64_t s = start_time (c->victims[i]);
        if (s < e)
            e = s;
    }
    return e;
}

/* A potential victim with its start time read once (not from the object at every comparison:
 * two lookups a side were the most of a dry run's sort). */
typedef struct {
    const tr_sched_pod_t *p;
    int64_t start;
} ranked_t;

/* Kubernetes' MoreImportantPod first: higher priority, then the one that started earlier (then
 * the name, for a stable order) */
static int
cmp_ranked (const void *pa, const void *pb)
{
    const ranked_t *a = pa, *b = pb;
    if (a->p->priority != b->p->priority)
        return a->p->priority > b->p->priority ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return strcmp (a->p->name ? a->p->name : "", b->p->name ? b->p->name : "");
}

/* ---- fit: NodeResourcesFit's check against usage minus the removed pods ------------------ */

typedef struct {
    tr_sched_res_t used;
    int64_t npods;
} usage_t;

static int64_t *
scalar_slot (tr_sched_res_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->nscalar; i++)
        if (!strcmp (r->scalar[i].name, name))
            return &r->scalar[i].value;
    if (r->nscalar >= TR_SCHED_MAX_SCALAR)
        return NULL;
    r->scalar[r->nscalar].name = name; /* a pod's request's: interned by the scheduler */
    r->scalar[r->nscalar].value = 0;
    return &r->scalar[r->nscalar++].value;
}

static int64_t
scalar_of (const tr_sched_res_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->nscalar; i++)
        if (!strcmp (r->scalar[i].name, name))
            return r->scalar[i].value;
    return 0;
}

static void
usage_add (usage_t *u, const tr_sched_pod_t *p, int sign)
{
    u->used.milli_cpu += sign * p->requests.milli_cpu;
    u->used.memory += sign * p->requests.memory;
    u->used.ephemeral_storage += sign * p->requests.ephemeral_storage;
    u->npods += sign;
    for (uint32_t i = 0; i < p->requests.nscalar; i++) {
        int64_t *v = scalar_slot (&u->used, p->requests.scalar[i].name);
        if (v)
            *v += sign * p->requests.scalar[i].value;
    }
}

static int
fits (const tr_sched_node_t *node, const usage_t *u, const tr_sched_pod_t *pod)
{
    const tr_sched_res_t *a = &node->allocatable, *r = &pod->requests;
    if (u->npods + 1 > a->pods)
        return 0;
    if (r->milli_cpu > 0 && a->milli_cpu < u->used.milli_cpu + r->milli_cpu)
        return 0;
    if (r->memory > 0 && a->memory < u->used.memory + r->memory)
        return 0;
    if (r->ephemeral_storage > 0 && a->ephemeral_storage < u->used.ephemeral_storage + r->ephemeral_storage)
        return 0;
    for (uint32_t i = 0; i < r->nscalar; i++)
        if (r->scalar[i].value > 0 &&
            scalar_of (a, r->scalar[i].name) < scalar_of (&u->used, r->scalar[i].name) + r->scalar[i].value)
            return 0;
    return 1;
}

/* A status NodeResourcesFit gives: the only rejections this plugin can check away. */
static int
resource_reason (const char *reason)
{
    return reason && (!strncmp (reason, "Insufficient ", 13) || !strcmp (reason, "Too many pods"));
}

/* A LabelSelector without any requirement (Kubernetes' selector.Empty ()): matchLabels and
 * matchExpressions both empty or absent. */
static int
selector_empty (const json_t *sel)
{
    return !json_object_size (json_object_get (sel, "matchLabels")) &&
           !json_array_size (json_object_get (sel, "matchExpressions"));
}

/* filterPodsWithPDBViolation: violating[i] for pot[0..n) (most important first), spending a fresh
 * copy of each PDB's disruptionsAllowed. */
static void
pdb_violations (const dp_t *self, const pdbset_t *ps, const tr_sched_pod_t *const *pot, size_t n, unsigned char *violating)
{
    for (size_t k = 0; k < ps->n; k++)
        ps->allowed[k] = ps->pdbs[k]->disruptions_allowed;
    for (size_t i = 0; i < n; i++) {
        const tr_sched_pod_t *p = pot[i];
        violating[i] = 0;
        if (!json_object_size (p->labels)) /* a pod without labels matches no PDB */
            continue;
        for (size_t k = 0; k < ps->n; k++) {
            const tr_sched_pdb_t *b = ps->pdbs[k];
            if (!b->ns || !p->ns || strcmp (b->ns, p->ns))
                continue;
            /* nil or empty selector: matches nothing; malformed (-1): does not match */
            if (!b->selector || json_is_null (b->selector) || selector_empty (b->selector) ||
                self->host->label_selector_match (b->selector, p->labels) != 1)
                continue;
            if (p->name && json_object_get (b->disrupted_pods, p->name))
                continue; /* the api-server already counted it */
            if (--ps->allowed[k] < 0)
                violating[i] = 1;
        }
    }
}

/* selectVictimsOnNode: 1 and victims when removing lower-priority pods makes room, else 0. */
static int
select_victims (const dp_t *self, const pdbset_t *ps, const tr_sched_node_t *node, const tr_sched_pod_t *pod,
                candidate_t *out)
{
    uint32_t lower = 0;
    for (uint32_t i = 0; i < node->npods; i++)
        lower += node->pods[i]->priority < pod->priority;
    usage_t u = {.used = node->requested, .npods = node->npods};
    if (lower == 0) {
        /* nothing to evict: a candidate only if it fits as it is (a node no filter rejected) */
        if (!fits (node, &u, pod))
            return 0;
        *out = (candidate_t) {node, NULL, 0, 0, 0, INT64_MAX};
        return 1;
    }
    const tr_sched_pod_t **pot = calloc (lower, sizeof *pot);
    size_t npot = 0;
    if (!pot)
        return -1;
    for (uint32_t i = 0; i < node->npods; i++)
        if (node->pods[i]->priority < pod->priority) {
            pot[npot++] = node->pods[i];
            usage_add (&u, node->pods[i], -1);
        }
    if (!fits (node, &u, pod)) {
        free (pot);
        return 0;
    }
    if (npot > 1) {
        ranked_t room[16], *rk = npot <= 16 ? room : malloc (npot * sizeof *rk);
        if (!rk) {
            free (pot);
            return -1;
        }
        for (size_t i = 0; i < npot; i++)
            rk[i] = (ranked_t) {pot[i], start_time (pot[i])};
        qsort (rk, npot, sizeof *rk, cmp_ranked);
        for (size_t i = 0; i < npot; i++)
            pot[i] = rk[i].p;
        if (rk != room)
            free (rk);
    }
    /* flags per potential victim: bit 0 violating a PDB, bit 1 stays a victim */
    unsigned char room1[64], *fl = npot <= sizeof room1 ? room1 : calloc (npot, 1);
    if (!fl) {
        free (pot);
        return -1;
    }
    if (ps->n)
        pdb_violations (self, ps, pot, npot, fl);
    else
        memset (fl, 0, npot);
    size_t nviol = 0;
    for (int pass = 1; pass >= 0; pass--) /* the violating ones first, then the others */
        for (size_t i = 0; i < npot; i++) {
            if ((fl[i] & 1) != pass)
                continue;
            usage_add (&u, pot[i], +1);
            if (!fits (node, &u, pod)) {
                usage_add (&u, pot[i], -1);
                fl[i] |= 2;
                nviol += pass;
            }
        }
    size_t nv = 0;
    for (size_t i = 0; i < npot; i++)
        if (fl[i] & 2)
            pot[nv++] = pot[i]; /* most important first (nv <= i: order kept) */
    if (fl != room1)
        free (fl);
    out->node = node;
    out->victims = pot;
    out->nvictims = nv;
    out->nviolating = nviol;
    out->sum_priorities = sum_priorities (out);
    out->top_start = earliest_top_start (out);
    return 1;
}

/* ---- pickOneNodeForPreemption ------------------------------------------------------------ */

/* Is a a better choice than b? */
static int
better (const candidate_t *a, const candidate_t *b)
{
    /* a node without victims first (Kubernetes returns it at once) */
    if (a->nvictims == 0 || b->nvictims == 0)
        return a->nvictims == 0 && b->nvictims != 0;
    /* 1. fewest PodDisruptionBudget violations */
    if (a->nviolating != b->nviolating)
        return a->nviolating < b->nviolating;
    /* 2. lowest priority of the most important victim */
    if (a->victims[0]->priority != b->victims[0]->priority)
        return a->victims[0]->priority < b->victims[0]->priority;
    /* 3. smallest sum of priorities */
    if (a->sum_priorities != b->sum_priorities)
        return a->sum_priorities < b->sum_priorities;
    /* 4. fewest victims */
    if (a->nvictims != b->nvictims)
        return a->nvictims < b->nvictims;
    /* 5. latest start time of the most important victims */
    return a->top_start > b->top_start;
}

/* ---- PostFilter -------------------------------------------------------------------------- */

/* Kubernetes' PodEligibleToPreemptOthers, its second half: not eligible while a pod of lower
 * priority is terminating by preemption on the node the pod is nominated to, unless that node is
 * UnschedulableAndUnresolvable for the pod (its status among node_status, the snapshot's order). */
static int
terminating_victim_on_nominated (const dp_t *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                 const tr_sched_status_t *node_status, size_t n)
{
    const char *nn = json_string_value (json_object_get (json_object_get (pod->obj, "status"), "nominatedNodeName"));
    const tr_sched_node_t *node = nn && *nn ? self->host->node (cs, nn) : NULL;
    if (!node)
        return 0;
    const tr_sched_snapshot_t *snap = self->host->snapshot (cs);
    for (size_t i = 0; i < n && i < snap->nnodes; i++)
        if (snap->nodes[i] == node || !strcmp (snap->nodes[i]->name, node->name)) {
            if (node_status[i].code == TR_SCHED_UNRESOLVABLE)
                return 0;
            break;
        }
    for (uint32_t i = 0; i < node->npods; i++)
        if (node->pods[i]->priority < pod->priority && pu_terminating_by_preemption (node->pods[i]->obj))
            return 1;
    return 0;
}

static uint32_t
pod_offset (const tr_sched_pod_t *pod, uint32_t n)
{
    return n ? tr_fnv1a32_str (pod->uid) % n : 0;
}

/* node i as the dry run sees it (with its nominated pods, host->snapshot_node: made only for the
 * nodes looked at) */
static const tr_sched_node_t *
node_at (const dp_t *self, tr_sched_cycle_t *cs, const tr_sched_snapshot_t *snap, size_t i)
{
    const tr_sched_host_t *h = self->host;
    if (h->size >= offsetof (tr_sched_host_t, snapshot_node) + sizeof h->snapshot_node && h->snapshot_node)
        return h->snapshot_node (cs, (uint32_t) i);
    return snap->nodes[i];
}

static tr_sched_status_t
dp_post_filter (void *selfp, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_status_t *node_status,
                size_t n)
{
    dp_t *self = selfp;
    const tr_sched_snapshot_t *snap = self->host->snapshot (cs);
    const char *policy = json_string_value (json_object_get (json_object_get (pod->obj, "spec"), "preemptionPolicy"));
    if (policy && !strcmp (policy, "Never"))
        return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE, "preemption: not eligible due to preemptionPolicy=Never."};
    if (terminating_victim_on_nominated (self, cs, pod, node_status, n))
        return (tr_sched_status_t) {TR_SCHED_UNSCHEDULABLE,
                                    "preemption: not eligible due to a terminating pod on the nominated node."};
    if (n > snap->nnodes)
        n = snap->nnodes;
    size_t want = (size_t) (n * self->min_pct / 100);
    if (want < (size_t) self->min_abs)
        want = (size_t) self->min_abs;
    candidate_t *cands = calloc (n ? n : 1, sizeof *cands);
    if (!cands)
        return (tr_sched_status_t) {TR_SCHED_ERROR, "DefaultPreemption: out of memory"};
    size_t ncands = 0, not_helpful = 0, no_victims = 0;
    pdbset_t ps = {NULL, 0, NULL};
    const tr_sched_host_t *h = self->host;
    if (h->size >= offsetof (tr_sched_host_t, pdbs) + sizeof h->pdbs && h->pdbs) {
        ps.n = h->pdbs (cs, NULL, &ps.pdbs);
        if (ps.n && !(ps.allowed = malloc (ps.n * sizeof *ps.allowed))) {
            free (cands);
            return (tr_sched_status_t) {TR_SCHED_ERROR, "DefaultPreemption: out of memory"};
        }
    }
    uint32_t off = pod_offset (pod, (uint32_t) n);
    for (size_t k = 0; k < n && ncands < want; k++) {
        size_t i = (off + k) % n;
        const tr_sched_status_t *st = &node_status[i];
        if (st->code != TR_SCHED_SUCCESS && !(st->code == TR_SCHED_UNSCHEDULABLE && resource_reason (st->reason))) {
            not_helpful++;
            continue;
        }
        int r = select_victims (self, &ps, node_at (self, cs, snap, i), pod, &cands[ncands]);
        if (r < 0)
            break;
        if (r == 0)
            no_victims++;
        else
            ncands++;
    }
    tr_sched_status_t out;
    if (ncands == 0) {
        char a[96] = "", b[96] = "";
        if (no_victims)
            snprintf (a, sizeof a, "%zu %s", no_victims, NO_VICTIMS);
        if (not_helpful)
            snprintf (b, sizeof b, "%zu %s", not_helpful, NOT_HELPFUL);
        const char *first = a, *second = b;
        if (*a && *b && strcmp (a, b) > 0) {
            first = b;
            second = a;
        }
        out.code = TR_SCHED_UNSCHEDULABLE;
        out.reason = self->host->intern (cs, "preemption: 0/%zu nodes are available: %s%s%s.", n, *first ? first : second,
                                         *first && *second ? ", " : "", *first ? second : "");
        /* no candidate: a nomination the pod holds goes (Kubernetes returns a result with
         * NominatedNodeName "" here, and the scheduler clears status.nominatedNodeName); a pod
         * not eligible above keeps it (it waits for its victims) */
        self->host->preempt (cs, pod, "", NULL, 0);
    } else {
        size_t best = 0;
        for (size_t i = 1; i < ncands; i++)
            if (better (&cands[i], &cands[best]))
                best = i;
        const candidate_t *c = &cands[best];
        if (self->host->preempt (cs, pod, c->node->name, (const tr_sched_pod_t *const *) c->victims, c->nvictims) < 0) {
            out.code = TR_SCHED_ERROR;
            out.reason = self->host->intern (cs, "preemption: nominating node %s failed", c->node->name);
        } else { /* Kubernetes' Success with a nominated node; the reason only says what was done */
            out.code = TR_SCHED_SUCCESS;
            char viol[64] = ""; /* a budget the eviction goes against, said (best effort) */
            if (c->nviolating)
                snprintf (viol, sizeof viol, ", %zu violating a PodDisruptionBudget", c->nviolating);
            out.reason = self->host->intern (cs, "preemption: nominated node %s (%zu victim%s%s)", c->node->name,
                                             c->nvictims, c->nvictims == 1 ? "" : "s", viol);
        }
    }
    for (size_t i = 0; i < ncands; i++)
        free (cands[i].victims);
    free (cands);
    free (ps.allowed);
    return out;
}

/* ---- init -------------------------------------------------------------------------------- */

static void *
dp_init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    dp_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->host = host;
    self->min_pct = 10;
    self->min_abs = 100;
    const json_t *p = json_object_get (args, "minCandidateNodesPercentage");
    const json_t *a = json_object_get (args, "minCandidateNodesAbsolute");
    if (p) {
        if (!json_is_integer (p) || json_integer_value (p) < 0 || json_integer_value (p) > 100) {
            snprintf (err, errlen, "DefaultPreemption: minCandidateNodesPercentage: must be an integer in 0..100");
            free (self);
            return NULL;
        }
        self->min_pct = json_integer_value (p);
    }
    if (a) {
        if (!json_is_integer (a) || json_integer_value (a) < 0) {
            snprintf (err, errlen, "DefaultPreemption: minCandidateNodesAbsolute: must be a non-negative integer");
            free (self);
            return NULL;
        }
        self->min_abs = json_integer_value (a);
    }
    if (self->min_pct == 0 && self->min_abs == 0) {
        snprintf (err, errlen, "DefaultPreemption: minCandidateNodesPercentage and minCandidateNodesAbsolute cannot both be 0");
        free (self);
        return NULL;
    }
    return self;
}

static void
dp_destroy (void *self)
{
    free (self);
}

static const tr_sched_plugin_t dp_plugin = {
    TR_SCHED_PLUGIN_HEADER (DP_NAME),
    .init = dp_init,
    .destroy = dp_destroy,
    .post_filter = dp_post_filter,
    .events = TR_SCHED_EV_POD_DELETE | TR_SCHED_EV_NODE_ADD | TR_SCHED_EV_NODE_ALLOCATABLE,
};

const tr_sched_plugin_t *
sched_plugin_defaultpreemption (void)
{
    return &dp_plugin;
}
