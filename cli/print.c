/* print — see print.h. */
#include "cli/print.h"
#include "core/meta.h"
#include "core/value.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLS 12

void
print_age (char *buf, size_t len, int64_t ms)
{
    int64_t s = ms / 1000;
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf (buf, len, "%llds", (long long) s);
    else if (s < 600)
        snprintf (buf, len, "%lldm%llds", (long long) (s / 60), (long long) (s % 60));
    else if (s < 3 * 3600)
        snprintf (buf, len, "%lldm", (long long) (s / 60));
    else if (s < 8 * 3600)
        snprintf (buf, len, "%lldh%lldm", (long long) (s / 3600), (long long) (s % 3600 / 60));
    else if (s < 48 * 3600)
        snprintf (buf, len, "%lldh", (long long) (s / 3600));
    else if (s < 8 * 86400)
        snprintf (buf, len, "%lldd%lldh", (long long) (s / 86400), (long long) (s % 86400 / 3600));
    else
        snprintf (buf, len, "%lldd", (long long) (s / 86400));
}

static void
age_of (const json_t *obj, const char *path, int64_t now, char *buf, size_t len)
{
    int64_t t = tr_time_parse (tv_str (obj, path));
    if (t < 0)
        snprintf (buf, len, "<unknown>");
    else
        print_age (buf, len, now - t);
}

const char *
print_pod_status (const json_t *pod, char *buf, size_t len)
{
    if (tv_get (pod, "metadata.deletionTimestamp"))
        return "Terminating";
    const char *reason = NULL;
    size_t i;
    json_t *cs;
    json_array_foreach (tv_get (pod, "status.containerStatuses"), i, cs) {
        const char *w = tv_str (cs, "state.waiting.reason");
        const char *t = tv_str (cs, "state.terminated.reason");
        if (w && *w)
            reason = w;
        else if (t && *t && !reason)
            reason = t;
    }
    const char *phase = tv_str (pod, "status.phase");
    if (!reason && tv_str (pod, "status.reason"))
        reason = tv_str (pod, "status.reason");
    snprintf (buf, len, "%s", reason ? reason : phase ? phase : "Pending");
    return buf;
}

typedef struct {
    int ncols;
    const char *head[MAX_COLS];
    char **cells; /* rows × ncols */
    size_t rows, cap;
} table_t;

static void
t_row (table_t *t)
{
    if (t->rows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc (t->cells, t->cap * (size_t) t->ncols * sizeof (char *));
    }
    memset (&t->cells[t->rows * (size_t) t->ncols], 0, (size_t) t->ncols * sizeof (char *));
    t->rows++;
}

static void
t_set (table_t *t, int col, const char *v)
{
    t->cells[(t->rows - 1) * (size_t) t->ncols + (size_t) col] = strdup (v ? v : "<none>");
}

static void
t_print (FILE *out, table_t *t, int headers)
{
    size_t w[MAX_COLS] = {0};
    for (int c = 0; c < t->ncols; c++)
        w[c] = headers ? strlen (t->head[c]) : 0;
    for (size_t r = 0; r < t->rows; r++)
        for (int c = 0; c < t->ncols; c++) {
            size_t l = strlen (t->cells[r * (size_t) t->ncols + (size_t) c]);
            if (l > w[c])
                w[c] = l;
        }
    if (headers) {
        for (int c = 0; c < t->ncols; c++)
            if (c == t->ncols - 1)
                fprintf (out, "%s", t->head[c]);
            else
                fprintf (out, "%-*s   ", (int) w[c], t->head[c]);
        fputc ('\n', out);
    }
    for (size_t r = 0; r < t->rows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *v = t->cells[r * (size_t) t->ncols + (size_t) c];
            if (c == t->ncols - 1)
                fprintf (out, "%s", v);
            else
                fprintf (out, "%-*s   ", (int) w[c], v);
        }
        fputc ('\n', out);
    }
    for (size_t i = 0; i < t->rows * (size_t) t->ncols; i++)
        free (t->cells[i]);
    free (t->cells);
}

static int
count_ready (const json_t *pod, int *total)
{
    int ready = 0, n = 0;
    size_t i;
    json_t *cs;
    json_array_foreach (tv_get (pod, "status.containerStatuses"), i, cs) {
        n++;
        ready += json_is_true (json_object_get (cs, "ready"));
    }
    if (!n)
        n = (int) json_array_size (tv_get (pod, "spec.containers"));
    *total = n;
    return ready;
}

