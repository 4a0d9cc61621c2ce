/* InterPodAffinity plugin: table-driven Filter verdicts (required affinity / anti-affinity by
 * hostname and zone, symmetry, the first pod of a group, namespaces) and Score / NormalizeScore
 * (preferred terms, hardPodAffinityWeight, existing pods' preferred terms), on hand-built
 * clusters (sched_fixture). Cases modelled on Kubernetes' interpodaffinity filtering_test.go
 * and scoring_test.go, written anew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/sched_fixture.h"

const tr_sched_plugin_t *sched_plugin_interpodaffinity (void);

#define AFF "node(s) didn't match pod affinity rules"
#define ANTI "node(s) didn't match pod anti-affinity rules"
#define EXIST "node(s) didn't satisfy existing pods anti-affinity rules"

/* three nodes: n1, n2 in zone a, n3 in zone b; n4 has no zone label */
#define NODES3                                                                                                  \
    "\"nodes\":[{\"name\":\"n1\",\"labels\":{\"zone\":\"a\"}},{\"name\":\"n2\",\"labels\":{\"zone\":\"a\"}},"    \
    "{\"name\":\"n3\",\"labels\":{\"zone\":\"b\"}}]"
#define NODES4                                                                                                  \
    "\"nodes\":[{\"name\":\"n1\",\"labels\":{\"zone\":\"a\"}},{\"name\":\"n2\",\"labels\":{\"zone\":\"a\"}},"    \
    "{\"name\":\"n3\",\"labels\":{\"zone\":\"b\"}},{\"name\":\"n4\"}]"

#define TERM(sel, key) "{\"labelSelector\":{\"matchLabels\":" sel "},\"topologyKey\":\"" key "\"}"
#define REQ_ANTI(t) "{\"affinity\":{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":[" t "]}}}"
#define REQ_AFF(t) "{\"affinity\":{\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":[" t "]}}}"
#define WEB "{\"app\":\"web\"}"
#define DB "{\"app\":\"db\"}"
#define HOST "kubernetes.io/hostname"

typedef struct {
    const char *name;
    const char *cluster;
    const char *pod;
    const char *want[4]; /* per node in order: "" fits, else the reason */
    int skip;            /* PreFilter returns SKIP (Filter then passes every node) */
} filter_row_t;

