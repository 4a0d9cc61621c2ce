/* cmd_logs — logs POD [-c C] [-f] [--tail N]: the broker forwards to the pod's node agent. */
#include "cli/cli.h"
#include "core/value.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

int
cmd_logs (cli_t *g, int argc, char **argv)
{
    const char *container = cli_opt (&argc, argv, "--container", "-c");
    const char *tail = cli_opt (&argc, argv, "--tail", NULL);
    int follow = cli_flag (&argc, argv, "--follow", "-f");
    int previous = cli_flag (&argc, argv, "--previous", "-p");
    int timestamps = cli_flag (&argc, argv, "--timestamps", NULL);
    if (argc < 2) {
        fprintf (stderr, "usage: troupe logs POD [-c CONTAINER] [-f] [-p] [--tail N] [--timestamps]\n");
        return 1;
    }
    const char *pod = argv[1];
    if (!strncmp (pod, "pod/", 4))
        pod += 4;
    json_int_t offset = -1, file = -1; /* file: the inode the offset is in (rotation) */
    for (;;) {
        tr_env_t req, rep;
        tr_env_init (&req);
        req.verb = TR_VERB_LOGS;
        snprintf (req.kind, sizeof req.kind, "Pod");
        snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
        snprintf (req.name, sizeof req.name, "%s", pod);
        req.opts = json_object ();
        if (container)
            json_object_set_new (req.opts, "container", json_string (container));
        if (offset >= 0)
            json_object_set_new (req.opts, "offset", json_integer (offset));
        if (offset >= 0 && file >= 0)
            json_object_set_new (req.opts, "file", json_integer (file));
        else if (tail)
            json_object_set_new (req.opts, "tailLines", json_integer (atoll (tail)));
        if (previous)
            json_object_set_new (req.opts, "previous", json_true ());
        if (timestamps)
            json_object_set_new (req.opts, "timestamps", json_true ());
        if (cli_call (g, &req, &rep)) {
            tr_env_clear (&req);
            return 1;
        }
        tr_env_clear (&req);
        if (rep.code != TR_OK) {
            cli_print_error (&rep);
            tr_env_clear (&rep);
            return 1;
        }
        json_t *data = tv_get (rep.body, "data");
        if (json_is_string (data))
            fwrite (json_string_value (data), 1, json_string_length (data), stdout);
        fflush (stdout);
        offset = tv_int (rep.body, "offset", offset < 0 ? 0 : offset);
        file = tv_int (rep.body, "file", -1);
        int more = json_string_length (data) > 0;
        tr_env_clear (&rep);
        if (!follow)
            return 0;
        if (!more)
            zclock_sleep (500); /* follow: poll the next bytes from where we stopped */
        if (zsys_interrupted)
            return 0;
    }
}