static void
node_status (const json_t *node, char *buf, size_t len)
{
    const char *st = "Unknown";
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (node, "status.conditions"), i, c) if (tv_str (c, "type") &&
                                                                    !strcmp (tv_str (c, "type"), "Ready")) st =
        tv_str (c, "status") && !strcmp (tv_str (c, "status"), "True") ? "Ready" : "NotReady";
    snprintf (buf, len, "%s%s", st, tv_bool (node, "spec.unschedulable", false) ? ",SchedulingDisabled" : "");
}

/* An int-or-string field as kubectl prints an IntOrString ("2", "50%"), or N/A when unset. */
static void
int_or_percent (const json_t *v, char *buf, size_t len)
{
    if (json_is_integer (v))
        snprintf (buf, len, "%lld", (long long) json_integer_value (v));
    else if (json_is_string (v))
        snprintf (buf, len, "%s", json_string_value (v));
    else
        snprintf (buf, len, "N/A");
}

/* kubectl's Service columns: PORT(S) as 80/TCP or 80:30080/TCP, comma-separated */
static void
service_cells (const json_t *it, table_t *t, int *k, const char *name, const char *age, int wide)
{
    char ports[512] = "", sel[512] = "";
    size_t j, l;
    json_t *p;
    const char *v;
    json_array_foreach (tv_get (it, "spec.ports"), j, p) {
        l = strlen (ports);
        if (tv_int (p, "nodePort", 0))
            snprintf (ports + l, sizeof ports - l, "%s%lld:%lld/%s", j ? "," : "", (long long) tv_int (p, "port", 0),
                      (long long) tv_int (p, "nodePort", 0), tv_str (p, "protocol") ? tv_str (p, "protocol") : "TCP");
        else
            snprintf (ports + l, sizeof ports - l, "%s%lld/%s", j ? "," : "", (long long) tv_int (p, "port", 0),
                      tv_str (p, "protocol") ? tv_str (p, "protocol") : "TCP");
    }
    const char *key;
    json_t *val;
    json_object_foreach (tv_get (it, "spec.selector"), key, val) {
        l = strlen (sel);
        snprintf (sel + l, sizeof sel - l, "%s%s=%s", l ? "," : "", key, json_string_value (val) ? json_string_value (val) : "");
    }
    v = tv_str (it, "spec.clusterIP");
    t_set (t, (*k)++, name), t_set (t, (*k)++, tv_str (it, "spec.type") ? tv_str (it, "spec.type") : "ClusterIP");
    t_set (t, (*k)++, v && *v ? v : "<none>"), t_set (t, (*k)++, "<none>");
    t_set (t, (*k)++, *ports ? ports : "<none>"), t_set (t, (*k)++, age);
    if (wide)
        t_set (t, (*k)++, *sel ? sel : "<none>");
}

/* kubectl's EndpointSlice columns: PORTS the ports, ENDPOINTS the first three addresses */
static void
slice_cells (const json_t *it, table_t *t, int *k, const char *name, const char *age)
{
    char ports[256] = "", eps[256] = "";
    size_t j, l, n = 0;
    json_t *p;
    json_array_foreach (tv_get (it, "ports"), j, p) {
        l = strlen (ports);
        if (tv_get (p, "port"))
            snprintf (ports + l, sizeof ports - l, "%s%lld", j ? "," : "", (long long) tv_int (p, "port", 0));
        else
            snprintf (ports + l, sizeof ports - l, "%s<unset>", j ? "," : "");
    }
    json_array_foreach (tv_get (it, "endpoints"), j, p) {
        size_t a;
        json_t *ad;
        json_array_foreach (tv_get (p, "addresses"), a, ad) {
            l = strlen (eps);
            if (n < 3)
                snprintf (eps + l, sizeof eps - l, "%s%s", n ? "," : "", json_string_value (ad) ? json_string_value (ad) : "");
            n++;
        }
    }
    if (n > 3) {
        l = strlen (eps);
        snprintf (eps + l, sizeof eps - l, " + %zu more...", n - 3);
    }
    t_set (t, (*k)++, name), t_set (t, (*k)++, tv_str (it, "addressType"));
    t_set (t, (*k)++, *ports ? ports : "<unset>"), t_set (t, (*k)++, *eps ? eps : "<unset>"), t_set (t, (*k)++, age);
}