static const filter_row_t filter_rows[] = {
    {"anti-affinity by hostname: each replica alone",
     "{" NODES3 ",\"pods\":[{\"name\":\"w1\",\"node\":\"n1\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (TERM (WEB, HOST)) "}]}",
     "{\"name\":\"w2\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (TERM (WEB, HOST)) "}",
     {ANTI, "", ""}, 0},
    {"anti-affinity by zone rejects the whole zone",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (TERM (DB, "zone")) "}",
     {ANTI, ANTI, ""}, 0},
    {"symmetry: an existing pod's anti-affinity rejects the incoming pod",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n2\",\"labels\":" DB ",\"spec\":" REQ_ANTI (TERM (WEB, "zone")) "}]}",
     "{\"name\":\"w\",\"labels\":" WEB "}",
     {EXIST, EXIST, ""}, 0},
    {"symmetry does not apply to a pod the term does not select",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n2\",\"labels\":" DB ",\"spec\":" REQ_ANTI (TERM (WEB, "zone")) "}]}",
     "{\"name\":\"x\",\"labels\":{\"app\":\"other\"}}",
     {"", "", ""}, 1},
    {"affinity to the zone holding a matching pod; a node without the key never fits",
     "{" NODES4 ",\"pods\":[{\"name\":\"c1\",\"node\":\"n3\",\"labels\":{\"app\":\"cache\"}}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_AFF (TERM ("{\"app\":\"cache\"}", "zone")) "}",
     {AFF, AFF, "", AFF}, 0},
    {"first pod of a group: affinity to itself when no pod matches anywhere",
     "{" NODES4 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_AFF (TERM (WEB, "zone")) "}",
     {"", "", "", AFF}, 0},
    {"no matching pod and the pod does not match its own term: nowhere",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_AFF (TERM ("{\"app\":\"cache\"}", "zone")) "}",
     {AFF, AFF, AFF}, 0},
    {"affinity needs one pod matching all terms",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":{\"app\":\"db\"}},"
     "{\"name\":\"d2\",\"node\":\"n3\",\"labels\":{\"app\":\"db\",\"tier\":\"x\"}}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_AFF (TERM (DB, "zone") "," TERM ("{\"tier\":\"x\"}", HOST)) "}",
     {AFF, AFF, ""}, 0},
    {"affinity and anti-affinity together",
     "{" NODES3 ",\"pods\":[{\"name\":\"c1\",\"node\":\"n1\",\"labels\":{\"app\":\"cache\"}},"
     "{\"name\":\"w1\",\"node\":\"n1\",\"labels\":" WEB "}]}",
     "{\"name\":\"w2\",\"labels\":" WEB ",\"spec\":{\"affinity\":{\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":["
     TERM ("{\"app\":\"cache\"}", "zone") "]},\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":["
     TERM (WEB, HOST) "]}}}}",
     {ANTI, "", AFF}, 0},
    {"another namespace is not matched by default",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"ns\":\"other\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (TERM (DB, HOST)) "}",
     {"", "", ""}, 0},
    {"namespaces lists the other namespace",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"ns\":\"other\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (
         "{\"labelSelector\":{\"matchLabels\":" DB "},\"namespaces\":[\"other\"],\"topologyKey\":\"" HOST "\"}") "}",
     {ANTI, "", ""}, 0},
    {"an empty namespaceSelector selects every namespace",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"ns\":\"other\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (
         "{\"labelSelector\":{\"matchLabels\":" DB "},\"namespaceSelector\":{},\"topologyKey\":\"" HOST "\"}") "}",
     {ANTI, "", ""}, 0},
    {"symmetry is namespaced by the existing pod's namespace",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"ns\":\"other\",\"node\":\"n1\",\"labels\":" DB ",\"spec\":" REQ_ANTI (TERM (WEB, HOST)) "}]}",
     "{\"name\":\"w\",\"labels\":" WEB "}",
     {"", "", ""}, 1},
    /* namespaceSelector against the namespaces' labels (host->namespace_labels) */
    {"a namespaceSelector selects namespaces by their labels",
     "{" NODES3 ",\"namespaces\":{\"prod\":{\"env\":\"prod\"},\"dev\":{\"env\":\"dev\"}},\"pods\":["
     "{\"name\":\"d1\",\"ns\":\"prod\",\"node\":\"n1\",\"labels\":" DB "},{\"name\":\"d2\",\"ns\":\"dev\",\"node\":\"n3\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (
         "{\"labelSelector\":{\"matchLabels\":" DB "},\"namespaceSelector\":{\"matchLabels\":{\"env\":\"prod\"}},\"topologyKey\":\"" HOST "\"}") "}",
     {ANTI, "", ""}, 0},
    {"namespaceSelector expressions; an unknown namespace has no labels",
     "{" NODES3 ",\"namespaces\":{\"prod\":{\"env\":\"prod\"},\"dev\":{\"env\":\"dev\"}},\"pods\":["
     "{\"name\":\"d1\",\"ns\":\"prod\",\"node\":\"n1\",\"labels\":" DB "},{\"name\":\"d2\",\"ns\":\"ghost\",\"node\":\"n2\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (
         "{\"labelSelector\":{\"matchLabels\":" DB "},\"namespaceSelector\":{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"DoesNotExist\"}]},"
         "\"topologyKey\":\"" HOST "\"}") "}",
     {"", ANTI, ""}, 0},
    {"namespaceSelector and namespaces together: either",
     "{" NODES3 ",\"namespaces\":{\"prod\":{\"env\":\"prod\"},\"dev\":{\"env\":\"dev\"}},\"pods\":["
     "{\"name\":\"d1\",\"ns\":\"prod\",\"node\":\"n1\",\"labels\":" DB "},{\"name\":\"d2\",\"ns\":\"dev\",\"node\":\"n3\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (
         "{\"labelSelector\":{\"matchLabels\":" DB "},\"namespaces\":[\"dev\"],\"namespaceSelector\":{\"matchLabels\":{\"env\":\"prod\"}},"
         "\"topologyKey\":\"" HOST "\"}") "}",
     {ANTI, "", ANTI}, 0},
    {"required affinity into a zone of a selected namespace",
     "{" NODES3 ",\"namespaces\":{\"prod\":{\"env\":\"prod\"},\"dev\":{\"env\":\"dev\"}},\"pods\":["
     "{\"name\":\"d1\",\"ns\":\"dev\",\"node\":\"n1\",\"labels\":" DB "},{\"name\":\"d2\",\"ns\":\"prod\",\"node\":\"n3\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_AFF (
         "{\"labelSelector\":{\"matchLabels\":" DB "},\"namespaceSelector\":{\"matchLabels\":{\"env\":\"prod\"}},\"topologyKey\":\"zone\"}") "}",
     {AFF, AFF, ""}, 0},
    {"symmetry: an existing pod's namespaceSelector reads the incoming pod's namespace",
     "{" NODES3 ",\"namespaces\":{\"shop\":{\"team\":\"web\"},\"other\":{}},\"pods\":["
     "{\"name\":\"d1\",\"ns\":\"prod\",\"node\":\"n1\",\"labels\":" DB ",\"spec\":" REQ_ANTI (
         "{\"labelSelector\":{\"matchLabels\":" WEB "},\"namespaceSelector\":{\"matchLabels\":{\"team\":\"web\"}},\"topologyKey\":\"" HOST "\"}") "}]}",
     "{\"name\":\"w\",\"ns\":\"shop\",\"labels\":" WEB "}",
     {EXIST, "", ""}, 0},
    {"symmetry: a namespace the selector does not select",
     "{" NODES3 ",\"namespaces\":{\"shop\":{\"team\":\"web\"},\"other\":{}},\"pods\":["
     "{\"name\":\"d1\",\"ns\":\"prod\",\"node\":\"n1\",\"labels\":" DB ",\"spec\":" REQ_ANTI (
         "{\"labelSelector\":{\"matchLabels\":" WEB "},\"namespaceSelector\":{\"matchLabels\":{\"team\":\"web\"}},\"topologyKey\":\"" HOST "\"}") "}]}",
     "{\"name\":\"w\",\"ns\":\"other\",\"labels\":" WEB "}",
     {"", "", ""}, 1},
    {"a term without labelSelector matches no pod",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI ("{\"topologyKey\":\"" HOST "\"}") "}",
     {"", "", ""}, 0},
    {"matchExpressions: anti-affinity to app In (db, cache)",
     "{" NODES3 ",\"pods\":[{\"name\":\"c1\",\"node\":\"n3\",\"labels\":{\"app\":\"cache\"}}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (
         "{\"labelSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"db\",\"cache\"]}]},"
         "\"topologyKey\":\"zone\"}") "}",
     {"", "", ANTI}, 0},
    {"symmetry by 2 topology keys: the node's value of each",
     "{\"nodes\":[{\"name\":\"n1\",\"labels\":{\"k0\":\"x\",\"k1\":\"x\"}},{\"name\":\"n2\",\"labels\":{\"k1\":\"x\"}},"
     "{\"name\":\"n3\",\"labels\":{\"k0\":\"y\",\"k1\":\"y\"}}],\"pods\":["
     "{\"name\":\"e0\",\"node\":\"n1\",\"labels\":" DB ",\"spec\":" REQ_ANTI (TERM (WEB, "k0")) "},"
     "{\"name\":\"e1\",\"node\":\"n1\",\"labels\":" DB ",\"spec\":" REQ_ANTI (TERM (WEB, "k1")) "}]}",
     "{\"name\":\"w\",\"labels\":" WEB "}",
     {EXIST, EXIST, ""}, 0},
    /* a term whose key has no pair in its map is skipped; the other terms still count */
    {"anti-affinity: one term matches no pod, the other one pod",
     "{" NODES3 ",\"pods\":[{\"name\":\"w1\",\"node\":\"n3\",\"labels\":" WEB "}]}",
     "{\"name\":\"w2\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (TERM (DB, "zone") "," TERM (WEB, HOST)) "}",
     {"", "", ANTI}, 0},
    {"anti-affinity: a term by a key no node has",
     "{" NODES3 ",\"pods\":[{\"name\":\"w1\",\"node\":\"n3\",\"labels\":" WEB "}]}",
     "{\"name\":\"w2\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (TERM (WEB, "rack") "," TERM (WEB, "zone")) "}",
     {"", "", ANTI}, 0},
    {"affinity: a term by a key no node has never fits",
     "{" NODES3 ",\"pods\":[{\"name\":\"w1\",\"node\":\"n3\",\"labels\":" WEB "}]}",
     "{\"name\":\"w2\",\"labels\":" WEB ",\"spec\":" REQ_AFF (TERM (WEB, "zone") "," TERM (WEB, "rack")) "}",
     {AFF, AFF, AFF}, 0},
    {"no terms anywhere: PreFilter skips",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB "}",
     {"", "", ""}, 1},
};

