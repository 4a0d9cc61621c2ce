/* manifests — see manifests.h. */
#include "actors/manifests/manifests.h"
#include "core/value.h"
#include "core/yaml.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
manifests_wanted_file (const char *name)
{
    size_t n = strlen (name);
    if (!n || name[0] == '.')
        return 0;
    static const char *ext[] = {".yaml", ".yml", ".json"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t e = strlen (ext[i]);
        if (n > e && !strcmp (name + n - e, ext[i]))
            return 1;
    }
    return 0;
}

/* FNV-1a over the manifest as written (keys sorted): the kubelet's config.hash is a hash of the
 * pod as read too, so an edit that changes nothing (a comment, key order) replaces nothing. */
static void
hash_of (const json_t *doc, char *out, size_t len)
{
    char *text = json_dumps (doc, JSON_SORT_KEYS | JSON_COMPACT);
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = text ? text : ""; *p; p++) {
        h ^= (unsigned char) *p;
        h *= 1099511628211ULL;
    }
    free (text);
    snprintf (out, len, "%016llx", (unsigned long long) h);
}

/* The static pod of one Pod document (a new reference), or NULL with err. */
static json_t *
static_pod (const json_t *doc, const char *file, int idx, const char *node, char *err, size_t errlen)
{
    const char *name = tv_str (doc, "metadata.name");
    if (!name || !*name) {
        snprintf (err, errlen, "%s: document %d: metadata.name: Required value (a static pod is named in its manifest)",
                  file, idx + 1);
        return NULL;
    }
    char hash[20];
    hash_of (doc, hash, sizeof hash);
    json_t *pod = json_deep_copy (doc);
    json_t *meta = json_object_get (pod, "metadata");
    char full[TR_NAME_MAX + 2];
    int n = snprintf (full, sizeof full, "%s-%s", name, node);
    if (n < 0 || (size_t) n > TR_NAME_MAX) {
        snprintf (err, errlen, "%s: document %d: the pod name %s-%s is longer than %d characters", file, idx + 1, name, node,
                  TR_NAME_MAX);
        json_decref (pod);
        return NULL;
    }
    for (char *p = full; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
    json_object_set_new (meta, "name", json_string (full));
    if (!tv_str (meta, "namespace") || !*tv_str (meta, "namespace"))
        json_object_set_new (meta, "namespace", json_string ("default"));
    /* the store assigns these; a manifest copied from `get -o yaml` must not fix them */
    static const char *drop[] = {"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation",
                                 "managedFields", "ownerReferences", "generateName"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        json_object_del (meta, drop[i]);
    json_object_del (pod, "status");
    json_t *ann = json_object_get (meta, "annotations");
    if (!json_is_object (ann)) {
        ann = json_object ();
        json_object_set_new (meta, "annotations", ann);
    }
    json_object_set_new (ann, MANIFESTS_SOURCE_ANN, json_string ("file"));
    json_object_set_new (ann, MANIFESTS_HASH_ANN, json_string (hash));
    json_object_set_new (ann, MANIFESTS_MIRROR_ANN, json_string (hash));
    json_t *spec = json_object_get (pod, "spec");
    if (!json_is_object (spec)) {
        spec = json_object ();
        json_object_set_new (pod, "spec", spec);
    }
    json_object_set_new (spec, "nodeName", json_string (node));
    if (!json_object_get (pod, "apiVersion"))
        json_object_set_new (pod, "apiVersion", json_string ("v1"));
    return pod;
}

json_t *
manifests_from_text (const char *text, size_t len, const char *file, const char *node, char *err, size_t errlen)
{
    char perr[400];
    json_t *docs = tr_yaml_load (text, len, perr, sizeof perr);
    if (!docs) {
        snprintf (err, errlen, "%s: %s", file, perr);
        return NULL;
    }
    /* a v1 List / PodList stands for its items */
    json_t *flat = json_array ();
    size_t i, j;
    json_t *d, *it;
    json_array_foreach (docs, i, d) {
        if (json_is_null (d))
            continue; /* an empty document ("---" at the end) */
        const char *kind = tv_str (d, "kind");
        if (kind && (!strcmp (kind, "List") || !strcmp (kind, "PodList")))
            json_array_foreach (tv_get (d, "items"), j, it) json_array_append (flat, it);
        else
            json_array_append (flat, d);
    }
    json_decref (docs);
    json_t *out = json_array ();
    json_array_foreach (flat, i, d) {
        const char *kind = json_is_object (d) ? tv_str (d, "kind") : NULL;
        if (!kind || strcmp (kind, "Pod")) {
            snprintf (err, errlen,
                      "%s: document %zu: kind %s is not run: static pods are Pods only (a %s needs a control plane: "
                      "troupe up)",
                      file, i + 1, kind ? kind : "(none)", kind ? kind : "manifest without a kind");
            json_decref (flat);
            json_decref (out);
            return NULL;
        }
        json_t *pod = static_pod (d, file, (int) i, node, err, errlen);
        if (!pod) {
            json_decref (flat);
            json_decref (out);
            return NULL;
        }
        json_array_append_new (out, pod);
    }
    json_decref (flat);
    return out;
}

/* An annotation's value: keys hold dots, so not a tv_* path. */
static const char *
annotation (const json_t *pod, const char *key)
{
    return json_string_value (json_object_get (json_object_get (json_object_get (pod, "metadata"), "annotations"), key));
}

int
manifests_is_static (const json_t *pod)
{
    const char *src = annotation (pod, MANIFESTS_SOURCE_ANN);
    return src && !strcmp (src, "file");
}

static const char *
hash_ann (const json_t *pod)
{
    return annotation (pod, MANIFESTS_HASH_ANN);
}

static void
delete_pod (ctrl_actions_t *acts, const json_t *pod, const char *why)
{
    ctrl_actions_add (acts, TR_VERB_DELETE, "Pod", tv_str (pod, "metadata.namespace"), tv_str (pod, "metadata.name"), 0,
                      NULL, why);
}

void
manifests_reconcile (const json_t *desired, const json_t *observed, ctrl_actions_t *acts)
{
    json_t *have = json_object (); /* "ns/name" → observed pod (borrowed) */
    size_t i;
    json_t *o;
    char key[2 * TR_NAME_MAX + 4];
    json_array_foreach (observed, i, o) {
        snprintf (key, sizeof key, "%s/%s", tv_str (o, "metadata.namespace") ? tv_str (o, "metadata.namespace") : "",
                  tv_str (o, "metadata.name") ? tv_str (o, "metadata.name") : "");
        json_object_set (have, key, o);
    }
    const char *k;
    json_t *d;
    json_object_foreach ((json_t *) desired, k, d) {
        o = json_object_get (have, k);
        if (!o) {
            ctrl_actions_add (acts, TR_VERB_CREATE, "Pod", tv_str (d, "metadata.namespace"), tv_str (d, "metadata.name"), 0,
                              json_deep_copy (d), "new");
            continue;
        }
        if (!manifests_is_static (o) || tv_get (o, "metadata.deletionTimestamp"))
            continue; /* not ours to replace, or on its way out (its successor comes next) */
        const char *h = hash_ann (o), *want = hash_ann (d);
        if (!h || !want || strcmp (h, want))
            delete_pod (acts, o, "changed");
    }
    json_array_foreach (observed, i, o) {
        snprintf (key, sizeof key, "%s/%s", tv_str (o, "metadata.namespace") ? tv_str (o, "metadata.namespace") : "",
                  tv_str (o, "metadata.name") ? tv_str (o, "metadata.name") : "");
        if (manifests_is_static (o) && !json_object_get (desired, key) && !tv_get (o, "metadata.deletionTimestamp"))
            delete_pod (acts, o, "removed");
    }
    json_decref (have);
}