void
print_table (FILE *out, const char *kind, const json_t *items, const print_opts_t *o)
{
    table_t t = {0};
    int ns = o->all_namespaces;
    int c = 0;
    if (ns)
        t.head[c++] = "NAMESPACE";
    int base = c;
    if (!strcmp (kind, "Pod")) {
        const char *h[] = {"NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "IP"};
        for (int i = 0; i < (o->wide ? 7 : 6); i++)
            t.head[c++] = h[i];
    } else if (!strcmp (kind, "Deployment")) {
        const char *h[] = {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"};
        for (int i = 0; i < 5; i++)
            t.head[c++] = h[i];
    } else if (!strcmp (kind, "ReplicaSet")) {
        const char *h[] = {"NAME", "DESIRED", "CURRENT", "READY", "AGE"};
        for (int i = 0; i < 5; i++)
            t.head[c++] = h[i];
    } else if (!strcmp (kind, "Node")) {
        const char *h[] = {"NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"};
        for (int i = 0; i < (o->wide ? 6 : 5); i++)
            t.head[c++] = h[i];
    } else if (!strcmp (kind, "Namespace")) {
        t.head[c++] = "NAME", t.head[c++] = "STATUS", t.head[c++] = "AGE";
    } else if (!strcmp (kind, "ConfigMap")) {
        t.head[c++] = "NAME", t.head[c++] = "DATA", t.head[c++] = "AGE";
    } else if (!strcmp (kind, "Secret")) {
        t.head[c++] = "NAME", t.head[c++] = "TYPE", t.head[c++] = "DATA", t.head[c++] = "AGE";
    } else if (!strcmp (kind, "Event")) {
        t.head[c++] = "LAST SEEN", t.head[c++] = "TYPE", t.head[c++] = "REASON", t.head[c++] = "OBJECT",
        t.head[c++] = "MESSAGE";
    } else if (!strcmp (kind, "Lease")) {
        t.head[c++] = "NAME", t.head[c++] = "HOLDER", t.head[c++] = "AGE";
    } else if (!strcmp (kind, "PriorityClass")) {
        t.head[c++] = "NAME", t.head[c++] = "VALUE", t.head[c++] = "GLOBAL-DEFAULT", t.head[c++] = "AGE",
        t.head[c++] = "PREEMPTIONPOLICY";
    } else if (!strcmp (kind, "PodDisruptionBudget")) {
        t.head[c++] = "NAME", t.head[c++] = "MIN AVAILABLE", t.head[c++] = "MAX UNAVAILABLE",
        t.head[c++] = "ALLOWED DISRUPTIONS", t.head[c++] = "AGE";
    } else if (!strcmp (kind, "Service")) {
        t.head[c++] = "NAME", t.head[c++] = "TYPE", t.head[c++] = "CLUSTER-IP", t.head[c++] = "EXTERNAL-IP",
        t.head[c++] = "PORT(S)", t.head[c++] = "AGE";
        if (o->wide)
            t.head[c++] = "SELECTOR";
    } else if (!strcmp (kind, "EndpointSlice")) {
        t.head[c++] = "NAME", t.head[c++] = "ADDRESSTYPE", t.head[c++] = "PORTS", t.head[c++] = "ENDPOINTS",
        t.head[c++] = "AGE";
    } else {
        t.head[c++] = "NAME", t.head[c++] = "AGE";
    }
    t.ncols = c;
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
        char a[64], b[64], d[64], age[32];
        t_row (&t);
        if (ns)
            t_set (&t, 0, tv_str (it, "metadata.namespace"));
        int k = base;
        age_of (it, "metadata.creationTimestamp", o->now_ms, age, sizeof age);
        const char *name = tv_str (it, "metadata.name");
        if (!strcmp (kind, "Pod")) {
            int total, ready = count_ready (it, &total);
            long restarts = 0;
            size_t j;
            json_t *cs;
            json_array_foreach (tv_get (it, "status.containerStatuses"), j, cs) restarts += (long) tv_int (cs, "restartCount", 0);
            snprintf (a, sizeof a, "%d/%d", ready, total);
            snprintf (b, sizeof b, "%ld", restarts);
            t_set (&t, k++, name);
            t_set (&t, k++, a);
            t_set (&t, k++, print_pod_status (it, d, sizeof d));
            t_set (&t, k++, b);
            t_set (&t, k++, age);
            t_set (&t, k++, tv_str (it, "spec.nodeName"));
            if (o->wide)
                t_set (&t, k++, tv_str (it, "status.podIP"));
        } else if (!strcmp (kind, "Deployment")) {
            snprintf (a, sizeof a, "%lld/%lld", (long long) tv_int (it, "status.readyReplicas", 0),
                      (long long) tv_int (it, "spec.replicas", 1));
            snprintf (b, sizeof b, "%lld", (long long) tv_int (it, "status.updatedReplicas", 0));
            snprintf (d, sizeof d, "%lld", (long long) tv_int (it, "status.availableReplicas", 0));
            t_set (&t, k++, name), t_set (&t, k++, a), t_set (&t, k++, b), t_set (&t, k++, d), t_set (&t, k++, age);
        } else if (!strcmp (kind, "ReplicaSet")) {
            snprintf (a, sizeof a, "%lld", (long long) tv_int (it, "spec.replicas", 1));
            snprintf (b, sizeof b, "%lld", (long long) tv_int (it, "status.replicas", 0));
            snprintf (d, sizeof d, "%lld", (long long) tv_int (it, "status.readyReplicas", 0));
            t_set (&t, k++, name), t_set (&t, k++, a), t_set (&t, k++, b), t_set (&t, k++, d), t_set (&t, k++, age);
        } else if (!strcmp (kind, "Node")) {
            node_status (it, a, sizeof a);
            t_set (&t, k++, name), t_set (&t, k++, a), t_set (&t, k++, "<none>"), t_set (&t, k++, age);
            t_set (&t, k++, tv_str (it, "status.nodeInfo.kubeletVersion"));
            if (o->wide) {
                const char *ip = NULL;
                size_t j;
                json_t *ad;
                json_array_foreach (tv_get (it, "status.addresses"), j, ad) if (tv_str (ad, "type") &&
                                                                              !strcmp (tv_str (ad, "type"), "InternalIP")) ip =
                    tv_str (ad, "address");
                t_set (&t, k++, ip);
            }
        } else if (!strcmp (kind, "Namespace")) {
            t_set (&t, k++, name), t_set (&t, k++, tv_str (it, "status.phase") ? tv_str (it, "status.phase") : "Active"),
                t_set (&t, k++, age);
        } else if (!strcmp (kind, "ConfigMap") || !strcmp (kind, "Secret")) {
            size_t n = json_object_size (tv_get (it, "data")) + json_object_size (tv_get (it, "binaryData")) +
                       json_object_size (tv_get (it, "stringData"));
            snprintf (a, sizeof a, "%zu", n);
            t_set (&t, k++, name);
            if (!strcmp (kind, "Secret"))
                t_set (&t, k++, tv_str (it, "type") ? tv_str (it, "type") : "Opaque");
            t_set (&t, k++, a), t_set (&t, k++, age);
        } else if (!strcmp (kind, "Event")) {
            const char *last = tv_str (it, "lastTimestamp") ? "lastTimestamp" : "metadata.creationTimestamp";
            age_of (it, last, o->now_ms, a, sizeof a);
            char obj[300];
            char lower[64];
            const char *ik = tv_str (it, "involvedObject.kind");
            size_t j;
            for (j = 0; ik && ik[j] && j < sizeof lower - 1; j++)
                lower[j] = (char) (ik[j] >= 'A' && ik[j] <= 'Z' ? ik[j] + 32 : ik[j]);
            lower[j] = 0;
            snprintf (obj, sizeof obj, "%s/%s", lower, tv_str (it, "involvedObject.name") ? tv_str (it, "involvedObject.name") : "");
            t_set (&t, k++, a), t_set (&t, k++, tv_str (it, "type")), t_set (&t, k++, tv_str (it, "reason"));
            t_set (&t, k++, obj), t_set (&t, k++, tv_str (it, "message"));
        } else if (!strcmp (kind, "Lease")) {
            t_set (&t, k++, name), t_set (&t, k++, tv_str (it, "spec.holderIdentity")), t_set (&t, k++, age);
        } else if (!strcmp (kind, "PriorityClass")) {
            char v[32];
            snprintf (v, sizeof v, "%lld", (long long) tv_int (it, "value", 0));
            t_set (&t, k++, name), t_set (&t, k++, v), t_set (&t, k++, tv_bool (it, "globalDefault", 0) ? "true" : "false");
            t_set (&t, k++, age), t_set (&t, k++, tv_str (it, "preemptionPolicy"));
        } else if (!strcmp (kind, "PodDisruptionBudget")) {
            char allowed[32];
            int_or_percent (tv_get (it, "spec.minAvailable"), a, sizeof a);
            int_or_percent (tv_get (it, "spec.maxUnavailable"), b, sizeof b);
            snprintf (allowed, sizeof allowed, "%lld", (long long) tv_int (it, "status.disruptionsAllowed", 0));
            t_set (&t, k++, name), t_set (&t, k++, a), t_set (&t, k++, b), t_set (&t, k++, allowed), t_set (&t, k++, age);
        } else if (!strcmp (kind, "Service")) {
            service_cells (it, &t, &k, name, age, o->wide);
        } else if (!strcmp (kind, "EndpointSlice")) {
            slice_cells (it, &t, &k, name, age);
        } else {
            t_set (&t, k++, name), t_set (&t, k++, age);
        }
    }
    t_print (out, &t, !o->no_headers);
}

/* ---- describe ------------------------------------------------------------------------------- */

static void
map_lines (FILE *out, const char *title, const json_t *m)
{
    fprintf (out, "%-16s", title);
    if (!json_object_size (m)) {
        fprintf (out, "<none>\n");
        return;
    }
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach ((json_t *) m, k, v) {
        fprintf (out, "%s%s=%s\n", first ? "" : "                ", k, json_is_string (v) ? json_string_value (v) : "");
        first = 0;
    }
}

static void
events_table (FILE *out, const json_t *events, int64_t now)
{
    fprintf (out, "Events:");
    if (!json_array_size (events)) {
        fprintf (out, "          <none>\n");
        return;
    }
    fprintf (out, "\n  %-8s %-22s %-8s %-22s %s\n", "Type", "Reason", "Age", "From", "Message");
    fprintf (out, "  %-8s %-22s %-8s %-22s %s\n", "----", "------", "----", "----", "-------");
    size_t i;
    json_t *e;
    json_array_foreach (events, i, e) {
        char age[32];
        age_of (e, tv_str (e, "lastTimestamp") ? "lastTimestamp" : "metadata.creationTimestamp", now, age, sizeof age);
        fprintf (out, "  %-8s %-22s %-8s %-22s %s\n", tv_str (e, "type") ? tv_str (e, "type") : "",
                 tv_str (e, "reason") ? tv_str (e, "reason") : "", age,
                 tv_str (e, "source.component") ? tv_str (e, "source.component") : "",
                 tv_str (e, "message") ? tv_str (e, "message") : "");
    }
}

static void
strlist (FILE *out, const char *title, const json_t *a)
{
    if (!json_array_size (a))
        return;
    fprintf (out, "    %s:\n", title);
    size_t i;
    json_t *x;
    json_array_foreach (a, i, x) fprintf (out, "      %s\n", json_string_value (x) ? json_string_value (x) : "");
}

static void
state_line (FILE *out, const char *title, const json_t *st)
{
    if (!json_is_object (st) || !json_object_size (st))
        return;
    if (tv_get (st, "running"))
        fprintf (out, "    %-14s Running\n      Started:      %s\n", title, tv_str (st, "running.startedAt") ? tv_str (st, "running.startedAt") : "");
    else if (tv_get (st, "waiting"))
        fprintf (out, "    %-14s Waiting\n      Reason:       %s\n", title, tv_str (st, "waiting.reason") ? tv_str (st, "waiting.reason") : "");
    else if (tv_get (st, "terminated"))
        fprintf (out, "    %-14s Terminated\n      Reason:       %s\n      Exit Code:    %lld\n", title,
                 tv_str (st, "terminated.reason") ? tv_str (st, "terminated.reason") : "",
                 (long long) tv_int (st, "terminated.exitCode", 0));
}

static void
describe_pod (FILE *out, const json_t *p)
{
    char buf[64];
    fprintf (out, "Node:           %s\n", tv_str (p, "spec.nodeName") ? tv_str (p, "spec.nodeName") : "<none>");
    fprintf (out, "Start Time:     %s\n", tv_str (p, "status.startTime") ? tv_str (p, "status.startTime") : "<none>");
    map_lines (out, "Labels:", tv_get (p, "metadata.labels"));
    map_lines (out, "Annotations:", tv_get (p, "metadata.annotations"));
    fprintf (out, "Status:         %s\n", print_pod_status (p, buf, sizeof buf));
    fprintf (out, "IP:             %s\n", tv_str (p, "status.podIP") ? tv_str (p, "status.podIP") : "");
    json_t *refs = tv_get (p, "metadata.ownerReferences");
    if (json_array_size (refs))
        fprintf (out, "Controlled By:  %s/%s\n", tv_str (json_array_get (refs, 0), "kind"), tv_str (json_array_get (refs, 0), "name"));
    fprintf (out, "Containers:\n");
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (p, "spec.containers"), i, c) {
        const char *name = tv_str (c, "name");
        json_t *st = NULL;
        size_t j;
        json_t *cs;
        json_array_foreach (tv_get (p, "status.containerStatuses"), j, cs) if (tv_str (cs, "name") && name &&
                                                                             !strcmp (tv_str (cs, "name"), name)) st = cs;
        fprintf (out, "  %s:\n    Image:          %s\n", name ? name : "", tv_str (c, "image") ? tv_str (c, "image") : "");
        if (st)
            fprintf (out, "    Container ID:   %s\n", tv_str (st, "containerID") ? tv_str (st, "containerID") : "");
        strlist (out, "Command", tv_get (c, "command"));
        strlist (out, "Args", tv_get (c, "args"));
        if (st) {
            state_line (out, "State:", tv_get (st, "state"));
            state_line (out, "Last State:", tv_get (st, "lastState"));
            fprintf (out, "    Ready:          %s\n", json_is_true (json_object_get (st, "ready")) ? "True" : "False");
            fprintf (out, "    Restart Count:  %lld\n", (long long) tv_int (st, "restartCount", 0));
        }
        json_t *env = tv_get (c, "env");
        fprintf (out, "    Environment:%s\n", json_array_size (env) ? "" : "    <none>");
        json_t *e;
        json_array_foreach (env, j, e) fprintf (out, "      %s:  %s\n", tv_str (e, "name"), tv_str (e, "value") ? tv_str (e, "value") : "");
    }
    fprintf (out, "Conditions:\n  Type              Status\n");
    json_array_foreach (tv_get (p, "status.conditions"), i, c) fprintf (out, "  %-17s %s\n", tv_str (c, "type"), tv_str (c, "status"));
}

