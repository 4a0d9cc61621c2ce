/* troupe — one binary: cluster (init, up, server, agent, shim) and client verbs. */
#include "cli/cli.h"
#include "core/log.h"

#include <malloc.h>
#ifdef TROUPE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TROUPE_VERSION "0.1.0"

static void
usage (FILE *f)
{
    fprintf (f,
             "troupe — a small Kubernetes-style orchestrator\n\n"
             "Cluster:\n"
             "  init [--cluster NAME] [--data DIR]     create cluster keys and a join token\n"
             "  up [-f MANIFEST]                       single-node cluster in the foreground\n"
             "  server --listen tcp://… [--actor x.so] control plane (store, broker, controllers, scheduler)\n"
             "  server … --peer-listen tcp://H:P [--join tcp://PEER --token T]  replicated store (Raft)\n"
             "         [--snapshot-threshold N] [--snapshot-trailing N] [--lease-checkpoint-seconds S (300; 0: every renewal)]\n"
             "         [--no-supervise]  (by default a crashed server is restarted by its own supervisor process)\n"
             "         [--cluster-cidr 10.244.0.0/16] [--node-cidr-mask-size 24]  each Node's spec.podCIDR (also on up)\n"
             "         [--scheduler-config FILE]  a KubeSchedulerConfiguration: profiles, plugins (also on up)\n"
             "  agent --server tcp://… [--node-name N] a node: runs pods\n"
             "        [--max-pods 110] [--kube-reserved|--system-reserved cpu=100m,memory=100Mi,ephemeral-storage=1Gi]\n"
             "        [--eviction-hard memory.available<100Mi,nodefs.available<10%%,nodefs.inodesFree<5%%,pid.available<N]\n"
             "        [--insecure-registry HOST:PORT]… [--default-runtime oci|process] [--pod-cidr CIDR] [--cni-bin-dir /usr/lib/cni]\n"
             "        [--node-ip ADDR] [--cluster-cidr 10.244.0.0/16]  (default pod CIDR: the Node's spec.podCIDR)\n"
             "        [--runc PATH] [--conmon PATH]  (default: found on PATH)\n"
             "        [--container-log-max-size 10Mi] [--container-log-max-files 5] [--container-log-monitor-interval 10s]\n"
             "        [--image-gc-high-threshold 85] [--image-gc-low-threshold 80]  (also on up)\n"
             "  token create [--ttl 24h] [--description D] [--print-join-command] | token list | token delete ID\n"
             "                                         bootstrap tokens for nodes to join (admin)\n"
             "  join tcp://SERVER[,…] --token T [--node-name N] [--data DIR] [agent flags]  a new machine joins as a\n"
             "        node and runs its agent in the foreground (again with the same --data: no token needed)\n"
             "  hollow --nodes N [--cpu 4] [--memory 16Gi] [--pods 110] [--labels k=v,…] [--taints k=v:NoSchedule,…]\n"
             "        [--zones z1,…] [--prefix hollow-] [--startup-delay 1s] [--lease-period 10s] [--data DIR]  N hollow\n"
             "        nodes in one process (kubemark): registered, leased, pods reported Running, nothing run\n"
             "  lab up --nodes N --data DIR [--subnet A.B.C.0/24] [agent flags]  N machines (network namespaces on\n"
             "        a bridge) joined to a server, in the foreground; Ctrl-C takes it down | lab down --data DIR\n"
             "        [--proxy=false]  no Service proxy (nftables table ip troupe-proxy) on this node (also on up)\n"
             "  agent --standalone --manifests DIR [--data D] [--node-name N]  a node alone: runs the Pods of DIR's\n"
             "        *.yaml files (static pods, named NAME-NODE; an edited file replaces its pod, a removed one\n"
             "        deletes it), API on ipc://D/run/troupe.sock, containers in runtime namespace default\n"
             "Node:\n"
             "  runtime ps|images|inspect ID|logs ID|rmi IMAGE [--namespace troupe.io] [--data DIR]  the node's containers\n"
             "          and images, read from its state (works with the agent stopped)\n"
             "  image import FILE.tar [--namespace troupe.io] [--data DIR]  an OCI layout or docker-archive tarball\n"
             "  store status [-o json]                 the replicated store: members, leader, indexes\n"
             "  store member remove ID|ADDRESS | store snapshot save FILE | store snapshot restore FILE --data DIR\n"
             "  secrets keys|add-key [--first]|use-key NAME|remove-key NAME|rotate-key [--data DIR]  Secrets' encryption keys\n"
             "  secrets rewrite                        every Secret sealed again with the key that writes\n"
             "Objects:\n"
             "  apply -f FILE | create -f FILE | create configmap NAME --from-literal k=v | create namespace NAME\n"
             "  get KIND [NAME] [-o wide|yaml|json|name] [-l SELECTOR] [--field-selector S] [-A] [-w]\n"
             "  describe KIND NAME | delete KIND NAME | delete -f FILE\n"
             "  scale deployment NAME --replicas N\n"
             "  patch KIND NAME (-p PATCH | --patch-file FILE) [--type strategic|merge] [--subresource status]\n"
             "                                         PATCH in JSON or YAML (default type: strategic, as kubectl)\n"
             "  label KIND NAME KEY=VALUE… KEY-… [--overwrite]  set (KEY=VALUE) or remove (KEY-) labels\n"
             "  cordon NODE | uncordon NODE | drain NODE [--force] [--delete-emptydir-data] [--grace-period N] [--timeout 5m] [--disable-eviction]\n"
             "  rollout status|restart|undo deployment NAME\n"
             "  logs POD [-c CONTAINER] [-f] [-p] [--tail N] [--timestamps]\n"
             "  exec [-i] [-t] POD [-c CONTAINER] -- COMMAND [ARG...]   (streamed; exit code passed through)\n"
             "  version\n"
             "Global: --server ENDPOINT[,…]  --kubeconfig FILE  -n NAMESPACE  -A\n");
}

