/* immutable — what an update may change, per kind and subresource. See immutable.h. */
#include "broker/immutable.h"
#include "core/value.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POD_UPDATABLE                                                                                               \
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"      \
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"                    \
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

imm_sub_t
immutable_subresource (const char *s)
{
    if (!s || !*s)
        return IMM_SUB_NONE;
    if (!strcmp (s, "status"))
        return IMM_SUB_STATUS;
    if (!strcmp (s, "binding"))
        return IMM_SUB_BINDING;
    return IMM_SUB_UNKNOWN;
}

json_t *
immutable_prepare_own (const json_t *cur, json_t *next, imm_sub_t sub)
{
    json_t *out;
    switch (sub) {
    case IMM_SUB_STATUS: {
        out = json_copy ((json_t *) cur); /* a new root; spec, metadata... are cur's, shared */
        json_t *st = json_object_get (next, "status");
        /* none empties it; a status that is not a map stays for validation to refuse by its path */
        json_object_set_new (out, "status", st && !json_is_null (st) ? json_incref (st) : json_object ());
        json_decref (next);
        return out;
    }
    case IMM_SUB_BINDING:
        return next;
    default: {
        json_t *st = json_object_get (cur, "status");
        if (st)
            json_object_set (next, "status", st);
        else
            json_object_del (next, "status");
        return next;
    }
    }
}

json_t *
immutable_prepare (const json_t *cur, const json_t *next, imm_sub_t sub)
{
    if (sub == IMM_SUB_STATUS) { /* only next's status is taken: only it is copied */
        json_t *own = json_object (), *st = json_object_get (next, "status");
        if (st && !json_is_null (st))
            json_object_set_new (own, "status", json_deep_copy (st));
        return immutable_prepare_own (cur, own, sub);
    }
    return immutable_prepare_own (cur, json_deep_copy (next), sub);
}

/* ---- the first difference of two trees, as a field path ---------------------------------- */

static void
path_key (char *out, size_t len, const char *base, const char *key)
{
    snprintf (out, len, "%s%s%s", base, *base ? "." : "", key);
}

/* 1 and path (from base) when a and b differ, else 0. An absent value and JSON null are equal. */
static int
first_diff (const json_t *a, const json_t *b, const char *base, char *path, size_t len)
{
    if (json_is_null (a))
        a = NULL;
    if (json_is_null (b))
        b = NULL;
    if (!a && !b)
        return 0;
    if (a && b && json_is_object (a) && json_is_object (b)) {
        const char *k;
        json_t *v;
        char sub[512];
        json_object_foreach ((json_t *) a, k, v) {
            path_key (sub, sizeof sub, base, k);
            if (first_diff (v, json_object_get (b, k), sub, path, len))
                return 1;
        }
        json_object_foreach ((json_t *) b, k, v) {
            path_key (sub, sizeof sub, base, k);
            if (!json_object_get (a, k) && first_diff (NULL, v, sub, path, len))
                return 1;
        }
        return 0;
    }
    if (a && b && json_is_array (a) && json_is_array (b)) {
        size_t n = json_array_size (a) > json_array_size (b) ? json_array_size (a) : json_array_size (b);
        char sub[512];
        for (size_t i = 0; i < n; i++) {
            snprintf (sub, sizeof sub, "%s[%zu]", base, i);
            if (first_diff (json_array_get (a, i), json_array_get (b, i), sub, path, len))
                return 1;
        }
        return 0;
    }
    if (a && b && json_equal (a, b))
        return 0;
    snprintf (path, len, "%s", base);
    return 1;
}

/* ---- Pod -------------------------------------------------------------------------------- */

/* spec.containers / spec.initContainers: same count, every image set and without spaces around
 * (ValidateContainerUpdates). Then the munged copy takes the old images. */
static int
pod_containers (const json_t *ospec, json_t *munged, const char *field, char *err, size_t errlen)
{
    const json_t *oc = json_object_get (ospec, field);
    json_t *nc = json_object_get (munged, field);
    size_t on = json_array_size (oc), nn = json_array_size (nc);
    if (on != nn) {
        snprintf (err, errlen, "spec.%s: Forbidden: pod updates may not add or remove containers", field);
        return -1;
    }
    for (size_t i = 0; i < nn; i++) {
        json_t *c = json_array_get (nc, i);
        const char *img = tv_str (c, "image");
        if (!img || !*img) {
            snprintf (err, errlen, "spec.%s[%zu].image: Required value", field, i);
            return -1;
        }
        size_t n = strlen (img);
        if (img[0] == ' ' || img[0] == '\t' || img[n - 1] == ' ' || img[n - 1] == '\t') {
            snprintf (err, errlen, "spec.%s[%zu].image: Invalid value: \"%s\": must not have leading or trailing whitespace",
                      field, i, img);
            return -1;
        }
        json_t *old = json_object_get (json_array_get (oc, i), "image");
        if (json_is_object (c)) {
            if (old)
                json_object_set (c, "image", old);
            else
                json_object_del (c, "image");
        }
    }
    return 0;
}