static void
filter_table (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    assert_non_null (self);
    for (int ix = 0; ix < 2; ix++) { /* the nodes' labels from the JSON, then packed (label_index) */
        fx_label_index (ix);
        for (size_t r = 0; r < sizeof filter_rows / sizeof filter_rows[0]; r++)
            fx_filter_row (pl, self, r, filter_rows[r].name, filter_rows[r].cluster, filter_rows[r].pod, filter_rows[r].want,
                           filter_rows[r].skip, AFF); /* affinity Unresolvable, anti-affinity Unschedulable */
    }
    fx_label_index (0);
    pl->destroy (self);
}

#define PREF(kind, w, t)                                                                                        \
    "{\"affinity\":{\"" kind "\":{\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":" #w     \
    ",\"podAffinityTerm\":" t "}]}}}"

typedef struct {
    const char *name;
    const char *args;
    const char *cluster;
    const char *pod;
    int64_t raw[4], norm[4]; /* per node: Score, then NormalizeScore */
    int skip;                /* PreScore returns SKIP */
} score_row_t;

static const score_row_t score_rows[] = {
    {"preferred affinity to a zone with a matching pod", NULL,
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" PREF ("podAffinity", 5, TERM (DB, "zone")) "}",
     {5, 5, 0}, {100, 100, 0}, 0},
    {"preferred anti-affinity by hostname", NULL,
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" PREF ("podAntiAffinity", 10, TERM (DB, HOST)) "}",
     {-10, 0, 0}, {0, 100, 100}, 0},
    {"weights add up per topology pair", NULL,
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "},{\"name\":\"d2\",\"node\":\"n3\",\"labels\":" DB "},"
     "{\"name\":\"d3\",\"node\":\"n3\",\"labels\":" DB "}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":" PREF ("podAffinity", 2, TERM (DB, "zone")) "}",
     {2, 2, 4}, {0, 0, 100}, 0},
    {"an existing pod's required affinity attracts at hardPodAffinityWeight", NULL,
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n3\",\"labels\":" DB ",\"spec\":" REQ_AFF (TERM (WEB, "zone")) "}]}",
     "{\"name\":\"w\",\"labels\":" WEB "}",
     {0, 0, 1}, {0, 0, 100}, 0},
    {"hardPodAffinityWeight 0 ignores it", "{\"hardPodAffinityWeight\":0}",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n3\",\"labels\":" DB ",\"spec\":" REQ_AFF (TERM (WEB, "zone")) "}]}",
     "{\"name\":\"w\",\"labels\":" WEB "}",
     {0, 0, 0}, {0, 0, 0}, 1},
    {"an existing pod's preferred anti-affinity repels", NULL,
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n2\",\"labels\":" DB ",\"spec\":" PREF ("podAntiAffinity", 3, TERM (WEB, HOST)) "}]}",
     "{\"name\":\"w\",\"labels\":" WEB "}",
     {0, -3, 0}, {100, 0, 100}, 0},
    {"ignorePreferredTermsOfExistingPods skips when the pod has no terms", "{\"ignorePreferredTermsOfExistingPods\":true}",
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n2\",\"labels\":" DB ",\"spec\":" PREF ("podAntiAffinity", 3, TERM (WEB, HOST)) "}]}",
     "{\"name\":\"w\",\"labels\":" WEB "}",
     {0, 0, 0}, {0, 0, 0}, 1},
    {"affinity and anti-affinity mixed, 0..100 min-max", NULL,
     "{" NODES3 ",\"pods\":[{\"name\":\"d1\",\"node\":\"n1\",\"labels\":" DB "},{\"name\":\"c1\",\"node\":\"n3\",\"labels\":{\"app\":\"cache\"}}]}",
     "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":{\"affinity\":{\"podAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
     "{\"weight\":8,\"podAffinityTerm\":" TERM (DB, "zone") "}]},\"podAntiAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
     "{\"weight\":4,\"podAffinityTerm\":" TERM (DB, HOST) "}]}}}}",
     {4, 8, 0}, {50, 100, 0}, 0},
};

