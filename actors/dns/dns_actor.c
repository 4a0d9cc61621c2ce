/* dns_actor — see dns_actor.h. */
#include "actors/dns/dns_actor.h"

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "actors/dns/dnsanswer.h"
#include "actors/dns/dnsserve.h"
#include "core/log.h"
#include "core/schema.h"
#include "core/value.h"

#define A "dns"
#define T_TICK 1
#define T_READY 2        /* serve anyway this long after start even if a list is still missing */
#define READY_WAIT_MS 5000   /* CoreDNS's kubernetes plugin waits 5 s for its first sync */

extern char **environ;

typedef struct {
    dns_view_t *view;
    dnsserve_t *srv;
    troupe_ctx_t *ctx;
    char addr[64];
    troupe_informer_t *infs[3];
    int made_iface;   /* 1: troupe-dns0 made, 2: the address on lo, 0: neither */
} dns_t;

/* `ip ARGS…` without a shell; its exit status, or -1. */
static int
run_ip (const char *const *args)
{
    const char *argv[16] = {"ip"};
    int n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", 1, 0);
    posix_spawn_file_actions_addopen (&fa, 2, "/dev/null", 1, 0);
    int rc = posix_spawnp (&pid, "ip", &fa, NULL, (char *const *) argv, environ);
    posix_spawn_file_actions_destroy (&fa);
    if (rc)
        return -1;
    int st;
    if (waitpid (pid, &st, 0) != pid)
        return -1;
    return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}

/* addr/32 on the dummy interface, made and up: 1. A kernel without the dummy driver (some
 * containers, minimal kernels): addr/32 on lo instead, labelled lo:troupe-dns: 2. -1 on failure.
 * Either way the address is local, so packets from pods routed to the node are delivered to it. */
static int
iface_make (const char *addr)
{
    char cidr[80];
    snprintf (cidr, sizeof cidr, "%s/32", addr);
    const char *add[] = {"link", "add", DNS_INTERFACE, "type", "dummy", NULL};
    const char *show[] = {"link", "show", DNS_INTERFACE, NULL};
    if (!run_ip (add) || !run_ip (show)) {   /* made, or left by an agent that crashed: re-used */
        const char *addr_add[] = {"addr", "replace", cidr, "dev", DNS_INTERFACE, NULL};
        const char *up[] = {"link", "set", DNS_INTERFACE, "up", NULL};
        return run_ip (addr_add) || run_ip (up) ? -1 : 1;
    }
    const char *lo_add[] = {"addr", "replace", cidr, "dev", "lo", "label", "lo:troupe-dns", NULL};
    return run_ip (lo_add) ? -1 : 2;
}

static void
iface_delete (int how, const char *addr)
{
    char cidr[80];
    snprintf (cidr, sizeof cidr, "%s/32", addr);
    const char *del[] = {"link", "del", DNS_INTERFACE, NULL};
    const char *lo_del[] = {"addr", "del", cidr, "dev", "lo", NULL};
    run_ip (how == 1 ? del : lo_del);
}

/* ---- sockets in the actor's loop ------------------------------------------------------------ */

static void
on_fd (void *self, troupe_ctx_t *ctx, int fd)
{
    (void) ctx;
    dns_t *d = self;
    if (d->srv)
        dnsserve_readable (d->srv, fd);
}

static void
watch (void *arg, int fd, int on)
{
    dns_t *d = arg;
    if (on)
        troupe_fd_watch (d->ctx, fd, on_fd);
    else
        troupe_fd_unwatch (d->ctx, fd);
}

/* ---- informers ------------------------------------------------------------------------------ */

static void
on_add_kind (void *self, const char *kind, const json_t *obj)
{
    dns_view_put (((dns_t *) self)->view, kind, obj);
}

#define HANDLERS(K, KIND)                                                                                \
    static void K##_add (void *self, troupe_ctx_t *ctx, const json_t *obj)                               \
    {                                                                                                     \
        (void) ctx;                                                                                       \
        on_add_kind (self, KIND, obj);                                                                    \
    }                                                                                                     \
    static void K##_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *obj)         \
    {                                                                                                     \
        (void) ctx;                                                                                       \
        dns_view_remove (((dns_t *) self)->view, KIND, old);                                              \
        on_add_kind (self, KIND, obj);                                                                    \
    }                                                                                                     \
    static void K##_delete (void *self, troupe_ctx_t *ctx, const json_t *obj)                            \
    {                                                                                                     \
        (void) ctx;                                                                                       \
        dns_view_remove (((dns_t *) self)->view, KIND, obj);                                              \
    }

/* Ready once every informer has listed (or READY_WAIT_MS passed). */
static void
on_synced (void *self, troupe_ctx_t *ctx)
{
    (void) ctx;
    dns_t *d = self;
    for (int i = 0; i < 3; i++)
        if (d->infs[i] && !troupe_informer_synced (d->infs[i]))
            return;
    dns_view_set_ready (d->view, 1);
}

HANDLERS (svc, "Service")
HANDLERS (eps, "EndpointSlice")
HANDLERS (pod, "Pod")

static char *
read_text (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    char *buf = calloc (1, 65537);
    size_t n = fread (buf, 1, 65536, f);
    buf[n] = 0;
    fclose (f);
    return buf;
}

