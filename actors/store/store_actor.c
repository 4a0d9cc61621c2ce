/* store_actor — see store_actor.h. */
#include "actors/store/store_actor.h"
#include "actors/store/store.h"
#include "actors/store/fsm.h"
#include "core/log.h"
#include "core/store_proto.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char dir[1024];
    char endpoint[1024];
    int64_t pace_us; /* TROUPE_STORE_PACE_US, read by store_actor_new */
} args_t;

typedef struct {
    zframe_t *rid;
    uint64_t id;
    size_t first, n; /* its ops in the batch */
} proposer_t;

typedef struct {
    zsock_t *router;
    store_t *store;
    zlistx_t *subs; /* routing ids (zframe_t*) of subscribed brokers */
    /* group commit, told at stop: proposals over transactions, and the largest transaction */
    uint64_t stat_txns, stat_writes, stat_max;
} self_t;

static void
send_to (zsock_t *router, zframe_t *rid, const char *data, size_t len)
{
    zmsg_t *m = zmsg_new ();
    zmsg_append (m, &(zframe_t *) {zframe_dup (rid)});
    zmsg_addmem (m, data, len);
    zmsg_send (&m, router);
    zmsg_destroy (&m); /* left to us if the send failed */
}

/* Applies a drained set of proposals: one transaction, events out, then replies. */
static void
commit (self_t *s, zmsg_t **msgs, size_t nmsgs)
{
    size_t cap = 0, nops = 0, nprop = 0;
    store_op_t *ops = NULL;
    proposer_t *props = calloc (nmsgs, sizeof *props);
    msgpack_unpacked *up = calloc (nmsgs, sizeof *up);
    for (size_t i = 0; i < nmsgs; i++) {
        zframe_t *rid = zmsg_pop (msgs[i]);
        zframe_t *body = zmsg_first (msgs[i]);
        msgpack_unpacked_init (&up[i]);
        const msgpack_object *arr = NULL;
        if (body && msgpack_unpack_next (&up[i], (const char *) zframe_data (body), zframe_size (body), NULL)
                        == MSGPACK_UNPACK_SUCCESS)
            arr = sp_field (&up[i].data, "ops");
        if (!arr || arr->type != MSGPACK_OBJECT_ARRAY) {
            TR_WARN ("store", "dropped undecodable proposal");
            zframe_destroy (&rid);
            continue;
        }
        proposer_t *p = &props[nprop++];
        p->rid = rid;
        p->id = sp_u64 (sp_field (&up[i].data, "id"), 0);
        p->first = nops;
        p->n = fsm_decode_ops (arr, &ops, &nops, &cap);
    }
    store_op_result_t *res = calloc (nops ? nops : 1, sizeof *res);
    fsm_events_t ev;
    fsm_events_init (&ev);
    if (nops && store_apply (s->store, ops, nops, res, fsm_on_event, &ev))
        TR_ERROR ("store", "transaction failed ops=%zu", nops);
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    if (fsm_events_pack (&ev, &out))
        for (zframe_t *rid = zlistx_first (s->subs); rid; rid = zlistx_next (s->subs))
            send_to (s->router, rid, out.data, out.size);
    fsm_events_clear (&ev);
    msgpack_sbuffer_destroy (&ev.buf);
    for (size_t i = 0; i < nprop; i++) {
        proposer_t *p = &props[i];
        msgpack_sbuffer_clear (&out);
        fsm_pack_reply (&out, p->id, res + p->first, p->n);
        send_to (s->router, p->rid, out.data, out.size);
        zframe_destroy (&p->rid);
    }
    msgpack_sbuffer_destroy (&out);
    fsm_free_ops (ops, nops);
    for (size_t i = 0; i < nmsgs; i++)
        msgpack_unpacked_destroy (&up[i]);
    free (up);
    free (res);
    free (props);
}

/* One transaction for the n proposals drained (none: nothing), its statistics, then compaction
 * of the change log when it has grown to twice what it keeps. */
static void
commit_batch (self_t *s, zmsg_t **batch, size_t n)
{
    if (!n)
        return;
    commit (s, batch, n);
    s->stat_txns++;
    s->stat_writes += n;
    if (n > s->stat_max)
        s->stat_max = n;
    for (size_t i = 0; i < n; i++)
        zmsg_destroy (&batch[i]);
    uint64_t rev = store_revision (s->store);
    if (rev - store_oldest_rev (s->store) >= 2 * STORE_ACTOR_KEEP_REVISIONS) {
        long dropped = store_compact (s->store, rev - STORE_ACTOR_KEEP_REVISIONS);
        TR_INFO ("store", "compacted change log dropped=%ld oldest=%llu", dropped,
                 (unsigned long long) store_oldest_rev (s->store));
    }
}

static void
serve_range (self_t *s, zframe_t *rid, const msgpack_object *o)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    fsm_answer_range (s->store, o, &out);
    send_to (s->router, rid, out.data, out.size);
    msgpack_sbuffer_destroy (&out);
}

int64_t
store_actor_pace_left (size_t pending, size_t last_n, int64_t last_us, int64_t now_us, int64_t pace_us)
{
    if (!pending || last_n < STORE_ACTOR_PACE_MIN || now_us - last_us >= pace_us)
        return 0;
    return last_us + pace_us - now_us;
}

/* A command on the actor's pipe: "STATS" (tests) is answered with the transactions, the
 * proposals they held, the largest and the last's size (four uint64); anything else ("$TERM")
 * stops the store: returns 1. */