/* The binary's malloc is jemalloc (CMakeLists.txt, docs/decisions.md "malloc"), except under the
 * sanitizers and libFuzzer. Without it, glibc malloc is tuned for a server of many small JSON
 * trees: keep freed memory instead of giving it back to the kernel at every free near the top of a
 * heap (trim) and faulting it in again at the next burst, and grow the main heap by 16 MiB at a
 * time. Setting these also fixes the mmap threshold, so it is raised to 8 MiB: a message buffer or
 * a large list is carved from the heap, not mapped and faulted in each time. ASan's allocator
 * ignores mallopt. */
static void
tune_malloc (void)
{
#ifndef TROUPE_JEMALLOC
    mallopt (M_TRIM_THRESHOLD, 512 << 20);
    mallopt (M_TOP_PAD, 16 << 20);
    mallopt (M_MMAP_THRESHOLD, 8 << 20);
#endif
}

/* "jemalloc 5.3.0-…" or "glibc" (troupe version) */
static const char *
malloc_name (void)
{
#ifdef TROUPE_JEMALLOC
    const char *v = NULL;
    size_t n = sizeof v;
    static char name[96];
    if (mallctl ("version", &v, &n, NULL, 0) == 0 && v) {
        snprintf (name, sizeof name, "jemalloc %s", v);
        return name;
    }
    return "jemalloc";
#else
    return "glibc";
#endif
}

int
main (int argc, char **argv)
{
    cli_t g = {0};
    tune_malloc ();
    /* global options may come anywhere; pull them out first */
    g.server = cli_opt (&argc, argv, "--server", "-s");
    g.config = cli_opt (&argc, argv, "--kubeconfig", NULL);
    g.ns = cli_opt (&argc, argv, "--namespace", "-n");
    g.all_ns = cli_flag (&argc, argv, "--all-namespaces", "-A");
    if (argc < 2 || !strcmp (argv[1], "-h") || !strcmp (argv[1], "--help") || !strcmp (argv[1], "help")) {
        usage (argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    argc -= 1;
    argv += 1;
    int rc;
    if (!strcmp (cmd, "version")) {
        printf ("troupe version %s (protocol %d, malloc %s)\n", TROUPE_VERSION, TR_PROTOCOL_VERSION, malloc_name ());
        return 0;
    }
    char err[256];
    g.schemas = schema_registry_load_embedded (err, sizeof err);
    if (!g.schemas) {
        fprintf (stderr, "error: built-in schemas: %s\n", err);
        return 1;
    }
    if (!strcmp (cmd, "init")) rc = cmd_init (&g, argc, argv);
    else if (!strcmp (cmd, "up")) rc = cmd_up (&g, argc, argv);
    else if (!strcmp (cmd, "server")) rc = cmd_server (&g, argc, argv);
    else if (!strcmp (cmd, "agent")) rc = cmd_agent (&g, argc, argv);
    else if (!strcmp (cmd, "shim")) rc = cmd_shim (&g, argc, argv);
    else if (!strcmp (cmd, "apply")) rc = cmd_apply (&g, argc, argv);
    else if (!strcmp (cmd, "create")) rc = cmd_create (&g, argc, argv);
    else if (!strcmp (cmd, "get")) rc = cmd_get (&g, argc, argv);
    else if (!strcmp (cmd, "describe")) rc = cmd_describe (&g, argc, argv);
    else if (!strcmp (cmd, "delete")) rc = cmd_delete (&g, argc, argv);
    else if (!strcmp (cmd, "scale")) rc = cmd_scale (&g, argc, argv);
    else if (!strcmp (cmd, "patch")) rc = cmd_patch (&g, argc, argv);
    else if (!strcmp (cmd, "label")) rc = cmd_label (&g, argc, argv);
    else if (!strcmp (cmd, "logs")) rc = cmd_logs (&g, argc, argv);
    else if (!strcmp (cmd, "exec")) rc = cmd_exec (&g, argc, argv);
    else if (!strcmp (cmd, "runtime")) rc = cmd_runtime (&g, argc, argv);
    else if (!strcmp (cmd, "image")) rc = cmd_image (&g, argc, argv);
    else if (!strcmp (cmd, "rollout")) rc = cmd_rollout (&g, argc, argv);
    else if (!strcmp (cmd, "store")) rc = cmd_store (&g, argc, argv);
    else if (!strcmp (cmd, "secrets")) rc = cmd_secrets (&g, argc, argv);
    else if (!strcmp (cmd, "token")) rc = cmd_token (&g, argc, argv);
    else if (!strcmp (cmd, "join")) rc = cmd_join (&g, argc, argv);
    else if (!strcmp (cmd, "hollow")) rc = cmd_hollow (&g, argc, argv);
    else if (!strcmp (cmd, "lab")) rc = cmd_lab (&g, argc, argv);
    else if (!strcmp (cmd, "cordon") || !strcmp (cmd, "uncordon") || !strcmp (cmd, "drain")) rc = cmd_cordon (&g, argc, argv);
    else {
        fprintf (stderr, "error: unknown command \"%s\" (see troupe --help)\n", cmd);
        rc = 2;
    }
    tr_client_destroy (&g.client);
    schema_registry_destroy (&g.schemas);
    return rc;
}