static void
describe_deployment (FILE *out, const json_t *d)
{
    map_lines (out, "Labels:", tv_get (d, "metadata.labels"));
    map_lines (out, "Annotations:", tv_get (d, "metadata.annotations"));
    json_t *ml = tv_get (d, "spec.selector.matchLabels");
    fprintf (out, "Selector:       ");
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach (ml, k, v) {
        fprintf (out, "%s%s=%s", first ? "" : ",", k, json_string_value (v));
        first = 0;
    }
    json_int_t want = tv_int (d, "spec.replicas", 1), avail = tv_int (d, "status.availableReplicas", 0);
    fprintf (out, "\nReplicas:       %lld desired | %lld updated | %lld total | %lld available | %lld unavailable\n",
             (long long) want, (long long) tv_int (d, "status.updatedReplicas", 0), (long long) tv_int (d, "status.replicas", 0),
             (long long) avail, (long long) tv_int (d, "status.unavailableReplicas", 0));
    const char *type = tv_str (d, "spec.strategy.type");
    fprintf (out, "StrategyType:   %s\n", type ? type : "RollingUpdate");
    fprintf (out, "MinReadySeconds: %lld\n", (long long) tv_int (d, "spec.minReadySeconds", 0));
    if (!type || !strcmp (type, "RollingUpdate")) {
        json_t *ms = tv_get (d, "spec.strategy.rollingUpdate.maxSurge"), *mu = tv_get (d, "spec.strategy.rollingUpdate.maxUnavailable");
        char a[32], b[32];
        if (json_is_string (ms))
            snprintf (a, sizeof a, "%s", json_string_value (ms));
        else
            snprintf (a, sizeof a, "%lld", (long long) (ms ? json_integer_value (ms) : 0));
        if (json_is_string (mu))
            snprintf (b, sizeof b, "%s", json_string_value (mu));
        else
            snprintf (b, sizeof b, "%lld", (long long) (mu ? json_integer_value (mu) : 0));
        fprintf (out, "RollingUpdateStrategy:  %s max unavailable, %s max surge\n", b, a);
    }
    fprintf (out, "Pod Template:\n");
    map_lines (out, "  Labels:", tv_get (d, "spec.template.metadata.labels"));
    size_t i;
    json_t *c;
    fprintf (out, "  Containers:\n");
    json_array_foreach (tv_get (d, "spec.template.spec.containers"), i, c) {
        fprintf (out, "   %s:\n    Image:      %s\n", tv_str (c, "name"), tv_str (c, "image") ? tv_str (c, "image") : "");
        strlist (out, "Command", tv_get (c, "command"));
        strlist (out, "Args", tv_get (c, "args"));
    }
    fprintf (out, "Conditions:\n  Type           Status  Reason\n");
    json_array_foreach (tv_get (d, "status.conditions"), i, c) fprintf (out, "  %-14s %-7s %s\n", tv_str (c, "type"),
                                                                          tv_str (c, "status"), tv_str (c, "reason") ? tv_str (c, "reason") : "");
}