static void
score_table (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    for (size_t r = 0; r < 2 * (sizeof score_rows / sizeof score_rows[0]); r++) {
        const score_row_t *row = &score_rows[r % (sizeof score_rows / sizeof score_rows[0])];
        fx_label_index (r >= sizeof score_rows / sizeof score_rows[0]); /* the labels from the JSON, then packed */
        json_t *args = row->args ? json_loads (row->args, 0, NULL) : NULL;
        char err[256] = "";
        void *self = pl->init (args, fx_host (), err, sizeof err);
        assert_non_null (self);
        fx_score_row (pl, self, r, row->name, row->cluster, row->pod, -1, row->raw, row->norm, row->skip, 1);
        pl->destroy (self);
        json_decref (args);
    }
    fx_label_index (0);
}

static void
bad_args (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    char err[256] = "";
    json_t *a = json_pack ("{s:i}", "hardPodAffinityWeight", 101);
    assert_null (pl->init (a, fx_host (), err, sizeof err));
    assert_non_null (strstr (err, "hardPodAffinityWeight"));
    json_decref (a);
    assert_int_equal (pl->abi_major, TR_SCHED_ABI_MAJOR);
    assert_string_equal (pl->name, "InterPodAffinity");
}

/* Existing pods' required anti-affinity by nk topology keys k0..k(nk-1), all on node h (which
 * has every key at "x"): node n<i>, with k<i> = "x" alone, is refused by the pod of key k<i> only,
 * so every key must be looked at, whether PreFilter lists them (up to 8) or Filter walks the
 * node's labels (more); node f (k0 = "y") fits. */
static void
existing_anti_many_keys (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    assert_non_null (self);
    static const int counts[] = {1, 2, 8, 9, 12};
    for (size_t c = 0; c < 2 * sizeof counts / sizeof counts[0]; c++) {
        int nk = counts[c % (sizeof counts / sizeof counts[0])];
        fx_label_index (c >= sizeof counts / sizeof counts[0]); /* the labels from the JSON, then packed */
        char cluster[8192], hl[512] = "", pods[4096] = "";
        for (int i = 0; i < nk; i++) {
            char t[512];
            snprintf (t, sizeof t, "%s\"k%d\":\"x\"", i ? "," : "", i);
            strcat (hl, t);
            snprintf (t, sizeof t, "%s{\"name\":\"e%d\",\"node\":\"h\",\"labels\":" DB ",\"spec\":" REQ_ANTI (
                          "{\"labelSelector\":{\"matchLabels\":" WEB "},\"topologyKey\":\"k%d\"}") "}",
                      i ? "," : "", i, i);
            strcat (pods, t);
        }
        int at = snprintf (cluster, sizeof cluster, "{\"nodes\":[{\"name\":\"h\",\"labels\":{%s}}", hl);
        for (int i = 0; i < nk; i++)
            at += snprintf (cluster + at, sizeof cluster - (size_t) at, ",{\"name\":\"n%d\",\"labels\":{\"k%d\":\"x\"}}", i, i);
        snprintf (cluster + at, sizeof cluster - (size_t) at, ",{\"name\":\"f\",\"labels\":{\"k0\":\"y\"}}],\"pods\":[%s]}", pods);
        const char *want[16];
        for (int i = 0; i <= nk; i++)
            want[i] = EXIST;
        want[nk + 1] = "";
        char label[64];
        snprintf (label, sizeof label, "symmetry by %d topology keys", nk);
        fx_filter_row (pl, self, c, label, cluster, "{\"name\":\"w\",\"labels\":" WEB "}", want, 0, AFF);
    }
    fx_label_index (0);
    pl->destroy (self);
}

/* Score by the keys of PreScore's map (up to 8 listed) or by every label of the node (more):
 * the incoming pod prefers db pods by nk topology keys k0..k(nk-1), term i weighing i + 1; one db
 * pod on node h (every key at "x"); node n<i> has k<i> = "x" alone and scores i + 1, h the sum,
 * f (k0 = "y") 0. */
