/* svcrules — what a Service's schema (schema/service.yaml) cannot say, as the api-server's
 * defaulting (SetDefaults_Service) and ValidateService have it. Pure.
 *
 * Defaults: ports[].targetPort = port; clusterIPs from clusterIP (and clusterIP from
 * clusterIPs[0]); ipFamilies [IPv4], ipFamilyPolicy SingleStack; externalTrafficPolicy Cluster for
 * NodePort; sessionAffinityConfig.clientIP.timeoutSeconds 10800 with ClientIP; status.loadBalancer {}.
 * Rules: ports required unless headless; port names required and unique when more than one
 * port; port+protocol unique; targetPort 1-65535 or an IANA service name; nodePort only for
 * NodePort; clusterIP an IPv4 address, "None" (headless, not for NodePort) or empty (allocated);
 * clusterIPs[0] = clusterIP; sessionAffinityConfig only with ClientIP.
 */
#ifndef TROUPE_SVCRULES_H
#define TROUPE_SVCRULES_H

#include <jansson.h>
#include <stddef.h>

void svc_default (json_t *svc);
/* 0, or -1 with err "spec.ports[1].name: Required value" (Kubernetes' field errors). */
int svc_rules (const json_t *svc, char *err, size_t errlen);
/* Is s a dotted-quad IPv4 address? Its value (host order) in *out when out != NULL. */
int svc_parse_ipv4 (const char *s, unsigned *out);
/* Does the Service type need nodePorts (NodePort, LoadBalancer)? */
int svc_needs_node_ports (const json_t *svc);

#endif
