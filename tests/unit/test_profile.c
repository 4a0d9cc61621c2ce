/* Scheduler profiles: the default plugin set and weights; enable / disable / weights / "*" /
 * multiPoint; pluginConfig args reaching init; an unknown plugin named with its path in the file;
 * a failing profile left out while the others load; plugins from .so files: loaded and used,
 * missing, without the entry symbol, built for another ABI, expecting a larger struct, crashing
 * in init or calling exit () there (refused, the scheduler survives); the example plugin
 * NodeNamePrefix scheduling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/scheduler/framework.h"
#include "actors/scheduler/profile.h"
#include "actors/scheduler/snapshot.h"
#include "core/yaml.h"

#ifndef SCHED_PLUGIN_DIR
#define SCHED_PLUGIN_DIR "."
#endif

static char listed[1024];

static const char *
list (const fw_profile_t *fp, uint32_t point)
{
    const char *names[32];
    int64_t w[32];
    size_t n = fw_profile_list (fp, point, names, w, 32);
    listed[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t off = strlen (listed);
        if (point == FW_PT_SCORE)
            snprintf (listed + off, sizeof listed - off, "%s%s:%lld", i ? " " : "", names[i], (long long) w[i]);
        else
            snprintf (listed + off, sizeof listed - off, "%s%s", i ? " " : "", names[i]);
    }
    return listed;
}

/* Loads a YAML configuration (with @DIR@ replaced by the plugin directory). */
static int
load (const char *yaml, sched_config_t *out, char *err, size_t errlen)
{
    char text[4096], *o = text;
    for (const char *p = yaml; *p && o < text + sizeof text - 256; p++) {
        if (!strncmp (p, "@DIR@", 5)) {
            o += snprintf (o, 256, "%s", SCHED_PLUGIN_DIR);
            p += 4;
        } else
            *o++ = *p;
    }
    *o = 0;
    char e[256];
    json_t *docs = tr_yaml_load (text, strlen (text), e, sizeof e);
    if (!docs)
        fail_msg ("yaml: %s", e);
    int rc = sched_config_load (json_array_get (docs, 0), "sched.yaml", out, err, errlen);
    json_decref (docs);
    return rc;
}

