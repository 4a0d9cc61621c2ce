/* sched_objs — the Node and Pod objects the framework tests and bench_sched_scan build by hand
 * (header-only: the bench links no test code).
 *
 *   sched_obj_node ("n1", "4")               a Ready node, 4 cpu, 8Gi, 110 pods, hostname label
 *   sched_obj_pod ("p", 100, "1", "n1")      a pod of priority 100 asking 1 cpu, bound to n1
 *                                            (NULL: pending)
 */
#ifndef TROUPE_TEST_SCHED_OBJS_H
#define TROUPE_TEST_SCHED_OBJS_H

#include "core/value.h"

#include <jansson.h>

static inline json_t *
sched_obj_node (const char *name, const char *cpu)
{
    return json_pack ("{s:{s:s,s:{s:s}},s:{},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}", "metadata", "name", name, "labels",
                      "kubernetes.io/hostname", name, "spec", "status", "allocatable", "cpu", cpu, "memory", "8Gi", "pods",
                      "110", "conditions", "type", "Ready", "status", "True");
}

static inline json_t *
sched_obj_pod (const char *uid, int prio, const char *cpu, const char *on)
{
    json_t *p = json_pack ("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:i,s:[{s:s,s:{s:{s:s}}}]},s:{}}", "apiVersion", "v1", "kind", "Pod",
                           "metadata", "name", uid, "namespace", "default", "uid", uid, "spec", "priority", prio,
                           "containers", "name", "c", "resources", "requests", "cpu", cpu, "status");
    if (on)
        tv_set (p, "spec.nodeName", json_string (on));
    return p;
}

#endif