static void
describe_node (FILE *out, const json_t *n)
{
    map_lines (out, "Labels:", tv_get (n, "metadata.labels"));
    fprintf (out, "Unschedulable:  %s\n", tv_bool (n, "spec.unschedulable", false) ? "true" : "false");
    fprintf (out, "Conditions:\n  %-16s %-7s %-21s %-21s %-29s %s\n", "Type", "Status", "LastHeartbeatTime",
             "LastTransitionTime", "Reason", "Message");
    fprintf (out, "  %-16s %-7s %-21s %-21s %-29s %s\n", "----", "------", "-----------------", "------------------",
             "------", "-------");
    size_t i;
    json_t *c;
    json_array_foreach (tv_get (n, "status.conditions"), i, c) {
        const char *hb = tv_str (c, "lastHeartbeatTime"), *tt = tv_str (c, "lastTransitionTime");
        const char *r = tv_str (c, "reason"), *m = tv_str (c, "message");
        fprintf (out, "  %-16s %-7s %-21s %-21s %-29s %s\n", tv_str (c, "type") ? tv_str (c, "type") : "",
                 tv_str (c, "status") ? tv_str (c, "status") : "", hb ? hb : "", tt ? tt : "", r ? r : "", m ? m : "");
    }
    fprintf (out, "Capacity:\n");
    const char *k;
    json_t *v;
    json_object_foreach (tv_get (n, "status.capacity"), k, v) fprintf (out, "  %s:  %s\n", k, json_string_value (v) ? json_string_value (v) : "");
    fprintf (out, "Allocatable:\n");
    json_object_foreach (tv_get (n, "status.allocatable"), k, v) fprintf (out, "  %s:  %s\n", k, json_string_value (v) ? json_string_value (v) : "");
}

