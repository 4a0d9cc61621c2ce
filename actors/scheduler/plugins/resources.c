/* resources — see resources.h. */
#include "actors/scheduler/plugins/resources.h"

#include <stdio.h>
#include <string.h>

int
sr_kind (const char *name)
{
    return !strcmp (name, "cpu")                 ? SR_CPU
           : !strcmp (name, "memory")            ? SR_MEM
           : !strcmp (name, "ephemeral-storage") ? SR_EPH
                                                 : SR_SCALAR;
}

void
sr_list_parse (sr_list_t *l, const json_t *resources)
{
    memset (l, 0, sizeof *l);
    size_t i;
    json_t *r;
    json_array_foreach (resources, i, r) {
        const char *name = json_string_value (json_object_get (r, "name"));
        if (l->n == SR_MAX || !name)
            break;
        snprintf (l->r[l->n].name, sizeof l->r[0].name, "%s", name);
        json_int_t w = json_integer_value (json_object_get (r, "weight"));
        l->r[l->n++].weight = w > 0 ? w : 1;
    }
    if (!l->n) {
        strcpy (l->r[0].name, "cpu");
        strcpy (l->r[1].name, "memory");
        l->r[0].weight = l->r[1].weight = 1;
        l->n = 2;
    }
    for (size_t k = 0; k < l->n; k++)
        l->r[k].kind = sr_kind (l->r[k].name);
}

int64_t
sr_scalar (const tr_sched_res_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->nscalar; i++)
        if (!strcmp (r->scalar[i].name, name))
            return r->scalar[i].value;
    return 0;
}