static void
defaults (void **state)
{
    (void) state;
    sched_config_t c;
    char err[512];
    assert_int_equal (sched_config_load (NULL, NULL, &c, err, sizeof err), 0);
    assert_int_equal (c.nprofiles, 1);
    fw_profile_t *fp = c.profiles[0];
    assert_string_equal (fw_profile_name (fp), "default-scheduler");
    assert_string_equal (list (fp, FW_PT_QUEUE_SORT), "PrioritySort");
    assert_string_equal (list (fp, FW_PT_PRE_FILTER), "NodeName NodeAffinity NodePorts PodTopologySpread InterPodAffinity");
    assert_string_equal (list (fp, FW_PT_FILTER),
                         "NodeUnschedulable NodeReady NodeName TaintToleration NodeAffinity NodePorts NodeResourcesFit PodTopologySpread InterPodAffinity");
    assert_string_equal (list (fp, FW_PT_PRE_SCORE), "NodeAffinity PodTopologySpread InterPodAffinity ImageLocality");
    assert_string_equal (list (fp, FW_PT_SCORE), "TaintToleration:3 NodeAffinity:2 NodeResourcesFit:1 PodTopologySpread:2 "
                                                 "InterPodAffinity:2 NodeResourcesBalancedAllocation:1 ImageLocality:1");
    assert_string_equal (list (fp, FW_PT_BIND), "DefaultBinder");
    sched_config_clear (&c);
    /* a document with no profiles: the default one, with the global percentage */
    assert_int_equal (load ("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                            "percentageOfNodesToScore: 30\n", &c, err, sizeof err), 0);
    assert_int_equal (c.nprofiles, 1);
    sched_config_clear (&c);
    /* the wrong kind of document */
    assert_int_equal (load ("apiVersion: v1\nkind: Pod\n", &c, err, sizeof err), -1);
    assert_string_equal (err, "sched.yaml: not a kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration");
}

static void
enable_disable_weights (void **state)
{
    (void) state;
    sched_config_t c;
    char err[512];
    assert_int_equal (load ("apiVersion: kubescheduler.config.k8s.io/v1\n"
                            "kind: KubeSchedulerConfiguration\n"
                            "profiles:\n"
                            "- schedulerName: a\n"
                            "  plugins:\n"
                            "    score:\n"
                            "      disabled: [{name: NodeResourcesFit}]\n"
                            "      enabled: [{name: TaintToleration, weight: 5}]\n"
                            "- schedulerName: b\n"
                            "  plugins:\n"
                            "    filter:\n"
                            "      disabled: [{name: '*'}]\n"
                            "      enabled: [{name: NodeName}]\n"
                            "    multiPoint:\n"
                            "      disabled: [{name: NodeAffinity}]\n",
                            &c, err, sizeof err),
                      0);
    assert_int_equal (c.nerrors, 0);
    assert_int_equal (c.nprofiles, 2);
    /* re-configured in place (order kept), the disabled one gone */
    assert_string_equal (list (c.profiles[0], FW_PT_SCORE),
                         "TaintToleration:5 NodeAffinity:2 PodTopologySpread:2 InterPodAffinity:2 NodeResourcesBalancedAllocation:1 ImageLocality:1");
    assert_string_equal (list (c.profiles[0], FW_PT_FILTER),
                         "NodeUnschedulable NodeReady NodeName TaintToleration NodeAffinity NodePorts NodeResourcesFit PodTopologySpread InterPodAffinity");
    assert_string_equal (list (c.profiles[1], FW_PT_FILTER), "NodeName");
    assert_string_equal (list (c.profiles[1], FW_PT_SCORE),
                         "TaintToleration:3 NodeResourcesFit:1 PodTopologySpread:2 InterPodAffinity:2 "
                         "NodeResourcesBalancedAllocation:1 ImageLocality:1");
    assert_string_equal (list (c.profiles[1], FW_PT_PRE_FILTER), "NodeName NodePorts PodTopologySpread InterPodAffinity");
    sched_config_clear (&c);
}

static void
bad_profiles (void **state)
{
    (void) state;
    sched_config_t c;
    char err[512];
    assert_int_equal (load ("apiVersion: kubescheduler.config.k8s.io/v1\n"
                            "kind: KubeSchedulerConfiguration\n"
                            "profiles:\n"
                            "- schedulerName: good\n"
                            "- schedulerName: typo\n"
                            "  plugins:\n"
                            "    filter:\n"
                            "      enabled: [{name: NodeAfinity}]\n"
                            "- schedulerName: badargs\n"
                            "  pluginConfig:\n"
                            "  - name: NodeResourcesFit\n"
                            "    args: {scoringStrategy: {type: Fastest}}\n"
                            "- schedulerName: good\n",
                            &c, err, sizeof err),
                      0);
    /* the good one loads, the others are refused with where and why */
    assert_int_equal (c.nprofiles, 1);
    assert_string_equal (fw_profile_name (c.profiles[0]), "good");
    assert_int_equal (c.nerrors, 3);
    assert_string_equal (c.errors[0], "sched.yaml: profile typo: profiles[1].plugins.filter: unknown plugin \"NodeAfinity\"");
    assert_non_null (strstr (c.errors[1], "profile badargs: profiles[2].plugins.preFilter: NodeResourcesFit: "
                                          "scoringStrategy.type: unknown \"Fastest\"") ?: strstr (c.errors[1], "Fastest"));
    assert_non_null (strstr (c.errors[1], "badargs"));
    assert_string_equal (c.errors[2], "sched.yaml: profiles[3].schedulerName: duplicate \"good\"");
    sched_config_clear (&c);
}

/* A profile "p" with the fixture (or example) plugin enabled at filter from path. */
static int
with_plugin (const char *so, const char *name, const char *args, sched_config_t *c)
{
    char yaml[2048], err[512];
    snprintf (yaml, sizeof yaml,
              "apiVersion: kubescheduler.config.k8s.io/v1\n"
              "kind: KubeSchedulerConfiguration\n"
              "profiles:\n"
              "- schedulerName: p\n"
              "  plugins:\n"
              "    multiPoint:\n"
              "      enabled: [{name: %s, path: \"@DIR@/%s\", weight: 4}]\n"
              "  pluginConfig:\n"
              "  - name: %s\n"
              "    args: %s\n",
              name, so, name, args);
    return load (yaml, c, err, sizeof err);
}

static int
schedule_on (fw_profile_t *fp, const char *const *nodes, size_t n, char *chosen, size_t clen)
{
    sched_snap_t *s = snap_new ();
    for (size_t i = 0; i < n; i++) {
        json_t *nj = json_pack ("{s:{s:s},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}", "metadata", "name", nodes[i], "status",
                                "allocatable", "cpu", "2", "memory", "2Gi", "pods", "10", "conditions", "type", "Ready",
                                "status", "True");
        snap_node_set (s, nj);
        json_decref (nj);
    }
    json_t *pj = json_pack ("{s:{s:s,s:s,s:s},s:{s:[]}}", "metadata", "name", "p", "namespace", "d", "uid", "u", "spec",
                            "containers");
    tr_sched_pod_t p;
    snap_pod_fill (&p, pj);
    fw_env_t env = {snap_view (s), NULL, NULL, NULL, NULL};
    fw_result_t r;
    fw_schedule (fp, &env, &p, &r);
    snprintf (chosen, clen, "%.500s", r.outcome == FW_SCHEDULED ? r.node : r.message);
    json_decref (pj);
    snap_destroy (&s);
    return r.outcome == FW_SCHEDULED ? 0 : -1;
}

static void
so_plugins (void **state)
{
    (void) state;
    sched_config_t c;
    char chosen[512];
    /* loaded, its args reach init: it rejects n1 */
    assert_int_equal (with_plugin ("libschedfx-good.so", "Fixture", "{reject: n1}", &c), 0);
    if (c.nerrors)
        fail_msg ("%s", c.errors[0]);
    assert_int_equal (c.nprofiles, 1);
    assert_string_equal (list (c.profiles[0], FW_PT_FILTER),
                         "NodeUnschedulable NodeReady NodeName TaintToleration NodeAffinity NodePorts NodeResourcesFit PodTopologySpread InterPodAffinity "
                         "Fixture");
    const char *one[] = {"n1"};
    assert_int_equal (schedule_on (c.profiles[0], one, 1, chosen, sizeof chosen), -1);
    assert_string_equal (chosen, "0/1 nodes are available: 1 rejected by Fixture. "
                                 "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..");
    const char *two[] = {"n1", "n2"};
    assert_int_equal (schedule_on (c.profiles[0], two, 2, chosen, sizeof chosen), 0);
    assert_string_equal (chosen, "n2");
    sched_config_clear (&c);

    struct {
        const char *so, *want;
    } bad[] = {
        {"libschedfx-missing.so", "cannot open shared object file"},
        {"libschedfx-noentry.so", "no symbol troupe_sched_plugin_entry"},
        {"libschedfx-abi1.so", "built for ABI 1.4, this scheduler has 2.0"},
        {"libschedfx-nextabi.so", "built for ABI 3.0, this scheduler has 2.0"},
        {"libschedfx-bigpod.so", "built with a larger tr_sched_pod_t than this scheduler's"},
#if defined(__SANITIZE_ADDRESS__)
        {"libschedfx-crash.so", "crashed in init: "}, /* ASan catches the SIGSEGV and exits 1 */
#else
        {"libschedfx-crash.so", "crashed in init: SIGSEGV"},
#endif
        {"libschedfx-exit.so", "crashed in init: exit status 7"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal (with_plugin (bad[i].so, "Fixture", "{}", &c), 0);
        assert_int_equal (c.nprofiles, 0);
        assert_int_equal (c.nerrors, 1);
        if (!strstr (c.errors[0], bad[i].want) || !strstr (c.errors[0], bad[i].so) ||
            !strstr (c.errors[0], "profile p: profiles[0].plugins."))
            fail_msg ("%s: got \"%s\", want \"%s\"", bad[i].so, c.errors[0], bad[i].want);
        sched_config_clear (&c);
    }
    /* the profile's name must be the plugin's */
    assert_int_equal (with_plugin ("libschedfx-good.so", "Other", "{}", &c), 0);
    assert_int_equal (c.nerrors, 1);
    assert_non_null (strstr (c.errors[0], "libschedfx-good.so is named \"Fixture\", not \"Other\""));
    sched_config_clear (&c);
    /* a relative path is refused */
    char err[512];
    assert_int_equal (load ("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                            "profiles:\n- plugins: {filter: {enabled: [{name: X, path: libx.so}]}}\n",
                            &c, err, sizeof err), 0);
    assert_int_equal (c.nerrors, 1);
    assert_non_null (strstr (c.errors[0], "path must be absolute"));
    sched_config_clear (&c);
}

static void
example_plugin (void **state)
{
    (void) state;
    sched_config_t c;
    char chosen[512];
    assert_int_equal (with_plugin ("libsched-nodenameprefix.so", "NodeNamePrefix", "{prefix: gpu-, prefer: gpu-b}", &c), 0);
    if (c.nerrors)
        fail_msg ("%s", c.errors[0]);
    const char *nodes[] = {"cpu-1", "gpu-a1", "gpu-b1", "cpu-2"};
    /* the filter keeps gpu-*, the score (weight 4) prefers gpu-b */
    for (int i = 0; i < 5; i++) {
        assert_int_equal (schedule_on (c.profiles[0], nodes, 4, chosen, sizeof chosen), 0);
        assert_string_equal (chosen, "gpu-b1");
    }
    const char *cpus[] = {"cpu-1", "cpu-2"};
    assert_int_equal (schedule_on (c.profiles[0], cpus, 2, chosen, sizeof chosen), -1);
    assert_string_equal (chosen, "0/2 nodes are available: 2 node(s) didn't have the name prefix gpu-. "
                                 "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling..");
    sched_config_clear (&c);
    /* its init refuses missing args */
    assert_int_equal (with_plugin ("libsched-nodenameprefix.so", "NodeNamePrefix", "{}", &c), 0);
    assert_int_equal (c.nerrors, 1);
    assert_non_null (strstr (c.errors[0], "NodeNamePrefix: args.prefix: required"));
    sched_config_clear (&c);
}

static void
from_file (void **state)
{
    (void) state;
    char path[] = "/tmp/test_profile_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *y = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                    "profiles:\n- schedulerName: one\n- schedulerName: two\n";
    assert_int_equal (write (fd, y, strlen (y)), (ssize_t) strlen (y));
    close (fd);
    sched_config_t c;
    char err[512];
    assert_int_equal (sched_config_load_file (path, &c, err, sizeof err), 0);
    assert_int_equal (c.nprofiles, 2);
    assert_string_equal (fw_profile_name (c.profiles[1]), "two");
    sched_config_clear (&c);
    unlink (path);
    assert_int_equal (sched_config_load_file (path, &c, err, sizeof err), -1);
    assert_non_null (strstr (err, "No such file"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (defaults),   cmocka_unit_test (enable_disable_weights), cmocka_unit_test (bad_profiles),
        cmocka_unit_test (so_plugins), cmocka_unit_test (example_plugin),         cmocka_unit_test (from_file),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
