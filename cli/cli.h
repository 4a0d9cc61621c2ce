/* cli — the `troupe` command: kubectl-like client verbs and kubeadm/k3s-like cluster verbs.
 * Each cmd_*.c implements a group of subcommands; they share the global options and helpers here. */
#ifndef TROUPE_CLI_H
#define TROUPE_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "core/client.h"
#include "core/envelope.h"
#include "core/schema.h"

#define CLI_TIMEOUT_MS 15000
#define CLI_FAILOVER_MS 5000 /* per server, when several are given */
#define CLI_MAX_ENDPOINTS 8

typedef struct {
    const char *server;      /* --server: endpoint(s); else the config file */
    const char *config;      /* --kubeconfig / --config path */
    const char *ns;          /* -n */
    int all_ns;              /* -A */
    tr_client_t *client;     /* lazily connected, to eps[cur] */
    char eps[CLI_MAX_ENDPOINTS][256];
    int neps, cur;
    int first;               /* the server tried first (the one that answered last time) */
    tr_creds_t creds;
    int have_creds;
    schema_registry_t *schemas;
} cli_t;

/* Option parsing helpers: argv is scanned by each command; these find "--name value",
 * "--name=value" and "-x value". They remove what they consume. */
const char *cli_opt (int *argc, char **argv, const char *long_name, const char *short_name);
int cli_flag (int *argc, char **argv, const char *long_name, const char *short_name);

/* Connects on first use. Exits the command with a message on failure (returns NULL). */
tr_client_t *cli_client (cli_t *g);
/* Request/reply; on transport failure prints "error: …" and returns the code. */
int cli_call (cli_t *g, tr_env_t *req, tr_env_t *reply);
/* cli_call for a request the server may take wait_ms to answer (exec --timeout): waits that
 * long per server when it is longer than the usual timeout. */
int cli_call_ms (cli_t *g, tr_env_t *req, tr_env_t *reply, int wait_ms);
/* cli_call that also clears req and takes any answer but OK as a failure: 0 with the reply in
 * *reply, or 1 with the error printed and *reply cleared. */
int cli_call_ok (cli_t *g, tr_env_t *req, tr_env_t *reply);
/* One request (body and opts stolen): the reply's body (new reference; {} when it has none), or
 * NULL with the error printed. With code, *code gets the reply's code (TR_UNAVAILABLE when no
 * server answered) and NotFound is left to the caller, not printed. */
json_t *cli_do (cli_t *g, tr_verb_t verb, const char *kind, const char *ns, const char *name, json_t *body, json_t *opts,
                int *code);
/* Prints a server error like kubectl ("Error from server (NotFound): pods \"x\" not found"). */
void cli_print_error (const tr_env_t *reply);
/* Resolves a kind name (pods, po, deploy, deployment.apps...) or prints an error. */
const schema_kind_t *cli_kind (cli_t *g, const char *name);
/* "deployment.apps/web" — kubectl's resource/name form for messages. */
void cli_resource_name (const schema_kind_t *k, const char *name, char *buf, size_t len);
/* Reads a whole file ("-" = stdin). Returns a malloc'd buffer or NULL (errno set). */
char *cli_read_file (const char *path, size_t *len);
/* Loads manifests from a file (multi-document YAML or JSON), each a map with kind and
 * metadata.name or generateName. Returns an array or NULL after printing the error. */
json_t *cli_load_manifests (cli_t *g, const char *path);
/* Namespace to use for an object: -n, else the manifest's, else "default". */
const char *cli_namespace (cli_t *g, const json_t *obj);

/* Runs the rest of this command as a supervised child that is started again when it crashes
 * (cli/supervise.c). Returns 1 in the child (go on), 0 in the supervisor once it is done, with
 * the child's last exit status (128 + signal) in *status. */
int cli_supervise (const char *what, int *status);
/* SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT: a crash the supervisor restarts. */
int cli_crash_signal (int sig);

int cmd_init (cli_t *g, int argc, char **argv);
int cmd_up (cli_t *g, int argc, char **argv);
int cmd_server (cli_t *g, int argc, char **argv);
int cmd_agent (cli_t *g, int argc, char **argv);
int cmd_shim (cli_t *g, int argc, char **argv);
int cmd_apply (cli_t *g, int argc, char **argv);
int cmd_create (cli_t *g, int argc, char **argv);
int cmd_get (cli_t *g, int argc, char **argv);
int cmd_describe (cli_t *g, int argc, char **argv);
int cmd_delete (cli_t *g, int argc, char **argv);
int cmd_scale (cli_t *g, int argc, char **argv);
/* patch and label: cli/cmd_patch.c */
int cmd_patch (cli_t *g, int argc, char **argv);
int cmd_label (cli_t *g, int argc, char **argv);
int cmd_logs (cli_t *g, int argc, char **argv);
int cmd_exec (cli_t *g, int argc, char **argv);
int cmd_runtime (cli_t *g, int argc, char **argv);
int cmd_image (cli_t *g, int argc, char **argv);
int cmd_rollout (cli_t *g, int argc, char **argv);
int cmd_store (cli_t *g, int argc, char **argv);
int cmd_secrets (cli_t *g, int argc, char **argv);
int cmd_token (cli_t *g, int argc, char **argv);
int cmd_join (cli_t *g, int argc, char **argv);
/* hollow nodes (kubemark): cli/cmd_hollow.c */
int cmd_hollow (cli_t *g, int argc, char **argv);
int cmd_lab (cli_t *g, int argc, char **argv);
/* cordon, uncordon and drain (argv[0] says which) */
int cmd_cordon (cli_t *g, int argc, char **argv);

/* Applies every manifest of path (create or update); prints one line per object. 0 or 1. */
int cli_apply_file (cli_t *g, const char *path, int quiet);

#endif
