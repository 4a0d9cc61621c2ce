/* cmd_store — the replicated store, like etcdctl:
 *   store status [-o json]                 members, leader, term, indexes (endpoint status + member list),
 *                                          and a digest of the store to compare replicas
 *   store member remove ID|ADDRESS         one membership change, on the leader
 *   store snapshot save FILE               a backup: the asked server's store (header, LMDB copy, BLAKE2b)
 *   store snapshot restore FILE --data DIR offline: a data directory that starts a new cluster */
#include "actors/store/fsm.h"
#include "actors/store/store.h"
#include "cli/cli.h"
#include "cli/cluster_pki.h"
#include "core/value.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
store_status (cli_t *g, int argc, char **argv)
{
    const char *out = cli_opt (&argc, argv, "--output", "-o");
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_GET;
    snprintf (req.kind, sizeof req.kind, "StoreStatus");
    req.opts = json_pack ("{s:b}", "digest", 1);
    int rc = cli_call (g, &req, &rep);
    tr_env_clear (&req);
    if (rc)
        return 1;
    if (rep.code != TR_OK) {
        cli_print_error (&rep);
        tr_env_clear (&rep);
        return 1;
    }
    if (out && !strcmp (out, "json")) {
        char *s = json_dumps (rep.body, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("%s\n", s);
        free (s);
        tr_env_clear (&rep);
        return 0;
    }
    json_t *b = rep.body;
    printf ("ID:             %lld\n", (long long) tv_int (b, "id", 0));
    printf ("Address:        %s\n", tv_str (b, "address") ? tv_str (b, "address") : "");
    printf ("State:          %s%s\n", tv_str (b, "state") ? tv_str (b, "state") : "",
            tv_bool (b, "removed", false) ? " (removed from the cluster: this server stops)" : "");
    printf ("Name:           %s\n", tv_str (b, "name") ? tv_str (b, "name") : "");
    printf ("Leader:         %s (%s, id %lld)\n", tv_str (b, "leader") && *tv_str (b, "leader") ? tv_str (b, "leader") : "none",
            tv_str (b, "leaderAddress") ? tv_str (b, "leaderAddress") : "", (long long) tv_int (b, "leaderId", 0));
    printf ("Term:           %lld\n", (long long) tv_int (b, "term", 0));
    printf ("Commit index:   %lld\n", (long long) tv_int (b, "commitIndex", 0));
    printf ("Applied index:  %lld\n", (long long) tv_int (b, "appliedIndex", 0));
    printf ("Last index:     %lld\n", (long long) tv_int (b, "lastIndex", 0));
    printf ("Log entries:    %lld\n", (long long) (tv_int (b, "lastIndex", 0) - tv_int (b, "snapshotIndex", 0)));
    printf ("Last snapshot:  %lld\n", (long long) tv_int (b, "snapshotIndex", 0));
    printf ("Revision:       %lld\n", (long long) tv_int (b, "revision", 0));
    if (tv_str (b, "digest"))
        printf ("Digest:         %s (%lld keys, at applied index %lld)\n", tv_str (b, "digest"),
                (long long) tv_int (b, "digestKeys", 0), (long long) tv_int (b, "digestIndex", 0));
    printf ("Members:\n  %-12s %-20s %-28s %s\n", "NAME", "ID", "ADDRESS", "ROLE");
    size_t i;
    json_t *m;
    json_array_foreach (tv_get (b, "members"), i, m) {
        long long id = (long long) tv_int (m, "id", 0);
        printf ("  %-12s %-20lld %-28s %s%s\n", tv_str (m, "name") ? tv_str (m, "name") : "", id,
                tv_str (m, "address") ? tv_str (m, "address") : "",
                tv_str (m, "role") ? tv_str (m, "role") : "", id == tv_int (b, "leaderId", -1) ? " (leader)" : "");
    }
    tr_env_clear (&rep);
    return 0;
}

static int
member_remove (cli_t *g, const char *who)
{
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_DELETE;
    snprintf (req.kind, sizeof req.kind, "StoreMember");
    snprintf (req.name, sizeof req.name, "%s", who);
    if (cli_call_ok (g, &req, &rep))
        return 1;
    tr_env_clear (&rep);
    printf ("member %s removed\n", who);
    return 0;
}

static int
snapshot_save (cli_t *g, const char *path)
{
    char tmp[4200];
    snprintf (tmp, sizeof tmp, "%s.part", path);
    FILE *f = fopen (tmp, "wb");
    if (!f) {
        fprintf (stderr, "error: %s: %s\n", tmp, strerror (errno));
        return 1;
    }
    /* a linearizable read first: the server asked (maybe a follower) has then applied every
     * write acknowledged before this command, and its copy holds them */
    tr_env_t rq, rp;
    tr_env_init (&rq);
    rq.verb = TR_VERB_LIST;
    snprintf (rq.kind, sizeof rq.kind, "Namespace");
    if (cli_call_ok (g, &rq, &rp)) {
        fclose (f);
        unlink (tmp);
        return 1;
    }
    tr_env_clear (&rp);
    json_int_t off = 0, total = -1, index = 0;
    while (total < 0 || off < total) {
        tr_env_t req, rep;
        tr_env_init (&req);
        req.verb = TR_VERB_GET;
        snprintf (req.kind, sizeof req.kind, "StoreSnapshot");
        req.opts = json_pack ("{s:I}", "offset", off);
        if (cli_call_ok (g, &req, &rep)) {
            fclose (f);
            unlink (tmp);
            return 1;
        }
        json_t *data = tv_get (rep.body, "data");
        size_t n = json_is_string (data) ? json_string_length (data) : 0;
        total = tv_int (rep.body, "total", 0);
        index = tv_int (rep.body, "index", 0);
        if (tv_int (rep.body, "offset", -1) != off || !n || fwrite (json_string_value (data), 1, n, f) != n) {
            fprintf (stderr, "error: snapshot transfer broke at byte %lld of %lld\n", (long long) off, (long long) total);
            tr_env_clear (&rep);
            fclose (f);
            unlink (tmp);
            return 1;
        }
        off += (json_int_t) n;
        tr_env_clear (&rep);
    }
    if (fflush (f) || fsync (fileno (f)) || fclose (f) || rename (tmp, path)) {
        fprintf (stderr, "error: %s: %s\n", path, strerror (errno));
        unlink (tmp);
        return 1;
    }
    printf ("snapshot saved to %s (%lld bytes, raft index %lld)\n", path, (long long) total, (long long) index);
    return 0;
}

static int
snapshot_restore (const char *path, const char *data)
{
    size_t len = 0;
    unsigned char *buf = (unsigned char *) cli_read_file (path, &len);
    if (!buf) {
        fprintf (stderr, "error: %s: %s\n", path, strerror (errno));
        return 1;
    }
    uint64_t index = 0;
    unsigned char sum[crypto_generichash_BYTES];
    if (len <= sizeof sum || fsm_snapshot_index (buf, len - sizeof sum, &index)) {
        fprintf (stderr, "error: %s is not a Troupe store snapshot (bad header)\n", path);
        free (buf);
        return 1;
    }
    crypto_generichash (sum, sizeof sum, buf, len - sizeof sum, NULL, 0);
    if (sodium_memcmp (sum, buf + len - sizeof sum, sizeof sum)) {
        fprintf (stderr, "error: %s is damaged: its checksum (last %zu bytes) does not match\n", path, sizeof sum);
        free (buf);
        return 1;
    }
    char dir[4200], mdb[4300];
    snprintf (dir, sizeof dir, "%s/raft", data);
    snprintf (mdb, sizeof mdb, "%s/store/data.mdb", data);
    if (access (dir, F_OK) == 0 || access (mdb, F_OK) == 0) {
        fprintf (stderr, "error: %s already holds a store: restore into a new directory\n", data);
        free (buf);
        return 1;
    }
    mkdir (data, 0700);
    snprintf (dir, sizeof dir, "%s/store", data);
    char err[4400];
    store_t *st = NULL;
    if (fsm_snapshot_write (buf, len - sizeof sum, dir) == 0)
        st = store_open (dir, 0, err, sizeof err);
    else
        snprintf (err, sizeof err, "cannot write %s/data.mdb: %s", dir, strerror (errno));
    free (buf);
    /* a new cluster starts a new Raft log: its entries must not be taken for ones already applied */
    if (!st || store_set_applied_index (st, 0) || cluster_pki_drop (st)) {
        fprintf (stderr, "error: %s\n", st ? "cannot reset the applied index" : err);
        store_close (&st);
        return 1;
    }
    printf ("restored %zu keys at revision %llu (raft index %llu) into %s\n"
            "start a new cluster from it: troupe server --data %s --peer-listen tcp://HOST:PORT\n",
            store_count (st), (unsigned long long) store_revision (st), (unsigned long long) index, data, data);
    store_close (&st);
    return 0;
}

int
cmd_store (cli_t *g, int argc, char **argv)
{
    const char *data = cli_opt (&argc, argv, "--data", NULL);
    if (argc >= 2 && !strcmp (argv[1], "status"))
        return store_status (g, argc - 1, argv + 1);
    if (argc == 4 && !strcmp (argv[1], "member") && !strcmp (argv[2], "remove"))
        return member_remove (g, argv[3]);
    if (argc == 3 && !strcmp (argv[1], "member") && !strcmp (argv[2], "list"))
        return store_status (g, 1, argv + 2);
    if (argc == 4 && !strcmp (argv[1], "snapshot") && !strcmp (argv[2], "save"))
        return snapshot_save (g, argv[3]);
    if (argc == 4 && !strcmp (argv[1], "snapshot") && !strcmp (argv[2], "restore")) {
        if (!data) {
            fprintf (stderr, "error: snapshot restore needs --data DIR (a new data directory)\n");
            return 1;
        }
        return snapshot_restore (argv[3], data);
    }
    fprintf (stderr, "usage: troupe store status [-o json]\n"
                     "       troupe store member list | member remove ID|ADDRESS\n"
                     "       troupe store snapshot save FILE | snapshot restore FILE --data DIR\n");
    return 1;
}
