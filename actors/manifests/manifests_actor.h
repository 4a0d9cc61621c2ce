/* manifests_actor — the kubelet's file source for static pods: keeps the node's pods in step with
 * the manifests of a folder (what is decided: manifests.h).
 *
 * Config: manifestDir (required), nodeName (default: the host's node name), intervalMs (1000: how
 * often the folder is looked at; a file is read again only when its size or mtime changed).
 * It watches the pods bound to the node, and at each look (and within 20 ms of a pod's deletion,
 * so a replaced pod's successor does not wait for the next look) sends the creations and deletions
 * of manifests_reconcile, nothing while a request for the same pod is in flight (5 s). A file that
 * cannot be read, does not parse or holds something other than Pods is reported once per version
 * (a warning naming it), and its pods are left as they were: a half-saved edit stops nothing.
 */
#ifndef TROUPE_MANIFESTS_ACTOR_H
#define TROUPE_MANIFESTS_ACTOR_H

#include "core/actor.h"

const troupe_actor_t *manifests_actor (void);

#endif
