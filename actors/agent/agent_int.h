/* agent_int — what the agent's files share: its state and the helpers more than one of them
 * calls. The actor is agent_actor.c (registration, pod sync, volumes and env, the actor); its
 * probes and lifecycle hooks are agent_probes.c; exec and logs (with rotation) agent_stream.c. */
#ifndef TROUPE_AGENT_INT_H
#define TROUPE_AGENT_INT_H

#include "actors/agent/agent_actor.h"
#include "actors/agent/podenv.h"
#include "actors/agent/nodestatus.h"
#include "actors/agent/podsync.h"
#include "actors/agent/crilog.h"
#include "actors/agent/logrotate.h"
#include "actors/agent/netprobe.h"
#include "actors/agent/prober.h"
#include "actors/agent/podres.h"
#include "actors/agent/volumes.h"
#include "core/log.h"
#include "core/meta.h"
#include "core/value.h"
#include "runtime-shims/cri.h"
#include <sodium.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define A "agent"
#define T_SYNC 1
#define T_LEASE 2
#define AGENT_LEASE_RENEW_MS 2500
#define T_KICK 3
#define T_NODE 4
#define T_NET 5 /* steps the httpGet/tcpSocket checks in flight */
#define T_LOGS 6 /* container log rotation: every containerLogMonitorInterval */
#define T_PODNET 7 /* the node's podCIDR to the runtime, host-gw routes (podnet.c) */
#define INFLIGHT_MS 15000
#define RELIST_MIN_MS 100
/* an answer of the runtime to the agent's own request moves its pod on within this; informer
 * events coalesce for 20 ms (they come in bursts from other clients, answers one per action) */
#define KICK_REPLY_MS 2
#define OBJ_REFRESH_MS 3000   /* referenced ConfigMaps and Secrets are read again this often */
#define DU_EVERY_MS 10000     /* emptyDir sizeLimit measured, orphaned volume dirs removed this often */

typedef struct {
    char node[TR_NAME_MAX + 1];
    char data[1024];
    char host_ip[64];
    troupe_peer_t *shim;
    troupe_informer_t *pods;
    troupe_informer_t *svcs; /* Services: the containers' service environment */
    json_t *svc_list;        /* the Services as of the last src_of (podenv_src_t.services) */
    json_t *runtime;       /* last ListContainers items */
    int runtime_fresh;     /* a ListContainers reply arrived since the last sync */
    int listing;
    json_t *backoff;       /* pod uid → podsync back-off map */
    json_t *inflight;      /* "uid/container/attempt" or "stop/<id>" → monotonic ms sent */
    json_t *sent_status;   /* pod uid → status last sent */
    int registered;
    json_t *lease;         /* our Lease as last written (with its resourceVersion), or NULL: read it */
    char shim_ep[512];
    nodestatus_config_t ncfg;   /* max pods, reservations, eviction thresholds */
    nodestatus_measure_t meas;  /* the machine, re-read at every status check; runtime_ok from ListContainers */
    int runtime_heard;          /* a ListContainers reply (or its timeout) has come back */
    char default_runtime[16];   /* "oci" where the shim serves it, else "process" (config defaultRuntime wins) */
    int runtimes_known;         /* the shim's Ping answered: which runtimes it serves */
    int has_oci;
    char oci_unavailable[300];
    json_t *pulled;             /* "uid/container/attempt" → true: the image is there for that start */
    json_t *sandboxes;          /* pod uid → {podIP} once RunPodSandbox answered */
    json_t *pull_secrets;       /* pod uid → merged dockerconfigjson auths of its imagePullSecrets */
    json_t *sandbox_list;       /* the runtime's sandboxes [{sandboxId, podUid}] at the last ListContainers */
    json_t *objs;               /* "ConfigMap|Secret/ns/name" → the object as last read, or null: NotFound */
    json_t *obj_at;             /* same keys → monotonic ms of the last answer */
    json_t *vol_applied;        /* pod uid → the volumes plan set up on the host */
    int64_t du_next;            /* monotonic ms of the next usage check and orphan sweep */
    int du_now;                 /* this sync round measures */
    char runtime_ns[64];        /* the runtime namespace of our pods and images (config runtimeNamespace) */
    int64_t listed_at;          /* monotonic ms of the last ListContainers sent */
    struct probe_ctr *probers;  /* per running container with probes or postStart: the prober's state */
    struct check *nets;         /* httpGet/tcpSocket checks in flight */
    json_t *hooks;              /* "post/<id>" → 1 while postStart runs; "pre/<id>" → 1 running, 2 done */
    logrotate_policy_t logs;    /* containerLogMaxSize, containerLogMaxFiles */
    long long logs_every_ms;    /* containerLogMonitorInterval */
    /* the pod network (podnet.c) */
    troupe_informer_t *nodes;   /* every Node: ours for its podCIDR, the others for routes */
    char pod_cidr_cfg[64];      /* --pod-cidr (config podCIDR): the runtime's, no waiting; "" */
    char cluster_cidr[64];      /* --cluster-cidr: not masqueraded */
    char net_cidr[64];          /* the podCIDR the runtime accepted last */
    int net_ready;              /* oci sandboxes may be made (podCIDR handed over, or waited enough) */
    int net_sending;
    int64_t net_deadline;       /* monotonic ms: stop waiting for the podCIDR */
    int routes_dirty;           /* a Node changed: routes reconciled at the next step */
    int64_t routes_next;        /* monotonic ms of the next periodic route check */
    char routes_err[300];       /* the last route failure said */
    char cluster_dns[256];      /* clusterDNS (--cluster-dns, default 10.96.0.10; "" none) */
    char cluster_domain[256];   /* clusterDomain (default cluster.local) */
    char resolv_conf[512];      /* resolvConf (default /etc/resolv.conf) */
    struct tr_recorder *events; /* the kubelet's event recorder (core/eventrec.h), made at the first event */
} agent_t;

