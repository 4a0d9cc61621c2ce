/* netprobe — see netprobe.h. */
#include "actors/agent/netprobe.h"
#include "core/value.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { S_CONNECT, S_SEND, S_RECV, S_DONE };

struct netprobe {
    int fd, st, ok, http;
    int64_t deadline;
    char target[128];   /* "10.1.2.3:80" for messages */
    char req[4096];
    size_t req_len, sent;
    char resp[512];
    size_t got;
    char msg[300];
};

/* strerror as Go spells it: "connection refused" */
static const char *
errtext (int e, char *buf, size_t len)
{
    snprintf (buf, len, "%s", strerror (e));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char) (buf[0] - 'A' + 'a');
    return buf;
}

static void
finish (netprobe_t *p, int ok, const char *fmt, const char *arg)
{
    p->st = S_DONE;
    p->ok = ok;
    snprintf (p->msg, sizeof p->msg, fmt, arg ? arg : "");
    if (p->fd >= 0)
        close (p->fd);
    p->fd = -1;
}

/* A non-blocking stream socket in network namespace netns (NULL: ours); -1 with errno. */
static int
socket_in (const char *netns, int family)
{
    if (!netns || !*netns)
        return socket (family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int target = open (netns, O_RDONLY | O_CLOEXEC);
    if (target < 0)
        return -1;
    int self = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) {
        int e = errno;
        close (target);
        errno = e;
        return -1;
    }
    int fd = -1, e = 0;
    if (setns (target, CLONE_NEWNET) == 0) {
        fd = socket (family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        e = errno;
        if (setns (self, CLONE_NEWNET) != 0)
            abort (); /* this thread would stay in the pod's network: never go on like that */
    } else
        e = errno;
    close (target);
    close (self);
    errno = e;
    return fd;
}

netprobe_t *
netprobe_start (const char *netns, const char *host, int port, const char *path, const json_t *headers, int timeout_ms,
                int64_t now_ms)
{
    netprobe_t *p = calloc (1, sizeof *p);
    p->fd = -1;
    p->deadline = now_ms + (timeout_ms > 0 ? timeout_ms : 1000);
    p->http = path != NULL;
    snprintf (p->target, sizeof p->target, "%s:%d", host ? host : "", port);
    struct sockaddr_storage ss;
    memset (&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;
    if (host && inet_pton (AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons ((uint16_t) port);
        sl = sizeof *s4;
    } else if (host && inet_pton (AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons ((uint16_t) port);
        sl = sizeof *s6;
    } else {
        finish (p, 0, "host \"%s\" is not an IP address (no name resolution for probes)", host);
        return p;
    }
    if (port < 1 || port > 65535) {
        finish (p, 0, "port %s out of range", p->target);
        return p;
    }
    if (p->http) {
        /* spaces and control characters percent-encoded, as Go's URL does: one request line, no
         * header injection through the path */
        char epath[1024];
        size_t k = 0;
        for (const unsigned char *c = (const unsigned char *) (*path ? path : "/"); *c && k + 4 < sizeof epath; c++)
            if (*c <= 0x20 || *c == 0x7f)
                k += (size_t) snprintf (epath + k, sizeof epath - k, "%%%02X", *c);
            else
                epath[k++] = (char) *c;
        epath[k] = 0;
        int n = snprintf (p->req, sizeof p->req,
                          "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n",
                          epath, p->target);
        size_t i;
        json_t *h;
        json_array_foreach (headers, i, h) {
            const char *name = tv_str (h, "name"), *value = tv_str (h, "value");
            if (!name || strpbrk (name, "\r\n:") || (value && strpbrk (value, "\r\n")))
                continue; /* no header injection */
            if (n > 0 && (size_t) n < sizeof p->req)
                n += snprintf (p->req + n, sizeof p->req - (size_t) n, "%s: %s\r\n", name, value ? value : "");
        }
        if (n > 0 && (size_t) n < sizeof p->req)
            n += snprintf (p->req + n, sizeof p->req - (size_t) n, "\r\n");
        if (n < 0 || (size_t) n >= sizeof p->req) {
            finish (p, 0, "%s", "request too long");
            return p;
        }
        p->req_len = (size_t) n;
    }
    p->fd = socket_in (netns, ss.ss_family);
    if (p->fd < 0) {
        char m[200];
        snprintf (m, sizeof m, "socket%s%s: %s", netns && *netns ? " in " : "", netns && *netns ? netns : "", strerror (errno));
        finish (p, 0, "%s", m);
        return p;
    }
    if (connect (p->fd, (struct sockaddr *) &ss, sl) == 0)
        p->st = p->http ? S_SEND : S_DONE;
    else if (errno == EINPROGRESS)
        p->st = S_CONNECT;
    else {
        char m[200], e[100];
        snprintf (m, sizeof m, "dial tcp %s: connect: %s", p->target, errtext (errno, e, sizeof e));
        finish (p, 0, "%s", m);
        return p;
    }
    if (p->st == S_DONE)
        finish (p, 1, "%s", "");
    return p;
}

int
netprobe_step (netprobe_t *p, int64_t now_ms, int *ok, char *msg, size_t len)
{
    for (int rounds = 0; p->st != S_DONE && rounds < 4; rounds++) {
        struct pollfd pf = {.fd = p->fd, .events = p->st == S_RECV ? POLLIN : POLLOUT};
        if (poll (&pf, 1, 0) <= 0)
            break;
        if (p->st == S_CONNECT) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt (p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                char m[200], e[100];
                snprintf (m, sizeof m, "dial tcp %s: connect: %s", p->target, errtext (err, e, sizeof e));
                finish (p, 0, "%s", m);
            } else if (!p->http)
                finish (p, 1, "%s", "");
            else
                p->st = S_SEND;
        } else if (p->st == S_SEND) {
            ssize_t w = send (p->fd, p->req + p->sent, p->req_len - p->sent, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                finish (p, 0, "Get: write: %s", strerror (errno));
            else if (w > 0 && (p->sent += (size_t) w) == p->req_len)
                p->st = S_RECV;
        } else {
            ssize_t r = recv (p->fd, p->resp + p->got, sizeof p->resp - 1 - p->got, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            if (r > 0)
                p->got += (size_t) r;
            p->resp[p->got] = 0;
            char *eol = strstr (p->resp, "\r\n");
            if (!eol && r > 0 && p->got < sizeof p->resp - 1)
                continue;
            /* "HTTP/1.x NNN reason" */
            int code = 0;
            if (!strncmp (p->resp, "HTTP/", 5)) {
                const char *sp = strchr (p->resp, ' ');
                if (sp)
                    code = atoi (sp + 1);
            }
            if (code >= 200 && code < 400)
                finish (p, 1, "%s", "");
            else if (code) {
                char m[64];
                snprintf (m, sizeof m, "%d", code);
                finish (p, 0, "HTTP probe failed with statuscode: %s", m);
            } else
                finish (p, 0, "Get \"http://%s\": malformed HTTP response or connection closed", p->target);
        }
    }
    if (p->st != S_DONE && now_ms >= p->deadline) {
        char m[200];
        snprintf (m, sizeof m, "%s %s: i/o timeout (Client.Timeout exceeded while awaiting headers)",
                  p->http ? "Get" : "dial tcp", p->target);
        finish (p, 0, "%s", m);
    }
    if (p->st != S_DONE)
        return 0;
    *ok = p->ok;
    snprintf (msg, len, "%s", p->msg);
    return 1;
}

void
netprobe_free (netprobe_t *p)
{
    if (!p)
        return;
    if (p->fd >= 0)
        close (p->fd);
    free (p);
}
