/* manifests — static pods from a folder (the kubelet's staticPodPath), decided purely.
 *
 * A standalone node (`troupe agent --standalone --manifests DIR`) runs the Pods that DIR's files
 * describe, with no API server of its own to be told about them: the manifests actor reads the
 * folder and keeps the node's store in step with it, and the agent runs what the store holds. As
 * the kubelet's file source:
 *   - the files read are DIR's *.yaml, *.yml and *.json, hidden files (".x.yaml", an editor's
 *     swap file) skipped; each holds Pods (one or several documents, or a v1 List/PodList of Pods);
 *     any other kind makes the whole file refused with a message naming it (static pods are Pods
 *     only: a Deployment needs a control plane, `troupe up`);
 *   - a pod named N in a file runs on node NODE as N-NODE (the kubelet's static pod name), in the
 *     manifest's namespace (default "default"), with spec.nodeName NODE (no scheduler) and the
 *     annotations kubernetes.io/config.source "file", kubernetes.io/config.hash (a hash of the
 *     manifest as written, before these defaults) and kubernetes.io/config.mirror (the same hash);
 *   - a changed manifest (another hash) replaces its pod: the old one is deleted (its containers
 *     stopped with its grace period), then the new one is created under the same name; a pod whose
 *     file went away is deleted; a pod of the same name that is not a static pod is left alone.
 * Decisions are functions of (the folder's pods, the store's pods): tests/unit/test_manifests.c.
 */
#ifndef TROUPE_MANIFESTS_H
#define TROUPE_MANIFESTS_H

#include "actors/controllers/ctrl.h"

#include <jansson.h>
#include <stddef.h>

#define MANIFESTS_SOURCE_ANN "kubernetes.io/config.source"
#define MANIFESTS_HASH_ANN "kubernetes.io/config.hash"
#define MANIFESTS_MIRROR_ANN "kubernetes.io/config.mirror"

/* True for a file name the folder's scan reads (see above). */
int manifests_wanted_file (const char *name);

/* The static pods of one file's text (YAML or JSON, several documents allowed) for node: a new
 * array of Pod objects ready to create, or NULL with err filled ("FILE: …", file naming the
 * source in messages) when the text does not parse, a document is not a Pod (or a List of Pods),
 * or a Pod has no metadata.name. An empty file gives an empty array. */
json_t *manifests_from_text (const char *text, size_t len, const char *file, const char *node, char *err,
                             size_t errlen);

/* True if pod is a static pod (config.source "file"). */
int manifests_is_static (const json_t *pod);

/* The writes that make the store match the folder. desired: "ns/name" → Pod (from
 * manifests_from_text); observed: array of the node's pods as the store has them. Appends to acts:
 * CREATE of each desired pod the store lacks, DELETE of each static pod whose hash differs (the
 * replacement is created at a later call, once the old one is gone) or whose manifest is gone;
 * pods being deleted (metadata.deletionTimestamp) are waited for. Each action's owner is the
 * reason, for logs: "new", "changed" or "removed". */
void manifests_reconcile (const json_t *desired, const json_t *observed, ctrl_actions_t *acts);

#endif