static void
score_many_keys (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    static const int counts[] = {1, 2, 8, 9, 12};
    const size_t nc = sizeof counts / sizeof counts[0];
    for (size_t c = 0; c < 2 * nc; c++) {
        int nk = counts[c % nc];
        fx_label_index (c >= nc); /* the labels from the JSON, then packed */
        char err[256] = "";
        void *self = pl->init (NULL, fx_host (), err, sizeof err);
        assert_non_null (self);
        char cluster[4096], hl[512] = "", pod[8192];
        int at = snprintf (pod, sizeof pod, "{\"name\":\"w\",\"labels\":" WEB ",\"spec\":{\"affinity\":{\"podAffinity\":{"
                                            "\"preferredDuringSchedulingIgnoredDuringExecution\":[");
        for (int i = 0; i < nk; i++) {
            char t[64];
            snprintf (t, sizeof t, "%s\"k%d\":\"x\"", i ? "," : "", i);
            strcat (hl, t);
            at += snprintf (pod + at, sizeof pod - (size_t) at,
                            "%s{\"weight\":%d,\"podAffinityTerm\":{\"labelSelector\":{\"matchLabels\":" DB "},\"topologyKey\":\"k%d\"}}",
                            i ? "," : "", i + 1, i);
        }
        snprintf (pod + at, sizeof pod - (size_t) at, "]}}}}");
        at = snprintf (cluster, sizeof cluster, "{\"nodes\":[{\"name\":\"h\",\"labels\":{%s}}", hl);
        for (int i = 0; i < nk; i++)
            at += snprintf (cluster + at, sizeof cluster - (size_t) at, ",{\"name\":\"n%d\",\"labels\":{\"k%d\":\"x\"}}", i, i);
        snprintf (cluster + at, sizeof cluster - (size_t) at,
                  ",{\"name\":\"f\",\"labels\":{\"k0\":\"y\"}}],\"pods\":[{\"name\":\"d\",\"node\":\"h\",\"labels\":" DB "}]}");
        int64_t raw[16], norm[16];
        raw[0] = (int64_t) nk * (nk + 1) / 2;
        for (int i = 0; i < nk; i++)
            raw[i + 1] = i + 1;
        raw[nk + 1] = 0;
        for (int i = 0; i < nk + 2; i++)
            norm[i] = (int64_t) (100.0 * ((double) raw[i] / (double) raw[0]));
        char label[64];
        snprintf (label, sizeof label, "preferred affinity by %d topology keys", nk);
        fx_score_row (pl, self, c, label, cluster, pod, -1, raw, norm, 0, 1);
        pl->destroy (self);
    }
    fx_label_index (0);
}

/* PreFilter's counts are cached per term set and kept per node by generation. A long-lived
 * plugin (cache warm, updated incrementally) must give the verdicts of a fresh one (computing
 * from scratch) on every node, through 120 steps of binding, unbinding and node deletion. */
static const char *templates[] = {
    "{\"name\":\"%s\",\"labels\":" WEB ",\"spec\":" REQ_ANTI (TERM (WEB, HOST)) "}",
    "{\"name\":\"%s\",\"labels\":" DB ",\"spec\":" REQ_AFF (TERM (WEB, "zone")) "}",
    "{\"name\":\"%s\",\"labels\":{\"app\":\"cache\"},\"spec\":" REQ_ANTI (TERM (DB, "zone")) "}",
    "{\"name\":\"%s\",\"labels\":" WEB "}",
    "{\"name\":\"%s\",\"ns\":\"other\",\"labels\":" DB ",\"spec\":" REQ_ANTI (TERM (DB, HOST)) "}",
    "{\"name\":\"%s\",\"labels\":" WEB ",\"spec\":" PREF ("podAffinity", 5, TERM (DB, "zone")) "}",
    "{\"name\":\"%s\",\"labels\":" DB ",\"spec\":" PREF ("podAntiAffinity", 7, TERM (DB, HOST)) "}",
};
#define NTEMPLATES (sizeof templates / sizeof templates[0])

