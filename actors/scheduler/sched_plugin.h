/* sched_plugin — THE interface of a scheduler plugin, built-in or loaded with dlopen from a
 * profile (`plugins: {filter: {enabled: [{name: X, path: /x/libx.so}]}}`). One header, nothing
 * else to include but jansson: a third-party plugin links against no Troupe symbol, everything it
 * may call comes in the host table handed to init().
 *
 * Kubernetes' scheduling framework, point for point: QueueSort, PreFilter, Filter, PostFilter,
 * PreScore, Score (+ NormalizeScore, weights from the profile), Reserve/Unreserve, Permit,
 * PreBind, Bind. A plugin fills the hooks it implements and leaves the others NULL.
 *
 * ABI: a plugin exports `const tr_sched_plugin_t *troupe_sched_plugin_entry (void)`. Its
 * descriptor says which ABI it was built against (major, minor) and the sizes of the structs as
 * it saw them. The host refuses a plugin whose major differs, whose minor is newer than its own,
 * or that expects a struct larger than the host's (it was built against a newer header). Structs
 * only ever grow at their end, within a major; a plugin built against an older minor keeps
 * working. Every struct begins with its size as filled by whoever made it.
 *
 * Threads: Filter and Score may be called from several threads at once for different nodes of
 * one cycle (the framework splits a long Filter scan across the cores: KubeSchedulerConfiguration's
 * parallelism). They must only read the pod,
 * the node, the snapshot and what PreFilter/PreScore wrote into the cycle state. Every other
 * hook runs on the scheduler's thread, one pod at a time.
 *
 * Lifetimes: pods, nodes and the snapshot are the framework's, valid for the call (and for the
 * cycle for the snapshot). A reason string returned in a status must outlive the cycle: a
 * literal, or host->intern (cs, ...).
 */
#ifndef TROUPE_SCHED_PLUGIN_H
#define TROUPE_SCHED_PLUGIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TR_SCHED_ABI_MAJOR 2
#define TR_SCHED_ABI_MINOR 0

/* ---- status ------------------------------------------------------------------------------ */

typedef enum {
    TR_SCHED_SUCCESS = 0,
    TR_SCHED_ERROR,          /* internal error: the pod is retried with back-off */
    TR_SCHED_UNSCHEDULABLE,  /* this node does not fit now; preemption may help */
    TR_SCHED_UNRESOLVABLE,   /* UnschedulableAndUnresolvable: preemption cannot help */
    TR_SCHED_WAIT,           /* Permit: hold the pod (assumed, reserved) up to *wait_ms (at most
                              * 15 min) until host->allow_waiting / reject_waiting */
    TR_SCHED_SKIP,           /* PreFilter/PreScore: skip this plugin's Filter/Score for the pod;
                              * Bind: not mine, ask the next binder */
} tr_sched_code_t;

typedef struct {
    tr_sched_code_t code;
    const char *reason;      /* "Insufficient cpu", "node(s) didn't match Pod's node affinity/selector";
                              * several reasons (Kubernetes' Status.Reasons, as NodeResourcesFit's
                              * "Insufficient cpu" and "Insufficient memory") joined by '\n': the
                              * FitError counts each one. Order carries no meaning. */
} tr_sched_status_t;

#define TR_SCHED_OK ((tr_sched_status_t) {TR_SCHED_SUCCESS, NULL})

/* ---- resources: parsed once, integers ---------------------------------------------------- */

#define TR_SCHED_MAX_SCALAR 8 /* extended resources (example.com/foo, hugepages-2Mi...) a struct holds */

typedef struct {
    const char *name;        /* interned by the scheduler: lives as long as the process (ABI 2.0;
                              * it was an inline char[64], 1.4 KiB of every node); copy the
                              * pointer, never write through it. Names of 64 bytes or more, and
                              * names past the scheduler's 1,024 distinct ones, are not held. */
    int64_t value;           /* as Quantity.Value(): whole units, rounded up */
} tr_sched_scalar_t;

typedef struct {
    int64_t milli_cpu;
    int64_t memory;          /* bytes */
    int64_t ephemeral_storage;
    int64_t pods;            /* allocatable: pod slots; requested: pods counted */
    uint32_t nscalar;
    tr_sched_scalar_t scalar[TR_SCHED_MAX_SCALAR];
} tr_sched_res_t;

/* ---- a pod, with what every plugin would otherwise compute again ------------------------- */