static int
on_pipe (zsock_t *pipe, const self_t *s, size_t last_n)
{
    char *cmd = zstr_recv (pipe);
    int stats = cmd && !strcmp (cmd, "STATS");
    free (cmd);
    if (!stats)
        return 1;
    zsock_send (pipe, "8888", s->stat_txns, s->stat_writes, s->stat_max, (uint64_t) last_n);
    return 0;
}

static void
store_thread (zsock_t *pipe, void *arg)
{
    args_t *a = arg;
    self_t s = {0};
    const int64_t pace = a->pace_us;
    zsock_signal (pipe, 0); /* zactor_new's handshake; the start status follows */
    tr_thread_name ("store");
    char err[512];
    s.store = store_open (a->dir, 0, err, sizeof err);
    s.router = s.store ? zsock_new (ZMQ_ROUTER) : NULL;
    if (s.router) {
        zsock_set_linger (s.router, 0);
        zsock_set_rcvhwm (s.router, 0);
        zsock_set_sndhwm (s.router, 0);
    }
    if (!s.store || !s.router || zsock_bind (s.router, "%s", a->endpoint) < 0) {
        TR_ERROR ("store", "cannot start dir=%s endpoint=%s error=\"%s\"", a->dir, a->endpoint,
                  s.store ? zmq_strerror (zmq_errno ()) : err);
        zsock_destroy (&s.router);
        store_close (&s.store);
        free (a);
        zsock_signal (pipe, 1);
        return;
    }
    TR_INFO ("store", "open dir=%s revision=%llu keys=%zu", a->dir, (unsigned long long) store_revision (s.store),
             store_count (s.store));
    free (a);
    s.subs = zlistx_new ();
    zlistx_set_destructor (s.subs, (zlistx_destructor_fn *) zframe_destroy);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, s.router, NULL), *paced = zpoller_new (pipe, NULL);
    zmsg_t **batch = calloc (STORE_ACTOR_BATCH, sizeof *batch);
    int64_t last = 0; /* zclock_usecs of the last commit */
    size_t n = 0, last_n = 0; /* proposals drained, waiting for their transaction; the last's */
    for (;;) {
        void *which;
        int64_t left = store_actor_pace_left (n, last_n, last, zclock_usecs (), pace);
        if (left > 0) {
            /* paced: sleep out the interval, deaf to the broker (each proposal would wake this
             * thread for nothing), then take whatever came meanwhile */
            which = zpoller_wait (paced, (int) ((left + 999) / 1000));
            if (zpoller_terminated (paced) || (which == pipe && on_pipe (pipe, &s, last_n)))
                break;
            if (which == pipe)
                continue;
            which = s.router;
        } else {
            which = zpoller_wait (poller, n ? 0 : -1);
            if (zpoller_terminated (poller) || (which == pipe && on_pipe (pipe, &s, last_n)))
                break;
        }
        /* drain: every proposal already queued joins this transaction (group commit) */
        while (which == s.router && n < STORE_ACTOR_BATCH) {
            zmsg_t *m = zmsg_recv_nowait (s.router);
            if (!m)
                break;
            zframe_t *body = zmsg_size (m) == 2 ? zmsg_last (m) : NULL;
            msgpack_unpacked up;
            msgpack_unpacked_init (&up);
            char t[4] = "";
            if (body && msgpack_unpack_next (&up, (const char *) zframe_data (body), zframe_size (body), NULL)
                            == MSGPACK_UNPACK_SUCCESS) {
                const msgpack_object *tf = sp_field (&up.data, "t");
                if (tf)
                    sp_str (tf, t, sizeof t);
            }
            if (!strcmp (t, "p")) {
                batch[n++] = m;
                m = NULL;
            } else if (!strcmp (t, "g")) {
                zframe_t *rid = zmsg_first (m);
                serve_range (&s, rid, &up.data);
            } else if (!strcmp (t, "s")) {
                zlistx_add_end (s.subs, zframe_dup (zmsg_first (m)));
            } else
                TR_WARN ("store", "dropped unknown message");
            msgpack_unpacked_destroy (&up);
            zmsg_destroy (&m);
        }
        int64_t now = zclock_usecs ();
        if (n && (n >= STORE_ACTOR_BATCH || !store_actor_pace_left (n, last_n, last, now, pace))) {
            last = now;
            last_n = n;
            commit_batch (&s, batch, n);
            n = 0;
        }
    }
    commit_batch (&s, batch, n); /* proposed before the stop: answered, as an idle store would have */
    free (batch);
    if (s.stat_txns)
        TR_INFO ("store", "group commit: %llu writes in %llu transactions (mean %.1f, largest %llu)",
                 (unsigned long long) s.stat_writes, (unsigned long long) s.stat_txns,
                 (double) s.stat_writes / (double) s.stat_txns, (unsigned long long) s.stat_max);
    zpoller_destroy (&poller);
    zpoller_destroy (&paced);
    zlistx_destroy (&s.subs);
    zsock_destroy (&s.router);
    store_close (&s.store);
}

zactor_t *
store_actor_new (const char *data_dir, const char *endpoint)
{
    args_t *a = calloc (1, sizeof *a);
    snprintf (a->dir, sizeof a->dir, "%s", data_dir);
    snprintf (a->endpoint, sizeof a->endpoint, "%s", endpoint);
    /* read here, on the caller's thread, not in the actor's: a caller may change the environment
     * once this returns (the unit test sets it around the call) */
    const char *pe = getenv ("TROUPE_STORE_PACE_US");
    a->pace_us = pe && *pe ? atoll (pe) : STORE_ACTOR_PACE_US;
    zactor_t *z = zactor_new (store_thread, a);
    if (z && zsock_wait (z)) /* 1: the store could not open; the thread has ended */
        zactor_destroy (&z);
    return z;
}
