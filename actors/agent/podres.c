/* podres — see podres.h. The computations are core/qos.c's (table-tested in
 * test_cgroup); the agent decides with them and sends the results in the runtime protocol. */
#include "actors/agent/podres.h"
#include "core/value.h"
#include "core/qos.h"

#include <stdio.h>
#include <string.h>


const char *
podres_qos (const json_t *pod)
{
    return qos_class_name (qos_class_of (tv_get (pod, "spec")));
}

void
podres_cgroup_parent (const char *parent, const json_t *pod, char *buf, size_t len)
{
    qos_pod_cgroup (parent, qos_class_of (tv_get (pod, "spec")), tv_str (pod, "metadata.uid") ? tv_str (pod, "metadata.uid") : "",
                     buf, len);
}

json_t *
podres_container_linux (const json_t *c, const json_t *pod, int64_t node_memory_bytes, char *err, size_t errlen)
{
    return qos_container_resources (c, qos_class_of (tv_get (pod, "spec")), node_memory_bytes, err, errlen);
}
