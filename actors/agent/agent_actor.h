/* agent_actor — the node agent (kubelet) as an actor.
 *
 * Config: nodeName, shimEndpoint (the runtime shim, runtime-shims/cri.h), dataDir (container
 * logs under pods/<uid>/<container>/<attempt>.log), maxPods (110), kubeReserved, systemReserved,
 * evictionHard (kubelet syntax; a bad value fails the actor's start), runtimeNamespace (the
 * runtime namespace its sandboxes, containers and images live in, as containerd's: "troupe.io" by
 * default, "default" for a standalone node's static pods, as nerdctl's).
 * It registers its Node (capacity, allocatable and conditions measured: nodestatus.h; posted
 * again when they change, checked every 10 s and when the runtime starts or stops answering),
 * renews a Lease in kube-node-lease every 10 s,
 * watches the pods bound to it, and once a second (and on every pod event) runs podsync for each
 * against what the shim reports, executes the actions and writes status only when it changed.
 * Pods marked for deletion are stopped, then deleted for good. Containers the shim runs for pods
 * that no longer exist are stopped and removed. Requests `logs` (forwarded by the broker) are
 * answered from the log files.
 */
#ifndef TROUPE_AGENT_ACTOR_H
#define TROUPE_AGENT_ACTOR_H

#include "core/actor.h"

const troupe_actor_t *agent_actor (void);

#endif