static void
cache_matches_fresh (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    char err[256] = "";
    void *warm = pl->init (NULL, fx_host (), err, sizeof err);
    fx_t *fx = fx_new ("{\"nodes\":[" "{\"name\":\"n1\",\"labels\":{\"zone\":\"a\"}},{\"name\":\"n2\",\"labels\":{\"zone\":\"a\"}},"
                       "{\"name\":\"n3\",\"labels\":{\"zone\":\"b\"}},{\"name\":\"n4\",\"labels\":{\"zone\":\"b\"}},"
                       "{\"name\":\"n5\",\"labels\":{\"zone\":\"c\"}},{\"name\":\"n6\",\"labels\":{\"zone\":\"c\"}}],\"pods\":[]}");
    assert_non_null (fx);
    unsigned rnd = 7;
    int bound = 0, refused = 0, scored = 0;
    char names[128][16];
    int nnames = 0;
    for (int step = 0; step < 120; step++) {
        rnd = rnd * 1103515245u + 12345u;
        char text[1024], name[16];
        snprintf (name, sizeof name, "p%d", step);
        snprintf (text, sizeof text, templates[(rnd >> 8) % NTEMPLATES], name);
        const tr_sched_pod_t *pod = fx_pod (fx, text);
        void *fresh = pl->init (NULL, fx_host (), err, sizeof err);
        tr_sched_cycle_t *a = fx_cycle (fx), *b = fx_cycle (fx);
        int first_fit;
        tr_sched_status_t sa = {fx_compare_filter (pl, warm, fresh, a, b, pod, step, &first_fit), NULL};
        const tr_sched_snapshot_t *snap = fx_snapshot (fx);
        /* the next cycle for the same terms while this one still holds the entry (its binding
         * may run on): the entry is brought up to date all the same, and a late Filter of the
         * older cycle is refused rather than answered from moved counts */
        tr_sched_cycle_t *c = fx_cycle (fx);
        assert_int_equal (pl->pre_filter (warm, c, pod).code, sa.code);
        for (uint32_t i = 0; i < snap->nnodes; i++)
            assert_int_equal (pl->filter (warm, c, pod, snap->nodes[i]).code, pl->filter (fresh, b, pod, snap->nodes[i]).code);
        if (sa.code == TR_SCHED_SUCCESS && !strstr (text, "\"spec\":{}") && strstr (text, "required"))
            assert_int_equal (pl->filter (warm, a, pod, snap->nodes[0]).code, TR_SCHED_ERROR);
        fx_cycle_end (&c);
        /* and the same scores */
        scored += fx_compare_score (pl, warm, fresh, a, b, pod, step);
        fx_cycle_end (&a);
        fx_cycle_end (&b);
        pl->destroy (fresh);
        /* bind where it fits (else somewhere, to make conflicts), sometimes unbind or delete a node */
        int target = first_fit >= 0 ? first_fit : (int) ((rnd >> 16) % snap->nnodes);
        refused += first_fit < 0;
        char bind[1100];
        snprintf (text, sizeof text, templates[(rnd >> 8) % NTEMPLATES], name);
        snprintf (bind, sizeof bind, "%.*s,\"node\":\"%s\"}", (int) strlen (text) - 1, text, snap->nodes[target]->name);
        assert_non_null (fx_bind (fx, bind));
        snprintf (names[nnames++ % 128], 16, "%s", name);
        bound++;
        if ((rnd >> 20) % 4 == 0 && nnames > 2)
            assert_int_equal (fx_unbind (fx, names[(rnd >> 12) % (unsigned) (nnames < 128 ? nnames : 128)]) >= -1, 1);
        if (step % 30 == 10)
            fx_set_nnodes (fx, 5); /* n6 gone ... */
        if (step % 30 == 20)
            fx_set_nnodes (fx, 6); /* ... and back */
    }
    assert_true (refused > 0 && refused < bound); /* the run met both verdicts */
    assert_true (scored > 20);
    fx_destroy (&fx);
    pl->destroy (warm);
}

/* The cache follows namespace labels: 40 nodes each with a pod whose required anti-affinity
 * selects namespaces labelled team=web (so the cache is used for a pod without terms); the
 * incoming pod's namespace gains and loses that label between cycles, no node changing. */
static void
cache_follows_namespace_labels (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    char err[256] = "", cluster[32768] = "{\"namespaces\":{\"shop\":{}},\"nodes\":[";
    for (int i = 0; i < 40; i++)
        snprintf (cluster + strlen (cluster), sizeof cluster - strlen (cluster), "%s{\"name\":\"n%d\"}", i ? "," : "", i);
    strcat (cluster, "],\"pods\":[");
    for (int i = 0; i < 40; i++)
        snprintf (cluster + strlen (cluster), sizeof cluster - strlen (cluster),
                  "%s{\"name\":\"d%d\",\"ns\":\"prod\",\"node\":\"n%d\",\"labels\":" DB ",\"spec\":" REQ_ANTI (
                      "{\"labelSelector\":{\"matchLabels\":" WEB "},\"namespaceSelector\":{\"matchLabels\":{\"team\":\"web\"}},"
                      "\"topologyKey\":\"" HOST "\"}") "}",
                  i ? "," : "", i, i);
    strcat (cluster, "]}");
    fx_t *fx = fx_new (cluster);
    assert_non_null (fx);
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    const tr_sched_pod_t *pod = fx_pod (fx, "{\"name\":\"w\",\"ns\":\"shop\",\"labels\":" WEB "}");
    static const struct {
        const char *labels;
        int fits;
    } steps[] = {{"{}", 1}, {"{\"team\":\"web\"}", 0}, {"{\"team\":\"web\"}", 0}, {"{\"team\":\"db\"}", 1}, {NULL, 1},
                 {"{\"team\":\"web\"}", 0}};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        fx_set_namespace (fx, "shop", steps[k].labels);
        tr_sched_cycle_t *cs = fx_cycle (fx);
        tr_sched_code_t pf = pl->pre_filter (self, cs, pod).code;
        /* nothing to check (SKIP: every node fits) or the counts to check against */
        assert_int_equal (pf, steps[k].fits ? TR_SCHED_SKIP : TR_SCHED_SUCCESS);
        const tr_sched_snapshot_t *snap = fx_snapshot (fx);
        for (uint32_t i = 0; pf == TR_SCHED_SUCCESS && i < snap->nnodes; i++) {
            tr_sched_status_t f = pl->filter (self, cs, pod, snap->nodes[i]);
            if ((f.code == TR_SCHED_SUCCESS) != steps[k].fits)
                fail_msg ("step %zu node %s: code %d", k, snap->nodes[i]->name, f.code);
            if (!steps[k].fits)
                assert_string_equal (f.reason, EXIST);
        }
        fx_cycle_end (&cs);
    }
    pl->destroy (self);
    fx_destroy (&fx);
}