/* activeDeadlineSeconds: from unset to a value, or from a value to a lower one (never to unset). */
static int
pod_deadline (const json_t *ospec, const json_t *nspec, char *err, size_t errlen)
{
    const json_t *o = json_object_get (ospec, "activeDeadlineSeconds");
    const json_t *n = json_object_get (nspec, "activeDeadlineSeconds");
    if (json_is_null (o))
        o = NULL;
    if (json_is_null (n))
        n = NULL;
    if (n) {
        json_int_t v = json_integer_value (n);
        if (!json_is_integer (n) || v < 0 || v > INT32_MAX) {
            snprintf (err, errlen, "spec.activeDeadlineSeconds: Invalid value: %lld: must be between 0 and 2147483647, inclusive",
                      (long long) v);
            return -1;
        }
        if (o && json_integer_value (o) < v) {
            snprintf (err, errlen, "spec.activeDeadlineSeconds: Invalid value: %lld: must be less than or equal to previous value",
                      (long long) v);
            return -1;
        }
    } else if (o) {
        snprintf (err, errlen, "spec.activeDeadlineSeconds: Invalid value: \"null\": must not update from a positive integer to nil value");
        return -1;
    }
    return 0;
}

/* tolerations: every old one is still there, tolerationSeconds aside (validateOnlyAddedTolerations). */
static int
pod_tolerations (const json_t *ospec, const json_t *nspec, char *err, size_t errlen)
{
    const json_t *ot = json_object_get (ospec, "tolerations"), *nt = json_object_get (nspec, "tolerations");
    size_t i, j;
    json_t *o, *n;
    json_array_foreach (ot, i, o) {
        int found = 0;
        json_array_foreach (nt, j, n) {
            json_t *a = json_deep_copy (o), *b = json_deep_copy (n);
            json_object_del (a, "tolerationSeconds");
            json_object_del (b, "tolerationSeconds");
            found = json_equal (a, b);
            json_decref (a);
            json_decref (b);
            if (found)
                break;
        }
        if (!found) {
            snprintf (err, errlen, "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds");
            return -1;
        }
    }
    return 0;
}

/* Whether nspec differs from ospec in nodeName only (both maps). */
static int
binding_only_node (const json_t *ospec, const json_t *nspec)
{
    if (!json_is_object (ospec) || !json_is_object (nspec))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) ospec, k, v)
        if (strcmp (k, "nodeName") && !json_equal (v, json_object_get (nspec, k)))
            return 0;
    json_object_foreach ((json_t *) nspec, k, v)
        if (strcmp (k, "nodeName") && !json_object_get (ospec, k))
            return 0;
    return 1;
}

static int
pod_check (const json_t *cur, const json_t *next, imm_sub_t sub, char *err, size_t errlen)
{
    const json_t *ospec = tv_get (cur, "spec"), *nspec = tv_get (next, "spec");
    if (json_equal (ospec, nspec))
        return 0;
    if (sub == IMM_SUB_BINDING && binding_only_node (ospec, nspec)) {
        /* the common binding: every member but nodeName the same (shared with cur, most of them,
         * so json_equal returns at the pointer), nodeName set where it was empty */
        const char *was = tv_str (cur, "spec.nodeName");
        if (!was || !*was)
            return 0;
    }
    json_t *munged = json_is_object (nspec) ? json_deep_copy (nspec) : json_object ();
    int rc = -1;
    if (sub == IMM_SUB_BINDING) {
        /* a binding sets spec.nodeName when it is empty, and nothing else */
        const char *was = tv_str (cur, "spec.nodeName");
        if (was && *was) {
            snprintf (err, errlen, "spec.nodeName: Forbidden: pod is already assigned to node \"%s\"", was);
            goto done;
        }
        json_t *o = json_object_get (ospec, "nodeName");
        if (o)
            json_object_set (munged, "nodeName", o);
        else
            json_object_del (munged, "nodeName");
    } else {
        if (pod_containers (ospec, munged, "containers", err, errlen) ||
            pod_containers (ospec, munged, "initContainers", err, errlen) ||
            pod_deadline (ospec, nspec, err, errlen) || pod_tolerations (ospec, nspec, err, errlen))
            goto done;
        const char *fields[] = {"activeDeadlineSeconds", "tolerations"};
        for (size_t i = 0; i < 2; i++) {
            json_t *o = json_object_get (ospec, fields[i]);
            if (o)
                json_object_set (munged, fields[i], o);
            else
                json_object_del (munged, fields[i]);
        }
        json_t *og = json_object_get (ospec, "terminationGracePeriodSeconds");
        json_t *ng = json_object_get (munged, "terminationGracePeriodSeconds");
        if (json_is_integer (og) && json_integer_value (og) < 0 && json_is_integer (ng) && json_integer_value (ng) == 1)
            json_object_set (munged, "terminationGracePeriodSeconds", og);
    }
    char path[512];
    if (!first_diff (ospec, munged, "spec", path, sizeof path)) {
        rc = 0;
        goto done;
    }
    if (sub == IMM_SUB_BINDING)
        snprintf (err, errlen, "spec: Forbidden: a binding may only set spec.nodeName (changed: %s)", path);
    else
        snprintf (err, errlen, "spec: Forbidden: " POD_UPDATABLE " (changed: %s)", path);
done:
    json_decref (munged);
    return rc;
}

