/* cmd_exec — exec [-i] [-t] POD [-c C] -- CMD…: the broker forwards to the pod's node agent,
 * which runs the command in the container (runc exec) and answers its output and exit code;
 * `troupe exec` exits with that code, as kubectl does. -i sends this command's stdin (read to
 * its end, up to 1 MiB, before the command runs). */
#include "cli/cli.h"
#include "core/value.h"

#include <stdlib.h>
#include <string.h>

int
cmd_exec (cli_t *g, int argc, char **argv)
{
    const char *container = cli_opt (&argc, argv, "--container", "-c");
    const char *timeout = cli_opt (&argc, argv, "--timeout", NULL);
    int in = cli_flag (&argc, argv, "--stdin", "-i");
    int tty = cli_flag (&argc, argv, "--tty", "-t");
    int dash = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp (argv[i], "--")) {
            dash = i;
            break;
        }
    /* kubectl's combined short flags */
    for (int i = 1; i < (dash ? dash : argc); i++)
        if (!strcmp (argv[i], "-it") || !strcmp (argv[i], "-ti")) {
            in = tty = 1;
            memmove (&argv[i], &argv[i + 1], (size_t) (argc - i - 1) * sizeof *argv);
            argc--;
            if (dash)
                dash--;
            i--;
        }
    if (dash != 2 || dash + 1 >= argc) {
        fprintf (stderr, "usage: troupe exec [-i] POD [-c CONTAINER] [--timeout SECONDS] -- COMMAND [ARG...]\n");
        return 1;
    }
    if (tty) {
        fprintf (stderr, "error: -t (a terminal) is not supported yet: exec runs the command with pipes "
                         "(stdin with -i, stdout, stderr) and returns when it ends\n");
        return 1;
    }
    const char *pod = argv[1];
    if (!strncmp (pod, "pod/", 4))
        pod += 4;
    json_t *cmd = json_array ();
    for (int i = dash + 1; i < argc; i++)
        json_array_append_new (cmd, json_string (argv[i]));
    tr_env_t req, rep;
    tr_env_init (&req);
    req.verb = TR_VERB_EXEC;
    snprintf (req.kind, sizeof req.kind, "Pod");
    snprintf (req.ns, sizeof req.ns, "%s", cli_namespace (g, NULL));
    snprintf (req.name, sizeof req.name, "%s", pod);
    req.body = json_pack ("{s:o}", "command", cmd);
    if (container)
        json_object_set_new (req.body, "container", json_string (container));
    if (timeout)
        json_object_set_new (req.body, "timeoutSeconds", json_integer (atoi (timeout)));
    if (in) {
        size_t len;
        char *data = cli_read_file ("-", &len);
        if (len > (1u << 20)) {
            fprintf (stderr, "error: stdin is %zu bytes; exec -i takes at most 1 MiB\n", len);
            free (data);
            tr_env_clear (&req);
            return 1;
        }
        json_object_set_new (req.body, "stdin", json_stringn_nocheck (data ? data : "", data ? len : 0));
        free (data);
    }
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
    json_t *o = tv_get (rep.body, "stdout"), *e = tv_get (rep.body, "stderr");
    if (json_is_string (o))
        fwrite (json_string_value (o), 1, json_string_length (o), stdout);
    if (json_is_string (e))
        fwrite (json_string_value (e), 1, json_string_length (e), stderr);
    fflush (stdout);
    int code = (int) tv_int (rep.body, "exitCode", 1);
    if (tv_bool (rep.body, "timedOut", false)) {
        fprintf (stderr, "error: command timed out\n");
        code = code ? code : 1;
    }
    tr_env_clear (&rep);
    return code;
}
