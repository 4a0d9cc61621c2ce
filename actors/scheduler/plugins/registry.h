/* registry — the built-in scheduler plugins by name, and Kubernetes' default profile. */
#ifndef TROUPE_SCHED_REGISTRY_H
#define TROUPE_SCHED_REGISTRY_H

#include "actors/scheduler/nodehot.h"
#include "actors/scheduler/sched_plugin.h"

#include <stddef.h>
#include <stdint.h>

const tr_sched_plugin_t *sched_plugin_prioritysort (void);
const tr_sched_plugin_t *sched_plugin_nodename (void);
const tr_sched_plugin_t *sched_plugin_nodeunschedulable (void);
const tr_sched_plugin_t *sched_plugin_nodeready (void);
const tr_sched_plugin_t *sched_plugin_noderesourcesfit (void);
const tr_sched_plugin_t *sched_plugin_nodeaffinity (void);
const tr_sched_plugin_t *sched_plugin_tainttoleration (void);
const tr_sched_plugin_t *sched_plugin_defaultbinder (void);
const tr_sched_plugin_t *sched_plugin_noderesourcesbalancedallocation (void);
const tr_sched_plugin_t *sched_plugin_nodeports (void);
const tr_sched_plugin_t *sched_plugin_imagelocality (void);
const tr_sched_plugin_t *sched_plugin_interpodaffinity (void);
const tr_sched_plugin_t *sched_plugin_podtopologyspread (void);
const tr_sched_plugin_t *sched_plugin_defaultpreemption (void);

/* The built-ins' hooks over the nodes' hot lines (nodehot.h) */
const nodehot_hooks_t *sched_plugin_nodeunschedulable_hot (void);
const nodehot_hooks_t *sched_plugin_nodeready_hot (void);
const nodehot_hooks_t *sched_plugin_tainttoleration_hot (void);
const nodehot_hooks_t *sched_plugin_noderesourcesfit_hot (void);
const nodehot_hooks_t *sched_plugin_noderesourcesbalancedallocation_hot (void);
const nodehot_hooks_t *sched_plugin_imagelocality_hot (void);

/* ImageLocality's normalization: "busybox" → "docker.io/library/busybox:latest". */
void sched_image_normalize (const char *in, char *out, size_t len);

/* A built-in by name, NULL if none. */
const tr_sched_plugin_t *sched_registry_find (const char *name);

/* The default profile's multiPoint plugins, in order, with their score weights (0: no Score). */
typedef struct {
    const char *name;
    int64_t weight;
} sched_default_t;
size_t sched_registry_defaults (const sched_default_t **out);

#endif