/* ---- apps/v1 ---------------------------------------------------------------------------- */

static int
selector_check (const json_t *cur, const json_t *next, char *err, size_t errlen)
{
    const json_t *o = tv_get (cur, "spec.selector"), *n = tv_get (next, "spec.selector");
    char path[512];
    if (!first_diff (o, n, "spec.selector", path, sizeof path))
        return 0;
    char *shown = n ? json_dumps (n, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    snprintf (err, errlen, "spec.selector: Invalid value: %s: field is immutable", shown ? shown : "null");
    free (shown);
    return -1;
}

/* ---- Node ---------------------------------------------------------------------------------- */

/* ValidateNodeUpdate: spec.podCIDR and spec.podCIDRs may go from unset to a value, never change
 * after (the node IPAM's allocation, the routes to it and its pods' addresses depend on it). */
static int
node_check (const json_t *cur, const json_t *next, char *err, size_t errlen)
{
    static const char *const f[] = {"spec.podCIDR", "spec.podCIDRs"};
    for (int i = 0; i < 2; i++) {
        const json_t *o = tv_get (cur, f[i]), *n = tv_get (next, f[i]);
        int unset = !o || (json_is_string (o) && !*json_string_value (o)) || (json_is_array (o) && !json_array_size (o));
        if (!unset && !json_equal ((json_t *) o, (json_t *) n)) {
            snprintf (err, errlen, "%s: Forbidden: node updates may not change podCIDR except from \"\" to valid", f[i]);
            return -1;
        }
    }
    return 0;
}

int
immutable_check (const char *kind, const json_t *cur, const json_t *next, imm_sub_t sub, char *err, size_t errlen)
{
    if (sub == IMM_SUB_UNKNOWN) {
        snprintf (err, errlen, "subresource: Unsupported value: the served ones are \"status\" and \"binding\"");
        return -1;
    }
    if (!kind)
        return 0;
    if (sub == IMM_SUB_STATUS) {
        /* immutable_prepare took spec and metadata from cur: nothing else to hold */
        return 0;
    }
    if (sub == IMM_SUB_BINDING && strcmp (kind, "Pod")) {
        snprintf (err, errlen, "binding: Forbidden: only pods have a binding subresource");
        return -1;
    }
    if (!strcmp (kind, "Pod"))
        return pod_check (cur, next, sub, err, errlen);
    if (!strcmp (kind, "Deployment") || !strcmp (kind, "ReplicaSet"))
        return selector_check (cur, next, err, errlen);
    if (!strcmp (kind, "Node"))
        return node_check (cur, next, err, errlen);
    if (!strcmp (kind, "Service")) {
        /* ValidateServiceUpdate: the cluster IP stays (Troupe has no ExternalName to leave it
         * through); an update that leaves it out keeps it (bk_svc_keep_allocated) */
        const char *o = tv_str (cur, "spec.clusterIP"), *n = tv_str (next, "spec.clusterIP");
        if (!json_equal (tv_get (cur, "spec.clusterIP"), tv_get (next, "spec.clusterIP")) &&
            !(o == NULL && n == NULL)) {
            snprintf (err, errlen, "spec.clusterIPs[0]: Invalid value: \"%s\": may not change once set", n ? n : "");
            return -1;
        }
    }
    return 0;
}
