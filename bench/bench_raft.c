/* bench_raft — the replicated store under load: 1, 3 or 5 members on loopback (real libraft log
 * with fsync, real LMDB, peers over CURVE TCP), driven at the store protocol (core/store_proto.h)
 * over ipc by N closed-loop clients, each with one request in flight — the same shape as etcd's
 * benchmark tool (scripts/bench_store.sh runs etcd beside it with the same parameters). The
 * clients share one DEALER, as a broker's requests do (request id → client).
 *
 *   build/bench_raft [--members 3] [--clients 64] [--size 256] [--seconds 5] [--op put|cas|get]
 *
 * put: overwrite keys /bench/<client>/<i%1000>; cas: compare-and-swap on each client's own key
 * with the revision of its previous write; get: linearizable read = read barrier ("b") then a
 * range read of one key. Prints one line: ops/s, p50, p99.
 */
#include "bench/bench_cluster.h"

static zsock_t *dealer;

typedef struct {
    int i;
    double sent;
    uint64_t rev;    /* cas: revision of this client's key */
    int phase;       /* get: 0 barrier sent, 1 range sent */
    char key[64];
} client_t;

static const char *op = "put";
static size_t size = 256;
static char *val;

static void
send_next (client_t *c, uint64_t id)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    if (!strcmp (op, "get")) {
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        if (c->phase == 0) {
            msgpack_pack_map (&pk, 2);
            sp_pack_cstr (&pk, "t");
            sp_pack_cstr (&pk, "b");
            sp_pack_cstr (&pk, "id");
            msgpack_pack_uint64 (&pk, id);
        } else {
            msgpack_pack_map (&pk, 3);
            sp_pack_cstr (&pk, "t");
            sp_pack_cstr (&pk, "g");
            sp_pack_cstr (&pk, "id");
            msgpack_pack_uint64 (&pk, id);
            sp_pack_cstr (&pk, "prefix");
            sp_pack_cstr (&pk, c->key);
        }
    } else {
        char key[96];
        if (!strcmp (op, "cas"))
            snprintf (key, sizeof key, "%s", c->key);
        else
            snprintf (key, sizeof key, "%s/%d", c->key, c->i % 1000);
        sp_op_t o = {.op = 1, .cond = !strcmp (op, "cas") && c->rev ? 3 : 0, .expect = c->rev, .key = key,
                     .val = val, .len = size};
        sp_pack_propose (&sb, id, &o, 1);
    }
    zsock_send (dealer, "b", sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
}

static void
usage (void)
{
    fprintf (stderr, "usage: bench_raft [--members 1|3|5] [--clients N] [--size BYTES] [--seconds S] [--op put|cas|get]\n");
    exit (2);
}

