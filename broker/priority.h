/* priority — the PriorityClass kind's rules and the Priority admission plugin, as Kubernetes'
 * (plugin/pkg/admission/priority, pkg/apis/scheduling/validation). Pure: the classes come in as
 * an array of PriorityClass objects; the broker supplies them from its cache. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#define PRIO_HIGHEST_USER 1000000000    /* HighestUserDefinablePriority */
#define PRIO_SYSTEM_CLUSTER 2000000000  /* system-cluster-critical */
#define PRIO_SYSTEM_NODE 2000001000     /* system-node-critical */

/* The built-in classes present from the start (i = 0, 1; NULL past them): new objects. */
json_t *prio_builtin (size_t i);
/* 1 when name is a built-in class (not deletable). */
int prio_is_builtin (const char *name);

/* ValidatePriorityClass plus the admission plugin's "only one globalDefault": 0, or -1 with err
 * (a "field: Reason: detail" message); *forbidden = 1 when the api-server answers Forbidden
 * rather than Invalid. cur is the stored class on an update (NULL on create). */
int prio_class_check (const json_t *pc, const json_t *cur, const json_t *classes, int *forbidden, char *err,
                      size_t errlen);

/* The Priority admission plugin on a pod create: resolves spec.priorityClassName (or the
 * globalDefault class, or 0) into spec.priority and spec.preemptionPolicy (default
 * PreemptLowerPriority). 0, or -1 with err (the api-server's Forbidden reason). */
int prio_admit_pod (json_t *pod, const json_t *classes, char *err, size_t errlen);