typedef struct tr_sched_pod {
    uint32_t size;           /* sizeof (tr_sched_pod_t) of the framework */
    const json_t *obj;       /* the Pod object as stored: metadata and spec whole; of its status only
                              * phase, conditions, nominatedNodeName and startTime (the scheduler's
                              * informer decodes no more: container statuses and addresses a node
                              * reports are not there) */
    const char *ns, *name, *uid;
    const json_t *labels;    /* metadata.labels (object, maybe empty), never NULL */
    int32_t priority;        /* spec.priority (0 when absent) */
    int64_t created_ms;      /* when the scheduler first saw it pending (queue order, latency) */
    /* Kubernetes' effective request: max (sum of containers, each init container) + overhead;
     * pods = 1. nonzero_*: the same with 100m cpu / 200Mi memory for containers that ask none
     * (what scoring uses, as the scheduler's non-zero defaults). */
    tr_sched_res_t requests;
    int64_t nonzero_milli_cpu, nonzero_memory;
    const char *node_name;   /* spec.nodeName for a bound or assumed pod, else NULL */
    int has_affinity;        /* spec.affinity.podAffinity or .podAntiAffinity present */
    int has_required_anti_affinity;
    /* Appended in 1.1 (a plugin checks pod->size first): metadata.deletionTimestamp set
     * (PodTopologySpread leaves such pods out of its counts); the snapshot moves the node's
     * generation when it changes */
    int terminating;
    /* Appended in 1.3 (check pod->size): status.startTime in milliseconds since the epoch,
     * parsed once when the pod is set (INT64_MAX when it has none: not started yet, later than
     * any start). What preemption compares among victims; the object's lookups were a quarter of
     * the scheduler's thread in the Preemption benchmark. */
    int64_t start_ms;
} tr_sched_pod_t;

/* ---- a node of the snapshot -------------------------------------------------------------- */

/* A node taint, parsed once per change of the node (strings live as long as the node's obj). */
typedef struct {
    const char *key, *value;  /* "" when absent, never NULL */
    const char *effect;       /* "NoSchedule", "PreferNoSchedule", "NoExecute" (as written) */
} tr_sched_taint_t;

typedef struct tr_sched_node {
    uint32_t size;           /* sizeof (tr_sched_node_t) of the framework */
    /* ABI 2.0 laid the node out for the scans: a Filter and Score pass reads 500 nodes or more a
     * pod, and what they read of each comes first (this line), then allocatable (the next),
     * requested at its own line; what a scan reads rarely follows. */
    int unschedulable;       /* spec.unschedulable */
    int ready;               /* status.conditions[type=Ready].status == "True" */
    uint32_t npods;
    uint32_t ntaints;        /* spec.taints parsed, so Filter does not walk the node's JSON */
    uint32_t nimages;        /* entries of status.images (ImageLocality skips nodes with none) */
    int64_t nonzero_milli_cpu, nonzero_memory; /* sum of the pods' nonzero requests */
    const tr_sched_taint_t *taints;
    /* the framework's packed copy of the labels, for its own plugins' lookups
     * (actors/scheduler/nodelabels.h); opaque, may be NULL. A plugin reads labels. */
    const void *label_index;
    const char *name;
    tr_sched_res_t allocatable;
    const json_t *obj;       /* the Node object */
    const json_t *labels;    /* metadata.labels, never NULL */
    const tr_sched_pod_t *const *pods; /* bound or assumed here */
    tr_sched_res_t requested;          /* sum of the pods' requests (bound and assumed) */
    uint32_t npods_with_affinity;
    const tr_sched_pod_t *const *pods_with_affinity;
    uint32_t npods_with_required_anti_affinity;
    const tr_sched_pod_t *const *pods_with_required_anti_affinity;
    uint64_t generation;     /* moved on every change of the node or its pods, from one counter for
                              * all nodes: no two nodes, old or new, ever have the same */
    /* Fields appended within 2.x go here (a plugin checks node->size before reading one). */
} tr_sched_node_t;

typedef struct {
    uint64_t generation;
    uint32_t index;
} tr_sched_gen_move_t;

typedef struct {
    uint32_t size;
    uint32_t nnodes;
    const tr_sched_node_t *const *nodes;   /* every node, in a stable order */
    /* nodes holding at least one pod with (anti-)affinity: what InterPodAffinity's PreFilter scans */
    uint32_t nnodes_with_affinity;
    const tr_sched_node_t *const *nodes_with_affinity;
    /* Appended in 1.1 (check size): what changed since a plugin last looked, so a per-node
     * cache walks the nodes that moved instead of all of them. layout moves whenever nodes[]
     * changes membership or order (0: this snapshot keeps no journal: walk every node).
     * generation: the latest generation any node got. journal[0..njournal): each generation move
     * of a node of nodes[] (its index there and the generation it got), oldest first; it holds
     * every move after journal_from. A plugin that saw generation G at this layout, with
     * G >= journal_from, has only the entries after G to look at. */
    uint64_t layout, generation, journal_from;
    const tr_sched_gen_move_t *journal;
    uint32_t njournal;
} tr_sched_snapshot_t;