/* With most nodes holding pods with affinity, pods without terms of their own go through the
 * cache too (symmetry and scores): still the fresh plugin's answers. */
static void
cache_for_pods_without_terms (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    char err[256] = "", cluster[16384] = "{\"nodes\":[";
    for (int i = 0; i < 40; i++)
        snprintf (cluster + strlen (cluster), sizeof cluster - strlen (cluster), "%s{\"name\":\"n%d\",\"labels\":{\"zone\":\"z%d\"}}",
                  i ? "," : "", i, i % 4);
    strcat (cluster, "],\"pods\":[");
    for (int i = 0; i < 36; i++)
        snprintf (cluster + strlen (cluster), sizeof cluster - strlen (cluster),
                  "%s{\"name\":\"d%d\",\"node\":\"n%d\",\"labels\":" DB ",\"spec\":%s}", i ? "," : "", i, i,
                  i % 3 == 0 ? REQ_ANTI (TERM (WEB, HOST)) : i % 3 == 1 ? PREF ("podAntiAffinity", 4, TERM (WEB, HOST))
                                                                         : PREF ("podAffinity", 3, TERM (WEB, "zone")));
    strcat (cluster, "]}");
    fx_t *fx = fx_new (cluster);
    assert_non_null (fx);
    void *warm = pl->init (NULL, fx_host (), err, sizeof err);
    unsigned rnd = 3;
    int cached_verdicts = 0;
    for (int step = 0; step < 60; step++) {
        rnd = rnd * 1103515245u + 12345u;
        char text[512], name[16];
        snprintf (name, sizeof name, "w%d", step);
        snprintf (text, sizeof text, "{\"name\":\"%s\",\"labels\":" WEB "}", name);
        const tr_sched_pod_t *pod = fx_pod (fx, text);
        void *fresh = pl->init (NULL, fx_host (), err, sizeof err);
        tr_sched_cycle_t *a = fx_cycle (fx), *b = fx_cycle (fx);
        assert_int_equal (pl->pre_filter (warm, a, pod).code, pl->pre_filter (fresh, b, pod).code);
        const tr_sched_snapshot_t *snap = fx_snapshot (fx);
        int first_fit = -1;
        for (uint32_t i = 0; i < snap->nnodes; i++) {
            tr_sched_status_t fa = pl->filter (warm, a, pod, snap->nodes[i]), fb = pl->filter (fresh, b, pod, snap->nodes[i]);
            assert_int_equal (fa.code, fb.code);
            cached_verdicts += fa.code != TR_SCHED_SUCCESS;
            if (fa.code == TR_SCHED_SUCCESS && first_fit < 0)
                first_fit = (int) i;
        }
        tr_sched_status_t pa = pl->pre_score (warm, a, pod, snap->nodes, snap->nnodes);
        assert_int_equal (pa.code, pl->pre_score (fresh, b, pod, snap->nodes, snap->nnodes).code);
        for (uint32_t i = 0; pa.code == TR_SCHED_SUCCESS && i < snap->nnodes; i++) {
            int64_t xa, xb;
            pl->score (warm, a, pod, snap->nodes[i], &xa);
            pl->score (fresh, b, pod, snap->nodes[i], &xb);
            if (xa != xb)
                fail_msg ("step %d node %s: cached score %lld, fresh %lld", step, snap->nodes[i]->name, (long long) xa,
                          (long long) xb);
        }
        fx_cycle_end (&a);
        fx_cycle_end (&b);
        pl->destroy (fresh);
        /* the web pod lands somewhere allowed; now and then a db pod leaves */
        char bind[600];
        snprintf (bind, sizeof bind, "{\"name\":\"%s\",\"node\":\"%s\",\"labels\":" WEB "}", name,
                  snap->nodes[first_fit >= 0 ? first_fit : 0]->name);
        assert_non_null (fx_bind (fx, bind));
        if (step % 5 == 0) {
            char victim[16];
            snprintf (victim, sizeof victim, "d%u", (rnd >> 8) % 36);
            fx_unbind (fx, victim);
        }
    }
    assert_true (cached_verdicts > 0);
    fx_destroy (&fx);
    pl->destroy (warm);
}

/* An existing pod's terms are read once per spec.affinity object and kept: a new version of the pod (same
 * name, other terms) on the same node is read anew, for symmetry (PreFilter) and scores. */
