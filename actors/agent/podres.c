/* podres — see podres.h. The computations are runtime-shims/oci/cgroup.c's (table-tested in
 * test_cgroup); the agent decides with them and sends the results in the runtime protocol. */
#include "actors/agent/podres.h"
#include "core/value.h"
#include "runtime-shims/oci/cgroup.h"

#include <stdio.h>
#include <string.h>


const char *
podres_qos (const json_t *pod)
{
    return cgroup_qos_name (cgroup_qos (tv_get (pod, "spec")));
}

void
podres_cgroup_parent (const char *parent, const json_t *pod, char *buf, size_t len)
{
    cgroup_pod_path (parent, cgroup_qos (tv_get (pod, "spec")), tv_str (pod, "metadata.uid") ? tv_str (pod, "metadata.uid") : "",
                     buf, len);
}

json_t *
podres_container_linux (const json_t *c, const json_t *pod, int64_t node_memory_bytes, char *err, size_t errlen)
{
    return cgroup_container_resources (c, cgroup_qos (tv_get (pod, "spec")), node_memory_bytes, err, errlen);
}