/* ---- a PodDisruptionBudget (policy/v1), as the scheduler's lister holds it (ABI 1.2) ------- */

/* What preemption reads of a PDB, its JSON parsed once per change of the object (not per
 * cycle). Made by the host; a plugin checks pdb->size before reading a field appended later. */
typedef struct tr_sched_pdb {
    uint32_t size;                /* sizeof (tr_sched_pdb_t) of the host */
    const char *ns, *name;
    const json_t *selector;       /* spec.selector as stored (a metav1.LabelSelector), NULL when
                                   * absent; the plugin decides what nil and {} select (Kubernetes'
                                   * preemption: nothing) */
    int32_t disruptions_allowed;  /* status.disruptionsAllowed (0 when absent: no status yet) */
    const json_t *disrupted_pods; /* status.disruptedPods: {pod name: RFC 3339 time}, an object
                                   * (empty when absent), never NULL */
} tr_sched_pdb_t;

/* ---- the cycle state and the host table -------------------------------------------------- */

typedef struct tr_sched_cycle tr_sched_cycle_t; /* per pod per cycle; see the host's read/write */

enum { TR_SCHED_LOG_ERROR = 0, TR_SCHED_LOG_WARN, TR_SCHED_LOG_INFO, TR_SCHED_LOG_DEBUG };

typedef struct tr_sched_host {
    uint32_t size;
    void (*log) (int level, const char *plugin, const char *fmt, ...);
    /* A string that lives until the cycle ends (status reasons built at run time). */
    const char *(*intern) (tr_sched_cycle_t *cs, const char *fmt, ...);
    /* Cycle state, as framework.CycleState: data is freed with free_fn at the end of the cycle
     * (or when written again). Keys are the plugin's own ("PreFilterInterPodAffinity"). */
    void (*write) (tr_sched_cycle_t *cs, const char *key, void *data, void (*free_fn) (void *));
    void *(*read) (tr_sched_cycle_t *cs, const char *key);
    const tr_sched_snapshot_t *(*snapshot) (tr_sched_cycle_t *cs);
    const tr_sched_node_t *(*node) (tr_sched_cycle_t *cs, const char *name); /* NULL: unknown */
    /* A Kubernetes quantity ("500m", "1Gi") in milli-units; 0, or -1 when malformed. */
    int (*quantity_milli) (const char *text, int64_t *out);
    /* metav1.LabelSelector (matchLabels + matchExpressions In/NotIn/Exists/DoesNotExist) against
     * labels: 1 match, 0 not, -1 malformed. NULL selector matches nothing, {} everything. */
    int (*label_selector_match) (const json_t *selector, const json_t *labels);
    /* v1.NodeSelectorTerm list (nodeSelectorTerms; matchExpressions incl. Gt/Lt, matchFields
     * metadata.name) against a node: 1 match, 0 not, -1 no term matched and one was malformed
     * (as Kubernetes' LazyErrorNodeSelector: a malformed term matches nothing, the others count). */
    int (*node_selector_match) (const json_t *terms, const tr_sched_node_t *node);
    /* Nominates pod to run on node once victims are gone (PostFilter); the framework deletes
     * the victims (graceful) and sets status.nominatedNodeName. node "" with no victims clears
     * the pod's nomination instead (Kubernetes' PostFilterResult with NominatedNodeName "":
     * DefaultPreemption found no candidate). */
    int (*preempt) (tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node,
                    const tr_sched_pod_t *const *victims, size_t nvictims);
    /* Appended within 1.0 (a plugin built against an older header sees a smaller host->size;
     * one built against this one checks host->size before calling): Permit's waiting pods, as
     * the framework handle's GetWaitingPod / IterateOverWaitingPods. A pod whose Permit said
     * WAIT is held (assumed, reserved) until every plugin that said WAIT allows it, one rejects
     * it, or a wait runs out. Scheduler's thread only (any hook but Filter and Score); cs is the
     * caller's current cycle, the waiting pods are those of its profile.
     * allow_waiting: plugin (its name) no longer holds the pod; 0, or -1 when the pod does not
     * wait on that plugin. reject_waiting: the pod is rejected (Unreserve, back to the queue as
     * "pod rejected by Permit plugin \"<plugin>\": <message>"); 0, or -1 when it does not wait.
     * waiting_pods: up to max of them (and their nodes) written; returns how many wait. */
    int (*allow_waiting) (tr_sched_cycle_t *cs, const char *uid, const char *plugin);
    int (*reject_waiting) (tr_sched_cycle_t *cs, const char *uid, const char *plugin, const char *message);
    size_t (*waiting_pods) (tr_sched_cycle_t *cs, const tr_sched_pod_t **pods, const char **nodes, size_t max);
    /* Appended within 1.0 (check host->size): a Namespace's metadata.labels (an empty object
     * when it has none), NULL when the scheduler knows no such Namespace (namespaceSelector,
     * as the scheduler's Namespace lister). Valid for the cycle; scheduler's thread only. */
    const json_t *(*namespace_labels) (tr_sched_cycle_t *cs, const char *ns);
    /* Appended in 1.1 (a plugin checks host->size before calling): Kubernetes' DefaultSelector
     * (helper.DefaultSelector) for PodTopologySpread's default constraints, from the
     * scheduler's listers: the selectors of the pod's namespace's Services that select it, and
     * of its controller when that is a ReplicationController, ReplicaSet or StatefulSet, ANDed.
     * 0: *selector is a new LabelSelector (the caller's, json_decref), or NULL when nothing
     * selects the pod; -1: the host keeps no such listers (*selector NULL; the plugin decides
     * without). Scheduler's thread only. */
    int (*default_selector) (tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, json_t **selector);
    /* Appended in 1.1 (check host->size): node i of host->snapshot (cs). In PostFilter, the
     * node as the preemption dry run sees it, with its nominated pods added; a PostFilter that
     * reads nodes only through it lets the framework copy only the nodes it looks at (the
     * framework's DefaultPreemption: Kubernetes adds nominated pods to the candidates only). */
    const tr_sched_node_t *(*snapshot_node) (tr_sched_cycle_t *cs, uint32_t i);
    /* Appended in 1.2 (check host->size): the PodDisruptionBudgets of namespace ns (NULL: of
     * every namespace, as Kubernetes' PDB lister), from the scheduler's informer, ordered by
     * namespace then name. *out: an array of that many, valid until the cycle ends; returns 0
     * (and *out NULL) when there is none or the host keeps no PDB lister. Scheduler's thread
     * only (not Filter or Score). */
    size_t (*pdbs) (tr_sched_cycle_t *cs, const char *ns, const tr_sched_pdb_t *const **out);
} tr_sched_host_t;

