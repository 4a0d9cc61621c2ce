/* cmd_store — store status [-o json]: the replicated store as seen by the server the CLI talks
 * to (like `etcdctl endpoint status` + `member list`). */
#include "cli/cli.h"
#include "core/value.h"

#include <stdlib.h>
#include <string.h>

static int
store_status (cli_t *g, int argc, char **argv)
{
    const char *out = cli_opt (&argc, argv, "--output", "-o");
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_GET;
    snprintf (req.kind, sizeof req.kind, "StoreStatus");
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
    printf ("State:          %s\n", tv_str (b, "state") ? tv_str (b, "state") : "");
    printf ("Leader:         %s (id %lld)\n", tv_str (b, "leader") && *tv_str (b, "leader") ? tv_str (b, "leader") : "none",
            (long long) tv_int (b, "leaderId", 0));
    printf ("Term:           %lld\n", (long long) tv_int (b, "term", 0));
    printf ("Commit index:   %lld\n", (long long) tv_int (b, "commitIndex", 0));
    printf ("Applied index:  %lld\n", (long long) tv_int (b, "appliedIndex", 0));
    printf ("Last index:     %lld\n", (long long) tv_int (b, "lastIndex", 0));
    printf ("Log entries:    %lld\n", (long long) (tv_int (b, "lastIndex", 0) - tv_int (b, "snapshotIndex", 0)));
    printf ("Last snapshot:  %lld\n", (long long) tv_int (b, "snapshotIndex", 0));
    printf ("Revision:       %lld\n", (long long) tv_int (b, "revision", 0));
    printf ("Members:\n  %-20s %-28s %s\n", "ID", "ADDRESS", "ROLE");
    size_t i;
    json_t *m;
    json_array_foreach (tv_get (b, "members"), i, m) {
        long long id = (long long) tv_int (m, "id", 0);
        printf ("  %-20lld %-28s %s%s\n", id, tv_str (m, "address") ? tv_str (m, "address") : "",
                tv_str (m, "role") ? tv_str (m, "role") : "", id == tv_int (b, "leaderId", -1) ? " (leader)" : "");
    }
    tr_env_clear (&rep);
    return 0;
}

int
cmd_store (cli_t *g, int argc, char **argv)
{
    if (argc >= 2 && !strcmp (argv[1], "status"))
        return store_status (g, argc - 1, argv + 1);
    fprintf (stderr, "usage: troupe store status [-o json]\n");
    return 1;
}