static void *
dns_create (troupe_ctx_t *ctx, const json_t *config)
{
    const char *cdns = tv_str (config, "clusterDNS");
    if (!cdns)
        cdns = DNS_DEFAULT_CLUSTER_DNS;
    const char *domain = tv_str (config, "clusterDomain");
    if (!domain || !*domain)
        domain = DNS_DEFAULT_DOMAIN;
    dns_t *d = calloc (1, sizeof *d);
    d->ctx = ctx;
    d->view = dns_view_new (domain);
    if (!d->view) {
        TR_ERROR (A, "bad cluster domain \"%s\"", domain);
        free (d);
        return NULL;
    }
    /* the kinds this build knows (Service and EndpointSlice may be absent): watch those */
    char err[300];
    schema_registry_t *reg = schema_registry_load_embedded (err, sizeof err);
    static const char *kinds[] = {"Service", "EndpointSlice", "Pod"};
    const troupe_handlers_t hs[] = {{svc_add, svc_update, svc_delete, on_synced},
                                    {eps_add, eps_update, eps_delete, on_synced},
                                    {pod_add, pod_update, pod_delete, on_synced}};
    dns_view_set_ready (d->view, 0);
    for (int i = 0; i < 3; i++) {
        if (reg && !schema_kind_lookup (reg, kinds[i])) {
            TR_WARN (A, "kind %s is not known to this build: its names are not served", kinds[i]);
            continue;
        }
        /* a pod without an address has no name to answer for: only pods with status.podIP are
         * watched (a field selector, as a kubelet watches its pods with spec.nodeName=<node>), so
         * a pod's create and binding never reach DNS, only the update that gives it its IP; one
         * losing its IP is DELETED from the view (the broker's selector semantics) */
        int pod = !strcmp (kinds[i], "Pod");
        d->infs[i] = troupe_watch (ctx, kinds[i], NULL, pod ? "status.podIP!=" : NULL, &hs[i]);
        if (pod) {
            /* a pod's name records need these of it (dns_pod_view): the rest is never decoded */
            static const char *const fields[] = {"spec.hostname", "spec.subdomain", "spec.hostNetwork", "status.podIP"};
            troupe_informer_set_fields (d->infs[i], fields, sizeof fields / sizeof fields[0]);
            troupe_informer_set_transform (d->infs[i], dns_pod_view);
        }
    }
    schema_registry_destroy (&reg);

    dnsserve_opts_t o = {.port = 53, .watch = watch, .watch_arg = d};
    const char *listen = tv_str (config, "dnsListen");
    char ip[64];
    if (listen && *listen) {
        snprintf (ip, sizeof ip, "%s", listen);
        char *c = strrchr (ip, ':');
        if (c) {
            *c = 0;
            o.port = atoi (c + 1);
        }
    } else {
        snprintf (ip, sizeof ip, "%s", cdns);
        char *comma = strchr (ip, ',');   /* the first of a list is ours */
        if (comma)
            *comma = 0;
        d->made_iface = iface_make (ip);
        if (d->made_iface < 0) {
            TR_ERROR (A, "cannot put %s on interface %s nor on lo (needs CAP_NET_ADMIN): pods' DNS will fail", ip, DNS_INTERFACE);
            d->made_iface = 0;
        } else if (d->made_iface == 2)
            TR_WARN (A, "no dummy interface driver in this kernel: %s/32 is on lo (label lo:troupe-dns) instead of %s", ip,
                     DNS_INTERFACE);
    }
    snprintf (d->addr, sizeof d->addr, "%s", ip);
    o.ip = d->addr;
    char *ups[DNSSERVE_MAX_UPSTREAMS] = {NULL};
    json_t *cu = tv_get (config, "dnsUpstreams");
    if (json_is_array (cu)) {
        size_t i;
        json_t *v;
        json_array_foreach (cu, i, v) if (i < DNSSERVE_MAX_UPSTREAMS && json_string_value (v)) ups[i] = strdup (json_string_value (v));
    } else {
        const char *rc = tv_str (config, "resolvConf");
        char *text = read_text (rc && *rc ? rc : "/etc/resolv.conf");
        dnsserve_upstreams_from_resolv (text, d->addr, ups);
        free (text);
    }
    for (int i = 0; i < DNSSERVE_MAX_UPSTREAMS; i++)
        o.upstreams[i] = ups[i];
    d->srv = dnsserve_new (d->view, &o, err, sizeof err);
    if (!d->srv)
        TR_ERROR (A, "cannot serve DNS error=\"%s\"", err);
    else
        TR_INFO (A, "serving DNS addr=%s port=%d domain=%s upstreams=%s%s%s%s%s", d->addr, dnsserve_port (d->srv), domain,
                 ups[0] ? ups[0] : "none", ups[1] ? "," : "", ups[1] ? ups[1] : "", ups[2] ? "," : "", ups[2] ? ups[2] : "");
    for (int i = 0; i < DNSSERVE_MAX_UPSTREAMS; i++)
        free (ups[i]);
    troupe_timer (ctx, T_TICK, 100, 1);
    troupe_timer (ctx, T_READY, READY_WAIT_MS, 0);
    return d;
}

static int
dns_timer (void *self, troupe_ctx_t *ctx, int id)
{
    (void) ctx;
    dns_t *d = self;
    if (id == T_TICK && d->srv)
        dnsserve_tick (d->srv, troupe_mono_ms ());
    if (id == T_READY)
        dns_view_set_ready (d->view, 1);   /* as CoreDNS: serve what there is after the wait */
    return 0;
}

static void
dns_destroy (void **self_p)
{
    dns_t *d = *self_p;
    if (!d)
        return;
    dnsserve_destroy (&d->srv);
    if (d->made_iface)
        iface_delete (d->made_iface, d->addr);
    dns_view_destroy (&d->view);
    free (d);
    *self_p = NULL;
}

static const troupe_actor_t def = {
    .abi = TROUPE_ACTOR_ABI, .name = "dns", .create = dns_create, .timer = dns_timer, .destroy = dns_destroy};

const troupe_actor_t *
dns_actor (void)
{
    return &def;
}
