/* placecheck — validates every placement of a cluster from its Pods, Nodes (and Events), pure:
 * JSON in, violations out. The scheduling benchmark runs it after each run (bench/sched/
 * schedcheck): a run whose placements are wrong reports failure, not a number. It shares no code
 * with the scheduler's plugins (only core's quantity and label-selector parsers), so a bug there
 * is not checked by itself.
 *
 * It checks the END STATE, as the scheduler would have computed it with every pod now bound in
 * its snapshot; only non-terminated bound pods (phase not Succeeded/Failed) count, as the
 * scheduler's informer filters terminal pods out:
 *   node            every bound pod's node exists
 *   resources       no node over its allocatable (status.allocatable, else status.capacity; an
 *                   absent resource is 0, as Kubernetes): cpu, memory, ephemeral-storage, pods,
 *                   extended resources. A pod's request is Kubernetes' effective request (max of
 *                   the containers' sum and each init container, sidecars counted; a request
 *                   defaults to its limit; + spec.overhead). Pods are added in binding order
 *                   (PodScheduled's lastTransitionTime): each pod that asked for a resource the
 *                   node had no more of is reported.
 *   nodeSelector    every label of spec.nodeSelector on the node
 *   nodeAffinity    requiredDuringSchedulingIgnoredDuringExecution (In, NotIn, Exists,
 *                   DoesNotExist, Gt, Lt; matchFields metadata.name)
 *   taint           every NoSchedule/NoExecute taint tolerated (a NoExecute taint whose
 *                   timeAdded is after the pod's binding came later: not a placement error)
 *   podAffinity     each required term has another matching pod in the node's topology domain,
 *                   or the pod matches its own term and no matching pod was bound before it
 *                   (Kubernetes' first-pod-of-a-group rule)
 *   podAntiAffinity no other pod matching a required term in the domain; reported against the
 *                   pod bound later (its own term, or the other pod's: symmetry)
 *   topologySpread  DoNotSchedule constraints: matching pods in the pod's domain minus the least
 *                   populated eligible domain (0 when fewer domains than minDomains) <= maxSkew;
 *                   eligible nodes have every constraint key and, with nodeAffinityPolicy Honor
 *                   (default), pass the pod's nodeSelector/affinity; nodeTaintsPolicy Honor too
 *   bound-once      with Events: at most one "Scheduled" Event (counting its count) per pod, and
 *                   its "Successfully assigned ns/name to NODE" names the pod's node now
 * Terms with a non-empty namespaceSelector need Namespace labels: they are counted in
 * unchecked_terms, not checked.
 */
#ifndef TROUPE_PLACECHECK_H
#define TROUPE_PLACECHECK_H

#include <jansson.h>
#include <stddef.h>

typedef struct {
    char pod[320];    /* ns/name */
    char node[256];
    char rule[32];    /* node, resources, nodeSelector, nodeAffinity, taint, podAffinity,
                       * podAntiAffinity, topologySpread, bound-once */
    char detail[512];
} pc_violation_t;

typedef struct {
    size_t pods, bound, pending, terminated, nodes;
    int events_checked;       /* events were given */
    size_t with_scheduled_event; /* bound pods with a Scheduled Event (when events_checked) */
    size_t unchecked_terms;
    /* placement quality, not a rule: the cpu requested on each schedulable node with cpu, as a
     * fraction of its allocatable (how evenly LeastAllocated spread the load; with and without
     * percentageOfNodesToScore sampling, docs/benchmarks.md) */
    size_t balance_nodes;
    double cpu_min, cpu_mean, cpu_max, cpu_sd;
    size_t nviol, cap;
    pc_violation_t *viol;
} pc_result_t;

/* pods, nodes, events: a List ({items: [...]}) or an array; events may be NULL. Fills out (clear
 * it with pc_result_clear). Returns the number of violations, or -1 when pods or nodes is not a
 * list (err says which). */
int pc_check (const json_t *pods, const json_t *nodes, const json_t *events, pc_result_t *out, char *err,
              size_t errlen);
void pc_result_clear (pc_result_t *r);
/* How many violations of rule (for tests and summaries). */
size_t pc_count (const pc_result_t *r, const char *rule);

#endif
