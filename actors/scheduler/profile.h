/* profile — scheduler profiles from a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1):
 * percentageOfNodesToScore, profiles[] {schedulerName, plugins {multiPoint, queueSort, preFilter,
 * filter, postFilter, preScore, score, reserve, permit, preBind, bind: {enabled: [{name, weight,
 * path}], disabled: [{name}]}}, pluginConfig [{name, args}]}. Without a file: one profile,
 * "default-scheduler", with Kubernetes' default plugins (the built-ins that exist).
 *
 * Troupe's extension: `{name: X, path: /abs/libx.so}` in an enabled list loads a plugin with
 * dlopen; it is first probed in a fork()ed child (dlopen, entry, init, destroy) so a plugin that
 * crashes in init refuses its profile ("plugin X crashed in init: SIGSEGV") instead of the
 * scheduler; its ABI is checked (major equal, minor and struct sizes not newer than the host's).
 */
#ifndef TROUPE_SCHED_PROFILE_H
#define TROUPE_SCHED_PROFILE_H

#include "actors/scheduler/framework.h"

#include <jansson.h>
#include <stddef.h>

/* The default profile. NULL with err on failure (a built-in refusing its args). */
fw_profile_t *sched_profile_default (const char *scheduler_name, int percentage, char *err, size_t errlen);

typedef struct {
    fw_profile_t *profiles[16];
    size_t nprofiles;
    char errors[4][512]; /* profiles that failed to load: why (logged by the caller) */
    size_t nerrors;
} sched_config_t;

/* Builds every profile of a parsed configuration document (cfg NULL: the default). A profile
 * that fails is left out with its error in out->errors; the others load. Returns 0, or -1 when
 * the document itself is wrong (apiVersion/kind, not a map) with err. */
int sched_config_load (const json_t *cfg, const char *file, sched_config_t *out, char *err, size_t errlen);
/* Reads and parses a YAML file, then sched_config_load. */
int sched_config_load_file (const char *path, sched_config_t *out, char *err, size_t errlen);
void sched_config_clear (sched_config_t *cfg);

/* Opens a plugin .so: probe in a child, dlopen, ABI checks. Returns the descriptor with *dl set,
 * or NULL with err. */
const tr_sched_plugin_t *sched_plugin_open (const char *path, const json_t *args, void **dl, char *err,
                                            size_t errlen);

#endif
