/* cri — the runtime protocol between an agent and a runtime shim (CRI-like), as envelopes
 * (core/envelope.h) over a DEALER → ROUTER connection. Every runtime (process today, OCI/runc
 * next) implements the same verbs and bodies:
 *
 *   RunPodSandbox    {podUid, name, namespace, logDirectory}          → {sandboxId}
 *                    (oci also: hostname, hostNetwork, hostIP, portMappings, cgroupParent,
 *                    hostAliases?, hostDomain? (<subdomain>.<ns>.svc.<domain>), dnsConfig {nameservers, searches, options[{name, value}]}:
 *                    the pod's DNS as the agent computed it (actors/agent/poddns.c), written
 *                    as its resolv.conf)
 *   StopPodSandbox   {sandboxId}  stops the sandbox's containers       → {}
 *   RemovePodSandbox {sandboxId}  forgets a stopped sandbox            → {}
 *   CreateContainer  {sandboxId, podUid, podName, name, attempt, image, command[], args[],
 *                     env[{name,value}], workingDir, logPath, terminationMessagePath?,
 *                     terminationMessagePolicy?}                       → {containerId}
 *                    (oci: a host file is bind-mounted at terminationMessagePath; at exit its
 *                    content, at most 4 KiB — or with FallbackToLogsOnError, an empty file and a
 *                    non-zero exit, the log's last 80 lines / 2 KiB — is the status's message)
 *   StartContainer   {containerId}                                     → {status}  (the container as ListContainers shows it)
 *   StopContainer    {containerId, timeout}  SIGTERM to the container's process group, SIGKILL
 *                     after timeout seconds; answers at once, the state turns EXITED later
 *   RemoveContainer  {containerId}  (not while RUNNING)                → {}
 *   ContainerStatus  {containerId}                                     → status
 *   ListContainers   {podUid?}                                         → {items: [status...]}
 *   ExecSync         {containerId, cmd[], stdin?, timeout}  runs to its end → {stdout, stderr,
 *                     exitCode, timedOut}
 *   ExecStart        {containerId, cmd[], tty, stdin (bool), rows?, cols?}  → {session}
 *                    (oci only: `runc exec --process` on pipes, or with a terminal under a
 *                     raw pty of the shim's; rows/cols size the container's terminal before the
 *                     command starts: consoleSize, ocispec_exec_process)
 *   ExecIO           {session, podUid, stdin?, eof?, resize?{rows,cols}}  answered when there is
 *                     output, the command ended, or ~250 ms passed → {stdout, stderr (tty: merged
 *                     into stdout), exited, exitCode?, stdinPending}; NotFound for a session that
 *                     ended, was abandoned (60 s without ExecIO: killed) or is another pod's
 *   ReopenContainerLog {containerId}  the container's log file was renamed (rotation by the
 *                    agent): the runtime writes to a new file at logPath from now on, no output
 *                    lost (CRI ReopenContainerLog). oci: "2 0 0\n" (REOPEN_LOGS) on conmon's control
 *                    FIFO <bundle>/ctl → {}; Conflict when the container is not running. process:
 *                    MethodNotAllowed (its processes write the file directly: nothing can reopen it)
 *   UpdateRuntimeConfig {podCidr, clusterCidr?}  the node's pod CIDR (its Node's spec.podCIDR) and
 *                    the cluster's (CRI UpdateRuntimeConfig's network_config.pod_cidr): the oci
 *                    runtime writes its CNI conflist over podCidr and masquerades what leaves
 *                    clusterCidr (default podCidr); sandboxes made from now on get addresses
 *                    from it, those running keep theirs. Remembered across shim restarts
 *                    (<state>/cni/network.json) → {}; Invalid for a CIDR that is not IPv4.
 *
 * status = {containerId, sandboxId, podUid, name, attempt, image, state: CREATED|RUNNING|EXITED,
 *           pid, exitCode, reason (Completed|Error|Unknown), message, createdAt, startedAt,
 *           finishedAt (ms since the epoch), logPath}
 * Errors use the envelope codes: NotFound for an unknown id, Invalid for a bad spec (with the
 * field named), Conflict for a wrong state.
 */
#ifndef TROUPE_CRI_H
#define TROUPE_CRI_H

#define CRI_STATE_CREATED "CREATED"
#define CRI_STATE_RUNNING "RUNNING"
#define CRI_STATE_EXITED "EXITED"

#endif
