/* ImageLocality (Score): favours nodes that already hold the pod's images (node
 * status.images[].names / sizeBytes), as Kubernetes: each image's size scaled by the share of
 * nodes holding it, summed over the containers, clamped to [23 MB, 1000 MB × containers] and
 * mapped to 0..100. The share is taken over the nodes being scored (Kubernetes: every node of the
 * snapshot; see docs/decisions.md). Image names are normalized ("busybox" →
 * "docker.io/library/busybox:latest"). */
#include "actors/scheduler/plugins/plugin_util.h"
#include "actors/scheduler/plugins/registry.h"

#include <stdio.h>
#include <stdlib.h>

#define KEY "PreScoreImageLocality"
#define MB (1024LL * 1024)
#define MIN_THRESHOLD (23 * MB)
#define MAX_CONTAINER_THRESHOLD (1000 * MB)

typedef struct {
    size_t n;           /* the pod's images */
    size_t ncontainers;
    size_t nnodes;      /* nodes scored */
    struct {
        char name[512];
        size_t holders;  /* nodes holding it */
    } img[16];
} st_t;

/* docker.io/library/NAME:latest for the short forms (no registry, no tag). */
void
sched_image_normalize (const char *in, char *out, size_t len)
{
    const char *slash = strchr (in, '/');
    int has_registry = slash && (memchr (in, '.', (size_t) (slash - in)) || memchr (in, ':', (size_t) (slash - in)) ||
                                 !strncmp (in, "localhost/", 10));
    const char *last = strrchr (in, '/');
    last = last ? last + 1 : in;
    int has_tag = strchr (last, ':') || strchr (in, '@');
    snprintf (out, len, "%s%s%s%s", has_registry ? "" : "docker.io/", !has_registry && !slash ? "library/" : "", in,
              has_tag ? "" : ":latest");
}

static int64_t
size_on (const tr_sched_node_t *node, const char *want)
{
    size_t i, j;
    json_t *im, *nm;
    json_array_foreach (json_object_get (json_object_get (node->obj, "status"), "images"), i, im)
        json_array_foreach (json_object_get (im, "names"), j, nm) {
            char norm[512];
            if (!json_is_string (nm))
                continue;
            sched_image_normalize (json_string_value (nm), norm, sizeof norm);
            if (!strcmp (norm, want))
                return json_integer_value (json_object_get (im, "sizeBytes"));
        }
    return -1;
}

static void
add_images (st_t *s, const json_t *list)
{
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
        s->ncontainers++;
        const char *image = pu_str (c, "image");
        if (!image || s->n == 16)
            continue;
        sched_image_normalize (image, s->img[s->n].name, sizeof s->img[0].name);
        s->n++;
    }
}

static tr_sched_status_t
pre_score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes, size_t n)
{
    const tr_sched_host_t *host = self;
    st_t *s = calloc (1, sizeof *s);
    const json_t *spec = json_object_get (pod->obj, "spec");
    add_images (s, json_object_get (spec, "initContainers"));
    add_images (s, json_object_get (spec, "containers"));
    s->nnodes = n;
    size_t any = 0;
    for (size_t k = 0; k < n; k++) {
        if (!nodes[k]->nimages)
            continue;
        any++;
        for (size_t i = 0; i < s->n; i++)
            s->img[i].holders += size_on (nodes[k], s->img[i].name) >= 0;
    }
    if (!any || !s->n) {
        free (s);
        return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
    }
    host->write (cs, KEY, s, free);
    return TR_SCHED_OK;
}

static tr_sched_status_t
score (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *node, int64_t *out)
{
    (void) pod;
    const tr_sched_host_t *host = self;
    st_t *s = host->read (cs, KEY);
    *out = 0;
    if (!s || !node->nimages)
        return TR_SCHED_OK;
    int64_t sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        int64_t size = size_on (node, s->img[i].name);
        if (size > 0)
            sum += (int64_t) ((double) size * ((double) s->img[i].holders / (double) s->nnodes));
    }
    int64_t maxt = MAX_CONTAINER_THRESHOLD * (int64_t) (s->ncontainers ? s->ncontainers : 1);
    if (sum < MIN_THRESHOLD)
        sum = MIN_THRESHOLD;
    else if (sum > maxt)
        sum = maxt;
    *out = 100 * (sum - MIN_THRESHOLD) / (maxt - MIN_THRESHOLD);
    return TR_SCHED_OK;
}

static void *
init (const json_t *args, const tr_sched_host_t *host, char *err, size_t errlen)
{
    (void) args, (void) err, (void) errlen;
    return (void *) host;
}

TR_SCHED_SCORE_NODES (score)

/* PreScore from the nodes' hot lines: none of them holds an image (hollow nodes, a fresh
 * cluster): SKIP without reading a node; else PreScore itself */
static tr_sched_status_t
pre_score_hot (void *self, tr_sched_cycle_t *cs, const tr_sched_pod_t *pod, const tr_sched_node_t *const *nodes,
               const nodehot_t *const *hot, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (hot[k]->imaged)
            return pre_score (self, cs, pod, nodes, n);
    return (tr_sched_status_t) {TR_SCHED_SKIP, NULL};
}

static const nodehot_hooks_t hot_hooks = {.pre_score = pre_score_hot};

const nodehot_hooks_t *
sched_plugin_imagelocality_hot (void)
{
    return &hot_hooks;
}

static const tr_sched_plugin_t plugin = {TR_SCHED_PLUGIN_HEADER ("ImageLocality"), .init = init, .pre_score = pre_score,
                                         .score = score, .score_nodes = score_nodes};

const tr_sched_plugin_t *
sched_plugin_imagelocality (void)
{
    return &plugin;
}