int
main (int argc, char **argv)
{
    int members = 3, nclients = 64;
    double seconds = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage ();
        if (!strcmp (argv[i], "--members"))
            members = atoi (argv[++i]);
        else if (!strcmp (argv[i], "--clients"))
            nclients = atoi (argv[++i]);
        else if (!strcmp (argv[i], "--size"))
            size = (size_t) atol (argv[++i]);
        else if (!strcmp (argv[i], "--seconds"))
            seconds = atof (argv[++i]);
        else if (!strcmp (argv[i], "--op"))
            op = argv[++i];
        else
            usage ();
    }
    if (members < 1 || members > 7 || nclients < 1 || (strcmp (op, "put") && strcmp (op, "cas") && strcmp (op, "get")))
        usage ();
    zsys_init ();
    zsys_set_logstream (NULL);
    setenv ("TROUPE_LOG", "warn", 0);
    val = malloc (size);
    memset (val, 'v', size);
    bc_cluster_t bc;
    if (bc_start (&bc, members)) {
        bc_stop (&bc);
        return 1;
    }
    client_t *cl = calloc ((size_t) nclients, sizeof *cl);
    dealer = zsock_new_dealer (bc.eps[0]); /* member 1 bootstrapped: the leader */
    zsock_set_rcvhwm (dealer, 0);
    zsock_set_sndhwm (dealer, 0);
    zsock_set_rcvtimeo (dealer, 5000);
    for (int k = 0; k < nclients; k++)
        snprintf (cl[k].key, sizeof cl[k].key, "/bench/%d", k);
    /* get needs something to read; cas starts from a first put */
    size_t cap = 1 << 20, nlat = 0;
    double *lat = malloc (cap * sizeof *lat);
    if (!strcmp (op, "get")) {
        const char *save = op;
        op = "put";
        for (int k = 0; k < nclients; k++) {
            char key[96];
            snprintf (key, sizeof key, "%s", cl[k].key);
            msgpack_sbuffer sb;
            msgpack_sbuffer_init (&sb);
            sp_op_t o = {.op = 1, .key = key, .val = val, .len = size};
            sp_pack_propose (&sb, (uint64_t) k, &o, 1);
            zsock_send (dealer, "b", sb.data, sb.size);
            msgpack_sbuffer_destroy (&sb);
            zmsg_t *r = zmsg_recv (dealer);
            zmsg_destroy (&r);
        }
        op = save;
    }
    long errors = 0;
    double t0 = bc_now (), end = t0 + seconds;
    uint64_t *seq = calloc ((size_t) nclients, sizeof *seq);
    for (int k = 0; k < nclients; k++) {
        cl[k].sent = bc_now ();
        send_next (&cl[k], (uint64_t) k + (uint64_t) nclients * ++seq[k]);
    }
    int inflight = nclients;
    while (inflight) {
        zmsg_t *r = zmsg_recv (dealer);
        if (!r) {
            fprintf (stderr, "no answer for 5 s (%d in flight)\n", inflight);
            break;
        }
        zframe_t *f = zmsg_first (r);
        client_t *c = NULL;
        msgpack_unpacked up;
        msgpack_unpacked_init (&up);
        int ok = 0;
        if (f && msgpack_unpack_next (&up, (const char *) zframe_data (f), zframe_size (f), NULL) == MSGPACK_UNPACK_SUCCESS) {
            c = &cl[sp_u64 (sp_field (&up.data, "id"), 0) % (uint64_t) nclients];
            const msgpack_object *res = sp_field (&up.data, "res");
            const msgpack_object *okf = sp_field (&up.data, "ok");
            if (res && res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size == 1) {
                const msgpack_object *r0 = &res->via.array.ptr[0];
                ok = r0->via.array.ptr[0].via.u64 == 0;
                if (ok)
                    c->rev = r0->via.array.ptr[1].via.u64;
            } else if (okf)
                ok = okf->type == MSGPACK_OBJECT_BOOLEAN && okf->via.boolean;
            else
                ok = sp_field (&up.data, "kvs") != NULL;
        }
        msgpack_unpacked_destroy (&up);
        zmsg_destroy (&r);
        if (!c)
            continue;
        if (!ok)
            errors++;
        if (!strcmp (op, "get") && c->phase == 0 && ok) {
            c->phase = 1; /* barrier passed: now the read itself */
            send_next (c, (uint64_t) (c - cl) + (uint64_t) nclients * ++seq[c - cl]);
            continue;
        }
        c->phase = 0;
        double t = bc_now ();
        if (nlat < cap)
            lat[nlat++] = t - c->sent;
        c->i++;
        if (t >= end) {
            inflight--;
            continue;
        }
        c->sent = t;
        send_next (c, (uint64_t) (c - cl) + (uint64_t) nclients * ++seq[c - cl]);
    }
    double secs = bc_now () - t0;
    qsort (lat, nlat, sizeof *lat, bc_cmpd);
    printf ("troupe members=%d clients=%d size=%zu op=%s ops/s=%.0f p50_ms=%.3f p99_ms=%.3f errors=%ld\n", members,
            nclients, size, op, nlat / secs, nlat ? lat[nlat / 2] * 1e3 : 0, nlat ? lat[nlat * 99 / 100] * 1e3 : 0,
            errors);
    zsock_destroy (&dealer);
    free (seq);
    free (cl);
    free (lat);
    free (val);
    return bc_stop (&bc) ? 1 : 0;
}
