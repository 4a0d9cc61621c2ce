/* gc — the garbage collector's decision, pure: objects whose every ownerReference points to an
 * owner that no longer exists are deleted (background propagation). Owners are identified by
 * uid; only owner kinds the caller tracks are judged (an owner of another kind is assumed alive). */
#ifndef TROUPE_GC_H
#define TROUPE_GC_H

#include "actors/controllers/ctrl.h"

/* dependent: an object (with kind); a delete of it is added to out when every owner it names of
 * a tracked kind is missing from live. live: map uid → true of existing owners.
 * tracked_kinds: NULL-terminated owner kinds the caller knows the complete set of. */
void gc_collect_one (const json_t *dependent, const json_t *live, const char *const *tracked_kinds, ctrl_actions_t *out);
/* Whether a dependent's change is the collector's business, as Kubernetes' graph builder sees
 * it: it came (old NULL) with owners, or its ownerReferences changed. A dependent that comes
 * without owners, or whose status alone changed, cannot have become garbage. */
int gc_dependent_changed (const json_t *old, const json_t *obj);
/* Whether an owner's update is another object under the same name (its uid changed): one
 * deleted and created again while the watch was down comes from the informer's relist as an
 * update (it diffs by name), and the dependents of the one that went are garbage. */
int gc_owner_replaced (const json_t *old, const json_t *obj);
/* Whether a reply to the collector's delete asks for a pass over every dependent next time (the
 * event-driven pass would not look at that dependent again): any code but OK and NotFound (the
 * object already gone: the goal). */
int gc_delete_failed (int code);

#endif
