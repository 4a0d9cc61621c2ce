/* pdblister — the scheduler's PodDisruptionBudget lister (what host->pdbs answers with), fed by
 * an informer: per PDB only what preemption reads (pdblister_view), parsed into
 * tr_sched_pdb_t once per change, listed by namespace or all, ordered by namespace then name.
 */
#ifndef TROUPE_SCHED_PDBLISTER_H
#define TROUPE_SCHED_PDBLISTER_H

#include "actors/scheduler/sched_plugin.h"

#include <jansson.h>

typedef struct pdblister pdblister_t;

pdblister_t *pdblister_new (void);
void pdblister_destroy (pdblister_t **self_p);
/* A PDB added or updated (metadata.namespace, absent: "default"; metadata.name), or deleted. */
void pdblister_put (pdblister_t *self, const json_t *obj);
void pdblister_del (pdblister_t *self, const json_t *obj);
/* What an informer needs to keep of a PDB (troupe_informer_set_transform): metadata namespace and
 * name, spec.selector, status.disruptionsAllowed and status.disruptedPods. A new reference. */
json_t *pdblister_view (const json_t *obj);
/* The PDBs of ns (NULL: all): *out valid until the next put or del. Returns how many. */
size_t pdblister_list (pdblister_t *self, const char *ns, const tr_sched_pdb_t *const **out);
size_t pdblister_count (const pdblister_t *self);

#endif
