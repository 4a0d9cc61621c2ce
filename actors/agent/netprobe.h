/* netprobe — one httpGet or tcpSocket check (probe or lifecycle hook) as a non-blocking socket
 * state machine: the agent's actor loop never blocks on it; it calls netprobe_step from a timer
 * until it answers.
 *
 * As the kubelet: tcpSocket succeeds when the connection is established; httpGet sends
 * "GET <path> HTTP/1.1" with Host, User-Agent kube-probe/1.32, Accept (any), Connection: close and
 * the given httpHeaders, and succeeds on a status 200–399 (only the status line is read).
 * The host must be an IP address (the pod's by default); HTTPS is not spoken.
 * With a network namespace (the pod sandbox's pinned netns), the socket is made inside it (the
 * calling thread enters it for the socket() call only): the pod's IP is reached on the pod's own
 * network whatever the host's routes say (two nodes on one machine may use the same pod CIDR).
 */
#ifndef TROUPE_NETPROBE_H
#define TROUPE_NETPROBE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct netprobe netprobe_t;

/* netns: a network namespace path, or NULL/"" for the caller's. path NULL: tcpSocket; else httpGet of path (headers: [{name, value}] or NULL). now_ms is
 * monotonic; the check fails at now_ms + timeout_ms. Never NULL (a bad host fails at the first step). */
netprobe_t *netprobe_start (const char *netns, const char *host, int port, const char *path, const json_t *headers,
                            int timeout_ms, int64_t now_ms);

/* Advances without blocking. 1: done, *ok and msg (why it failed, or "") set; 0: not yet. */
int netprobe_step (netprobe_t *p, int64_t now_ms, int *ok, char *msg, size_t len);

void netprobe_free (netprobe_t *p);

#endif
