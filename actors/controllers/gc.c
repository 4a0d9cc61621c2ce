/* gc — see gc.h. */
#include "actors/controllers/gc.h"
#include "core/value.h"

#include <string.h>

static int
tracked (const char *kind, const char *const *kinds)
{
    for (int i = 0; kind && kinds && kinds[i]; i++)
        if (!strcmp (kinds[i], kind))
            return 1;
    return 0;
}

void
gc_collect_one (const json_t *o, const json_t *live, const char *const *kinds, ctrl_actions_t *out)
{
    json_t *refs = tv_get (o, "metadata.ownerReferences");
    if (!json_array_size (refs) || tv_get (o, "metadata.deletionTimestamp"))
        return;
    size_t j;
    json_t *r;
    json_array_foreach (refs, j, r) {
        const char *uid = tv_str (r, "uid");
        if (!tracked (tv_str (r, "kind"), kinds) || (uid && json_object_get (live, uid)))
            return; /* an owner alive */
    }
    ctrl_actions_add (out, TR_VERB_DELETE, tv_str (o, "kind"), tv_str (o, "metadata.namespace"),
                      tv_str (o, "metadata.name"), 0, NULL, tv_str (o, "metadata.name"));
}

int
gc_dependent_changed (const json_t *old, const json_t *obj)
{
    const json_t *refs = tv_get (obj, "metadata.ownerReferences");
    if (!old)
        return json_array_size (refs) > 0;
    return !json_equal (tv_get (old, "metadata.ownerReferences"), refs) && json_array_size (refs) > 0;
}

int
gc_owner_replaced (const json_t *old, const json_t *obj)
{
    return old && obj && !json_equal (tv_get (old, "metadata.uid"), tv_get (obj, "metadata.uid"));
}

int
gc_delete_failed (int code)
{
    return code != TR_OK && code != TR_NOT_FOUND;
}
