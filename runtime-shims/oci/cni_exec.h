/* cni_exec — one call of one CNI plugin, as the CNI spec 1.0 ("Execution protocol") says a
 * runtime makes it: the binary bin_dir/<type> run with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
 * CNI_IFNAME, CNI_PATH (and a PATH, since the plugins run iptables) in an environment of its
 * own, the network config on stdin, the result or the error read from stdout.
 *
 * Bounded: stdout is read up to CNI_EXEC_MAX_OUT bytes, the call lasts at most timeout_s; a
 * plugin that overruns either is killed with its whole process group (it runs in one of its
 * own, so the iptables it started die with it). Internal to the cni module; cni.h has the
 * parser of the output (cni_parse_output), which is separate so it can be fuzzed.
 */
#ifndef TROUPE_CNI_EXEC_H
#define TROUPE_CNI_EXEC_H

#include "runtime-shims/oci/cni.h"

#define CNI_EXEC_MAX_OUT (1024 * 1024)

/* Runs plugin conf.type with command ("ADD", "DEL", "CHECK", "VERSION") for container id on
 * ifname in netns (may be "" on DEL), conf (the whole per-plugin config: name, cniVersion,
 * prevResult... already in it) on stdin. Success: 0 and *result = the parsed result (new ref,
 * or NULL when the plugin printed nothing, as DEL and CHECK do). Failure: -1 and err says
 * "plugin <type>: ..." — the plugin's msg, code and details, a missing binary with its path, a
 * timeout, or an exit status with what it printed. result may be NULL when not wanted. */
int cni_exec_plugin (const cni_config_t *c, const char *command, const char *id, const char *netns,
                     const char *ifname, const json_t *conf, json_t **result, char *err, size_t errlen);

/* Writes len bytes to path through path.tmp, fsync and rename: a reader sees the old file or
 * the new one, never half of it. 0 or -1 with err naming the path. */
int cni_write_atomic (const char *path, const char *data, size_t len, char *err, size_t errlen);

#endif