/* ---- probes and hooks in flight (agent_probes.c) ---- */
typedef struct probe_ctr {
    struct probe_ctr *next;
    char uid[64], name[64], id[80];
    prober_t pr;
    int seen, killed;
} probe_ctr_t;

typedef enum { CHECK_PROBE, CHECK_POSTSTART, CHECK_PRESTOP } check_what_t;

typedef struct check {
    struct check *next;
    netprobe_t *np;
    check_what_t what;
    probe_kind_t kind;
    char uid[64], name[64], id[80], ns[TR_NAME_MAX + 1], pod[TR_NAME_MAX + 1];
    int grace;
    int64_t t0; /* monotonic start */
} check_t;

/* ---- shared helpers (defined in the file named) ---- */
int ag_inflight (agent_t *a, const char *key);   /* agent_actor.c: sent less than INFLIGHT_MS ago */
void ag_mark (agent_t *a, const char *key);   /* agent_actor.c */
void ag_log_failure (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg);   /* agent_actor.c */
void ag_shim_call (troupe_ctx_t *ctx, agent_t *a, tr_verb_t verb, json_t *body /* stolen */, troupe_reply_fn *cb, void *arg);   /* agent_actor.c */
void ag_pod_event (troupe_ctx_t *ctx, agent_t *a, const char *ns, const char *name, const char *uid, const char *type, const char *reason, const char *msg);   /* agent_actor.c */
void ag_runtime_put (agent_t *a, const json_t *st);   /* agent_actor.c */
void ag_on_started_kick (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg);   /* agent_actor.c */
void ag_nets_step (troupe_ctx_t *ctx, agent_t *a);   /* agent_probes.c */
int ag_podnet_start (troupe_ctx_t *ctx, agent_t *a, const json_t *config, char *err, size_t errlen);   /* podnet.c */
void ag_podnet_step (troupe_ctx_t *ctx, agent_t *a);   /* podnet.c */
void ag_probes_sync (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const json_t *rt, json_t *bo);   /* agent_probes.c */
void ag_probes_gc (agent_t *a);   /* agent_probes.c */
void ag_start_created (troupe_ctx_t *ctx, agent_t *a, const char *ns, const char *podname, const char *name, const char *id);   /* agent_probes.c */
const json_t *ag_spec_of (const json_t *pod, const char *name);   /* agent_probes.c */
void ag_stop_container_hooked (troupe_ctx_t *ctx, agent_t *a, const json_t *pod, const char *name, const char *id, int grace);   /* agent_probes.c */
int ag_pod_grace (const json_t *pod);   /* agent_probes.c */
void ag_rotate_logs (troupe_ctx_t *ctx, agent_t *a);   /* agent_stream.c */
void ag_on_removed (void *self, troupe_ctx_t *ctx, const tr_env_t *reply, void *arg);   /* agent_stream.c */
int ag_message (void *self, troupe_ctx_t *ctx, const tr_env_t *msg);   /* agent_stream.c */

#endif