/* ---- events: what can make a rejected pod schedulable (queueing hints) ------------------- */

enum {
    TR_SCHED_EV_NODE_ADD = 1u << 0,
    TR_SCHED_EV_NODE_DELETE = 1u << 1,
    TR_SCHED_EV_NODE_ALLOCATABLE = 1u << 2,
    TR_SCHED_EV_NODE_LABEL = 1u << 3,
    TR_SCHED_EV_NODE_TAINT = 1u << 4,
    TR_SCHED_EV_NODE_CONDITION = 1u << 5,
    TR_SCHED_EV_NODE_SCHEDULABLE = 1u << 6,  /* spec.unschedulable changed */
    TR_SCHED_EV_POD_ADD = 1u << 7,           /* a pod assigned to a node */
    TR_SCHED_EV_POD_DELETE = 1u << 8,        /* an assigned pod deleted */
    TR_SCHED_EV_POD_LABEL = 1u << 9,         /* an assigned pod's labels changed */
    TR_SCHED_EV_POD_RESOURCES = 1u << 10,    /* an assigned pod's requests shrank */
    TR_SCHED_EV_ALL = 0xffffffffu,
};

/* ---- the plugin -------------------------------------------------------------------------- */

typedef struct tr_sched_plugin {
    uint16_t abi_major;      /* TR_SCHED_ABI_MAJOR */
    uint16_t abi_minor;      /* TR_SCHED_ABI_MINOR */
    uint32_t size;           /* sizeof (tr_sched_plugin_t) */
    uint32_t pod_size, node_size, host_size; /* sizeof the structs the plugin was built with */
    const char *name;        /* as in profiles: "NodeResourcesFit" */

    /* args: the profile's pluginConfig[].args for this name (NULL: none). NULL return = refuse
     * (err says why; the profile fails to load). May be NULL: the plugin has no state. */
    void *(*init) (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen);
    void (*destroy) (void *self);

    /* QueueSort: a before b? (one QueueSort per profile) */
    int (*less) (void *self, const tr_sched_pod_t *a, const tr_sched_pod_t *b);
    tr_sched_status_t (*pre_filter) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod);
    tr_sched_status_t (*filter) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                 const tr_sched_node_t *node);
    /* Called when no node fits, with the nodes' statuses (index matches snapshot->nodes). */
    tr_sched_status_t (*post_filter) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                      const tr_sched_status_t *node_status, size_t n);
    tr_sched_status_t (*pre_score) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                    const tr_sched_node_t *const *nodes, size_t n);
    tr_sched_status_t (*score) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                const tr_sched_node_t *node, int64_t *score);
    /* scores[i] of nodes[i] (as given to pre_score) → 0..100 in place. */
    tr_sched_status_t (*normalize_score) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                          int64_t *scores, size_t n);
    tr_sched_status_t (*reserve) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node);
    void (*unreserve) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node);
    tr_sched_status_t (*permit) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node,
                                 int64_t *wait_ms);
    tr_sched_status_t (*pre_bind) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node);
    /* SUCCESS: bound (or queued for a batched binding by the framework); SKIP: not mine. */
    tr_sched_status_t (*bind) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const char *node);

    /* TR_SCHED_EV_* that may make a pod this plugin rejected schedulable (0 = any event). */
    uint32_t events;

    /* Appended in 1.4 (the host reads them only from a descriptor whose size holds them): the
     * batch forms of Filter and Score, optional, for a plugin whose per-node work is small next to
     * a call through a pointer (at 5,000 nodes a cycle made 3,500 such calls). Same rules as
     * filter and score (threads, reading only), same answers: filter_nodes puts in st[i] what
     * filter would return for nodes[i]; score_nodes puts in scores[i] what score would, and
     * returns SUCCESS or the first failure (scores are then not read). The per-node hooks stay
     * required: the framework still calls them (a node with nominated pods added, a parallel
     * scan). TR_SCHED_FILTER_NODES / TR_SCHED_SCORE_NODES below make both from one function. */
    void (*filter_nodes) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                          const tr_sched_node_t *const *nodes, size_t n, tr_sched_status_t *st);
    tr_sched_status_t (*score_nodes) (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,
                                      const tr_sched_node_t *const *nodes, size_t n, int64_t *scores);
} tr_sched_plugin_t;

