/* proxy_actor — see proxy_actor.h */
#include "actors/proxy/proxy_actor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/proxy/proxynft.h"
#include "actors/proxy/proxyrules.h"
#include "core/log.h"
#include "core/value.h"

#define A "proxy"

enum { T_SYNC = 1, T_PROBE = 2, T_CHECK = 3 };

typedef struct {
    troupe_ctx_t *ctx;
    troupe_informer_t *svcs, *slices;
    pr_model_t *current;    /* what the kernel holds (NULL: read it back first) */
    char cidr[64];
    int probing;            /* kinds answered so far by the probe (bit 0 Service, bit 1 EndpointSlice) */
    int waiting_logged;
    int programmed;         /* the table was written at least once: delete it at the end */
    int backoff_ms;
    int check_ms;           /* how often the table's presence is checked (a flushed ruleset) */
} proxy_t;

static void
changed (proxy_t *p)
{
    troupe_timer_within (p->ctx, T_SYNC, PROXY_BATCH_MS);
}

static void on_add (void *self, troupe_ctx_t *ctx, const json_t *o) { (void) ctx; (void) o; changed (self); }
static void on_upd (void *self, troupe_ctx_t *ctx, const json_t *a, const json_t *b) { (void) ctx; (void) a; (void) b; changed (self); }
static void on_synced (void *self, troupe_ctx_t *ctx) { (void) ctx; changed (self); }

static void
collect (void *arg, const json_t *obj)
{
    json_array_append ((json_t *) arg, (json_t *) obj);
}

static void
sync_rules (proxy_t *p)
{
    if (!p->svcs || !troupe_informer_synced (p->svcs) || !troupe_informer_synced (p->slices))
        return;
    int64_t t0 = troupe_mono_ms ();
    json_t *ss = json_array (), *sl = json_array ();
    troupe_informer_foreach (p->svcs, collect, ss);
    troupe_informer_foreach (p->slices, collect, sl);
    int skipped = 0, lines = 0, first = !p->current;
    pr_model_t *m = pr_model_build (ss, sl, p->cidr, &skipped);
    char err[2048];
    if (!m || pn_sync (&p->current, m, &lines, err, sizeof err)) {
        if (!m)
            snprintf (err, sizeof err, "out of memory");
        TR_ERROR (A, "sync failed (retry in %d ms; the table is read back first): %s", p->backoff_ms, err);
        troupe_timer (p->ctx, T_SYNC, p->backoff_ms, 0);
        p->backoff_ms = p->backoff_ms >= 15000 ? 30000 : p->backoff_ms * 2;
    } else {
        p->programmed = 1;
        p->backoff_ms = 1000;
        if (first || skipped)
            TR_INFO (A, "table ip %s %s services=%zu slices=%zu chains=%zu commands=%d skipped=%d ms=%lld", PR_TABLE,
                     first ? "reconciled" : "synced", json_array_size (ss), json_array_size (sl), p->current->nchains,
                     lines, skipped, (long long) (troupe_mono_ms () - t0));
        else
            TR_DEBUG (A, "synced commands=%d ms=%lld", lines, (long long) (troupe_mono_ms () - t0));
    }
    json_decref (ss);
    json_decref (sl);
}

static void
start_informers (proxy_t *p)
{
    troupe_handlers_t h = {on_add, on_upd, on_add, on_synced};
    p->svcs = troupe_watch (p->ctx, "Service", NULL, NULL, &h);
    p->slices = troupe_watch (p->ctx, "EndpointSlice", NULL, NULL, &h);
    TR_INFO (A, "watching Services and EndpointSlices cluster-cidr=%s", p->cidr);
}

/* Does the broker serve Service and EndpointSlice? (Otherwise the informers would retry their
 * list every half second, and log it, for nothing.) */
static void probe (proxy_t *p);

static void
probed (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg)
{
    (void) ctx;
    proxy_t *p = self;
    int bit = (int) (intptr_t) arg;
    if (p->svcs)
        return;
    if (reply->code != TR_OK) {
        if (!p->waiting_logged++)
            TR_INFO (A, "the broker does not serve %s yet (%s): the proxy waits, asking every 30 s",
                     bit == 1 ? "Service" : "EndpointSlice", reply->msg ? reply->msg : tr_code_name (reply->code));
        p->probing = 0;
        /* the broker not reached yet: soon; the kind refused: every 30 s */
        int unreachable = reply->code == TR_UNAVAILABLE || reply->code == TR_TIMEOUT;
        troupe_timer (p->ctx, T_PROBE, unreachable ? 2000 : 30000, 0);
        return;
    }
    p->probing |= bit;
    if (p->probing == 3)
        start_informers (p);
}

static void
probe (proxy_t *p)
{
    p->probing = 0;
    const char *kinds[] = {"Service", "EndpointSlice"};
    for (int i = 0; i < 2; i++) {
        tr_env_t req;
        tr_env_init (&req);
        req.verb = TR_VERB_LIST;
        snprintf (req.kind, sizeof req.kind, "%s", kinds[i]);
        req.opts = json_pack ("{s:i, s:b}", "limit", 1, "stale", 1);
        troupe_request (p->ctx, &req, probed, (void *) (intptr_t) (1 << i));
        tr_env_clear (&req);
    }
}

static int
proxy_timer (void *self, troupe_ctx_t *ctx, int id)
{
    (void) ctx;
    proxy_t *p = self;
    if (id == T_SYNC)
        sync_rules (p);
    else if (id == T_PROBE && !p->svcs)
        probe (p);
    else if (id == T_CHECK && p->current && pn_exists () == 0) {
        /* someone deleted it (`nft flush ruleset`, a firewall reload): written again from scratch */
        TR_WARN (A, "table ip %s is gone: programming it again", PR_TABLE);
        pr_model_free (&p->current);
        sync_rules (p);
    }
    return 0;
}

static void *
proxy_create (troupe_ctx_t *ctx, const json_t *config)
{
    proxy_t *p = calloc (1, sizeof *p);
    if (!p)
        return NULL;
    p->ctx = ctx;
    p->backoff_ms = 1000;
    const char *cidr = tv_str (config, "clusterCIDR");
    snprintf (p->cidr, sizeof p->cidr, "%s", cidr ? cidr : "10.244.0.0/16");
    p->check_ms = (int) tv_int (config, "tableCheckSeconds", 30) * 1000;
    if (p->check_ms < 1000 || p->check_ms > 3600000)
        p->check_ms = 30000;
    troupe_timer (ctx, T_CHECK, p->check_ms, 1);
    probe (p);
    return p;
}

static void
proxy_destroy (void **pp)
{
    proxy_t *p = *pp;
    if (!p)
        return;
    if (p->programmed) { /* an orderly stop of the node: its Service rules go with it */
        char err[512];
        if (pn_delete (err, sizeof err))
            TR_WARN (A, "cannot delete table ip %s: %s", PR_TABLE, err);
        else
            TR_INFO (A, "table ip %s deleted", PR_TABLE);
    }
    pr_model_free (&p->current);
    free (p);
    *pp = NULL;
}

static const troupe_actor_t def = {TROUPE_ACTOR_ABI, "proxy", proxy_create, NULL, proxy_timer, proxy_destroy};

const troupe_actor_t *
proxy_actor (void)
{
    return &def;
}
