/* priority — see priority.h. */
#include "broker/priority.h"
#include "core/value.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    json_int_t value;
    const char *description;
} builtins[] = {
    {"system-node-critical", PRIO_SYSTEM_NODE, "Used for system critical pods that must not be moved from their current node."},
    {"system-cluster-critical", PRIO_SYSTEM_CLUSTER, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
};

json_t *
prio_builtin (size_t i)
{
    if (i >= sizeof builtins / sizeof builtins[0])
        return NULL;
    return json_pack ("{s:s,s:s,s:{s:s},s:I,s:b,s:s,s:s}", "apiVersion", "scheduling.k8s.io/v1", "kind", "PriorityClass",
                      "metadata", "name", builtins[i].name, "value", builtins[i].value, "globalDefault", 0,
                      "description", builtins[i].description, "preemptionPolicy", "PreemptLowerPriority");
}

int
prio_is_builtin (const char *name)
{
    for (size_t i = 0; name && i < sizeof builtins / sizeof builtins[0]; i++)
        if (!strcmp (builtins[i].name, name))
            return 1;
    return 0;
}

int
prio_class_check (const json_t *pc, const json_t *cur, const json_t *classes, int *forbidden, char *err, size_t errlen)
{
    *forbidden = 0;
    const char *name = tv_str (pc, "metadata.name");
    json_int_t value = tv_int (pc, "value", 0);
    if (name && !strncmp (name, "system-", 7)) {
        size_t i;
        for (i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
            if (!strcmp (builtins[i].name, name))
                break;
        if (i == sizeof builtins / sizeof builtins[0] || value != builtins[i].value || tv_bool (pc, "globalDefault", 0)) {
            snprintf (err, errlen,
                      "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
                      "error: %s is not a known system priority class", name);
            return -1;
        }
    } else if (value > PRIO_HIGHEST_USER) {
        snprintf (err, errlen, "value: Forbidden: maximum allowed value of a user defined priority is %d", PRIO_HIGHEST_USER);
        return -1;
    }
    if (cur) { /* ValidatePriorityClassUpdate */
        if (!json_equal (json_object_get (cur, "value"), json_object_get (pc, "value"))) {
            snprintf (err, errlen, "value: Forbidden: may not be changed in an update.");
            return -1;
        }
        const char *op = tv_str (cur, "preemptionPolicy"), *np = tv_str (pc, "preemptionPolicy");
        if (op && np && strcmp (op, np)) {
            snprintf (err, errlen, "preemptionPolicy: Invalid value: \"%s\": field is immutable", np);
            return -1;
        }
    }
    if (tv_bool (pc, "globalDefault", 0)) {
        size_t i;
        json_t *c;
        json_array_foreach (classes, i, c) {
            const char *cn = tv_str (c, "metadata.name");
            if (tv_bool (c, "globalDefault", 0) && cn && name && strcmp (cn, name)) {
                *forbidden = 1;
                snprintf (err, errlen, "PriorityClass %s is already marked as default. Only one default can exist", cn);
                return -1;
            }
        }
    }
    return 0;
}

int
prio_admit_pod (json_t *pod, const json_t *classes, char *err, size_t errlen)
{
    json_t *spec = json_object_get (pod, "spec");
    if (!json_is_object (spec))
        return 0;
    const char *want = tv_str (spec, "priorityClassName");
    const json_t *cls = NULL;
    size_t i;
    json_t *c;
    if (want && *want) {
        json_array_foreach (classes, i, c) if (tv_str (c, "metadata.name") && !strcmp (tv_str (c, "metadata.name"), want))
            cls = c;
        if (!cls) {
            snprintf (err, errlen, "no PriorityClass with name %s was found", want);
            return -1;
        }
    } else {
        /* the globalDefault class; of several (a race between two creates), the lowest value, as Kubernetes */
        json_array_foreach (classes, i, c) if (tv_bool (c, "globalDefault", 0) &&
                                               (!cls || tv_int (c, "value", 0) < tv_int (cls, "value", 0)))
            cls = c;
    }
    json_int_t priority = cls ? tv_int (cls, "value", 0) : 0;
    const char *policy = cls && tv_str (cls, "preemptionPolicy") ? tv_str (cls, "preemptionPolicy") : "PreemptLowerPriority";
    const json_t *given = json_object_get (spec, "priority");
    if (given && !json_is_null (given) && (!json_is_integer (given) || json_integer_value (given) != priority)) {
        snprintf (err, errlen,
                  "the integer value of priority (%lld) must not be provided in pod spec; priority admission controller "
                  "computed %lld from the given PriorityClass name",
                  (long long) (json_is_integer (given) ? json_integer_value (given) : 0), (long long) priority);
        return -1;
    }
    const char *gp = tv_str (spec, "preemptionPolicy");
    if (gp && strcmp (gp, policy)) {
        snprintf (err, errlen,
                  "the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission "
                  "controller computed %s from the given PriorityClass name",
                  gp, policy);
        return -1;
    }
    if (cls && (!want || !*want))
        json_object_set_new (spec, "priorityClassName", json_string (tv_str (cls, "metadata.name")));
    json_object_set_new (spec, "priority", json_integer (priority));
    json_object_set_new (spec, "preemptionPolicy", json_string (policy));
    return 0;
}