/* The batch form of a per-node Filter (fn, a static function of the plugin's file): defines
 * fn##_nodes, the loop in which the compiler inlines fn (flatten: GCC and Clang), its invariants (the plugin's state, the
 * pod's requests) read once. Then .filter = fn, .filter_nodes = fn##_nodes. */
#define TR_SCHED_FILTER_NODES(fn)                                                                        \
    __attribute__ ((flatten)) static void fn##_nodes (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,                  \
                            const tr_sched_node_t *const *nodes, size_t n, tr_sched_status_t *st)         \
    {                                                                                                    \
        for (size_t i_ = 0; i_ < n; i_++)                                                                \
            st[i_] = fn (self, cs, pod, nodes[i_]);                                                      \
    }

/* The same for Score: .score = fn, .score_nodes = fn##_nodes. */
#define TR_SCHED_SCORE_NODES(fn)                                                                         \
    __attribute__ ((flatten)) static tr_sched_status_t fn##_nodes (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod,     \
                                         const tr_sched_node_t *const *nodes, size_t n, int64_t *scores)  \
    {                                                                                                    \
        for (size_t i_ = 0; i_ < n; i_++) {                                                              \
            scores[i_] = 0;                                                                              \
            tr_sched_status_t s_ = fn (self, cs, pod, nodes[i_], &scores[i_]);                           \
            if (s_.code != TR_SCHED_SUCCESS)                                                             \
                return s_;                                                                               \
        }                                                                                                \
        return (tr_sched_status_t) {TR_SCHED_SUCCESS, NULL};                                            \
    }

typedef const tr_sched_plugin_t *(*tr_sched_plugin_entry_fn) (void);
#define TR_SCHED_PLUGIN_ENTRY "troupe_sched_plugin_entry"

/* Fills the ABI fields of a descriptor: TR_SCHED_PLUGIN_HEADER ("MyPlugin"), then the hooks. */
#define TR_SCHED_PLUGIN_HEADER(nm)                                                                   \
    .abi_major = TR_SCHED_ABI_MAJOR, .abi_minor = TR_SCHED_ABI_MINOR, .size = sizeof (tr_sched_plugin_t), \
    .pod_size = sizeof (tr_sched_pod_t), .node_size = sizeof (tr_sched_node_t),                       \
    .host_size = sizeof (tr_sched_host_t), .name = (nm)

#endif