static void
existing_pod_new_version (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    fx_t *fx = fx_new ("{" NODES3 ",\"pods\":[]}");
    assert_non_null (fx);
    const tr_sched_pod_t *pod = fx_pod (fx, "{\"name\":\"w\",\"labels\":" WEB "}");
    static const struct {
        const char *spec;
        const char *want[3];
        int64_t score_n1; /* after NormalizeScore, n1 against n3 (0 when scoring skips) */
    } versions[] = {
        {REQ_ANTI (TERM (WEB, HOST)), {EXIST, "", ""}, 0},
        {REQ_ANTI (TERM (WEB, "zone")), {EXIST, EXIST, ""}, 0},
        {"{}", {"", "", ""}, 0},
        {PREF ("podAffinity", 5, TERM (WEB, "zone")), {"", "", ""}, 100},
        {REQ_ANTI (TERM (DB, HOST)), {"", "", ""}, 0},
    };
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        char text[1024];
        snprintf (text, sizeof text, "{\"name\":\"d\",\"node\":\"n1\",\"labels\":" DB ",\"spec\":%s}", versions[v].spec);
        if (v)
            assert_int_equal (fx_unbind (fx, "d"), 0);
        assert_non_null (fx_bind (fx, text));
        for (int pass = 0; pass < 2; pass++) { /* the second from the kept terms */
            tr_sched_cycle_t *cs = fx_cycle (fx);
            tr_sched_code_t pf = pl->pre_filter (self, cs, pod).code;
            const tr_sched_snapshot_t *snap = fx_snapshot (fx);
            for (uint32_t i = 0; i < snap->nnodes; i++) {
                tr_sched_status_t f = pf == TR_SCHED_SKIP ? (tr_sched_status_t) {TR_SCHED_SUCCESS, NULL}
                                                          : pl->filter (self, cs, pod, snap->nodes[i]);
                const char *got = f.code == TR_SCHED_SUCCESS ? "" : f.reason ? f.reason : "?";
                if (strcmp (got, versions[v].want[i]))
                    fail_msg ("version %zu pass %d node %s: got \"%s\", want \"%s\"", v, pass, snap->nodes[i]->name, got,
                              versions[v].want[i]);
            }
            int64_t sc[3] = {0, 0, 0};
            if (pl->pre_score (self, cs, pod, snap->nodes, snap->nnodes).code == TR_SCHED_SUCCESS) {
                for (uint32_t i = 0; i < 3; i++)
                    pl->score (self, cs, pod, snap->nodes[i], &sc[i]);
                pl->normalize_score (self, cs, pod, sc, 3);
            }
            if (sc[0] != versions[v].score_n1)
                fail_msg ("version %zu pass %d: n1 scores %lld, want %lld", v, pass, (long long) sc[0],
                          (long long) versions[v].score_n1);
            fx_cycle_end (&cs);
        }
    }
    pl->destroy (self);
    fx_destroy (&fx);
}

/* A node leaves the snapshot: its pods stop counting for a warm cache entry. */
static void
cache_node_deleted (void **state)
{
    (void) state;
    const tr_sched_plugin_t *pl = sched_plugin_interpodaffinity ();
    char err[256] = "";
    void *self = pl->init (NULL, fx_host (), err, sizeof err);
    fx_t *fx = fx_new ("{\"nodes\":[{\"name\":\"n1\",\"labels\":{\"zone\":\"c\"}},{\"name\":\"n2\",\"labels\":{\"zone\":\"c\"}}],"
                       "\"pods\":[{\"name\":\"w\",\"node\":\"n2\",\"labels\":" WEB "}]}");
    const tr_sched_pod_t *pod = fx_pod (fx, "{\"name\":\"d\",\"labels\":" DB ",\"spec\":" REQ_AFF (TERM (WEB, "zone")) "}");
    const tr_sched_snapshot_t *snap = fx_snapshot (fx);
    tr_sched_cycle_t *cs = fx_cycle (fx);
    assert_int_equal (pl->pre_filter (self, cs, pod).code, TR_SCHED_SUCCESS);
    assert_int_equal (pl->filter (self, cs, pod, snap->nodes[0]).code, TR_SCHED_SUCCESS); /* web in zone c */
    fx_cycle_end (&cs);
    fx_set_nnodes (fx, 1); /* n2 and its web pod gone */
    cs = fx_cycle (fx);
    assert_int_equal (pl->pre_filter (self, cs, pod).code, TR_SCHED_SUCCESS);
    assert_int_equal (pl->filter (self, cs, pod, snap->nodes[0]).code, TR_SCHED_UNRESOLVABLE);
    fx_cycle_end (&cs);
    /* the web pod moves to n1: counted again */
    fx_set_nnodes (fx, 2);
    assert_int_equal (fx_unbind (fx, "w"), 0);
    assert_non_null (fx_bind (fx, "{\"name\":\"w2\",\"node\":\"n1\",\"labels\":" WEB "}"));
    cs = fx_cycle (fx);
    assert_int_equal (pl->pre_filter (self, cs, pod).code, TR_SCHED_SUCCESS);
    assert_int_equal (pl->filter (self, cs, pod, snap->nodes[0]).code, TR_SCHED_SUCCESS);
    assert_int_equal (pl->filter (self, cs, pod, snap->nodes[1]).code, TR_SCHED_SUCCESS);
    fx_cycle_end (&cs);
    fx_destroy (&fx);
    pl->destroy (self);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (filter_table),
        cmocka_unit_test (existing_anti_many_keys),
        cmocka_unit_test (score_table),
        cmocka_unit_test (score_many_keys),
        cmocka_unit_test (cache_follows_namespace_labels),
        cmocka_unit_test (bad_args),
        cmocka_unit_test (cache_matches_fresh),
        cmocka_unit_test (cache_node_deleted),
        cmocka_unit_test (existing_pod_new_version),
        cmocka_unit_test (cache_for_pods_without_terms),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