void
print_describe (FILE *out, const char *kind, const json_t *obj, const json_t *events, int64_t now_ms)
{
    fprintf (out, "Name:           %s\n", tv_str (obj, "metadata.name") ? tv_str (obj, "metadata.name") : "");
    if (tv_str (obj, "metadata.namespace"))
        fprintf (out, "Namespace:      %s\n", tv_str (obj, "metadata.namespace"));
    fprintf (out, "CreationTimestamp: %s\n", tv_str (obj, "metadata.creationTimestamp") ? tv_str (obj, "metadata.creationTimestamp") : "");
    if (!strcmp (kind, "Pod"))
        describe_pod (out, obj);
    else if (!strcmp (kind, "Deployment"))
        describe_deployment (out, obj);
    else if (!strcmp (kind, "Node"))
        describe_node (out, obj);
    else {
        map_lines (out, "Labels:", tv_get (obj, "metadata.labels"));
        map_lines (out, "Annotations:", tv_get (obj, "metadata.annotations"));
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *) obj, k, v) {
            if (!strcmp (k, "metadata") || !strcmp (k, "apiVersion") || !strcmp (k, "kind"))
                continue;
            char *s = json_dumps (v, JSON_INDENT (2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
            fprintf (out, "%s:\n%s\n", k, s ? s : "");
            free (s);
        }
    }
    events_table (out, events, now_ms);
}
