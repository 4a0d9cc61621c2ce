/* pdbindex — the disruption controller's PodDisruptionBudgets by namespace, each with its label
 * selector parsed once: a pod event looks up only the budgets of the pod's namespace (Kubernetes'
 * getPdbForPod: pdbLister.PodDisruptionBudgets(ns).List) and matches the cached selectors,
 * instead of walking every budget of the cluster and parsing each selector again. Kept by the
 * PDB informer's handlers (and by each budget's sync, so the selector used is the synced one's).
 * A budget's selector is parsed again only when its spec.selector changes (the tree compared;
 * its status writes change its resourceVersion, not its selector). An absent or invalid
 * selector selects nothing, an empty one every pod (disruption.h). Pure: no informer. */
#ifndef TROUPE_PDBINDEX_H
#define TROUPE_PDBINDEX_H

#include "core/selector.h"

#include <jansson.h>
#include <stddef.h>

typedef struct pdbentry pdbentry_t;

typedef struct {
    json_t *by_ns;     /* namespace → {name → slot in v} */
    pdbentry_t *v;     /* the budgets, by slot; a free slot has no name */
    size_t n, cap;     /* slots used (free ones included), allocated */
    json_t *free;      /* free slots (integers) */
    size_t count;      /* budgets held */
    size_t parses;     /* selectors parsed so far (tests: the cache is kept, and dropped on change) */
} pdbindex_t;

void pdbindex_init (pdbindex_t *x);
void pdbindex_destroy (pdbindex_t *x);
/* A budget added or changed: filed under its namespace, its selector parsed if new or changed.
 * One without a namespace or a name is ignored. */
void pdbindex_put (pdbindex_t *x, const json_t *pdb);
void pdbindex_del (pdbindex_t *x, const json_t *pdb);
/* Calls fn with the key ("ns/name") of each budget of namespace ns whose selector selects labels
 * or old_labels (maps, or NULL: none), or of every budget of ns when all is set. */
void pdbindex_matching (const pdbindex_t *x, const char *ns, const json_t *labels, const json_t *old_labels, int all,
                        void (*fn) (void *arg, const char *key), void *arg);
/* 1 with *sel the cached selector of ns/name (NULL: it selects nothing), or 0 if not held. */
int pdbindex_selector (const pdbindex_t *x, const char *ns, const char *name, const selector_t **sel);

/* A pod of namespace ns by name (borrowed), or NULL. */
typedef const json_t *(*pdbindex_pod_fn) (void *arg, const char *ns, const char *name);
/* A new array of the pods that budget ns/name selects among keys (an object whose keys are the
 * "ns/name" of the namespace's pods, as podindex_ns gives), each looked up by get; empty when the
 * budget is not held or selects nothing. */
json_t *pdbindex_select_pods (const pdbindex_t *x, const char *ns, const char *name, const json_t *keys,
                              pdbindex_pod_fn get, void *arg);
size_t pdbindex_size (const pdbindex_t *x);
size_t pdbindex_parses (const pdbindex_t *x);

#endif
