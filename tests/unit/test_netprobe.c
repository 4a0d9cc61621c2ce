/* netprobe against loopback listeners: tcpSocket succeeds on an open port and fails on a closed
 * one; httpGet succeeds on 200 and 302, fails on 404 with the status, sends the path and the
 * headers, times out against a server that never answers; a name as host and a missing network
 * namespace are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "actors/agent/netprobe.h"

static int64_t
mono (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
listener (int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    assert_int_equal (bind (fd, (struct sockaddr *) &a, sizeof a), 0);
    assert_int_equal (listen (fd, 4), 0);
    socklen_t l = sizeof a;
    getsockname (fd, (struct sockaddr *) &a, &l);
    *port = ntohs (a.sin_port);
    return fd;
}

/* Drives p; a server on lfd answers the first request with reply (NULL: never answers). */
static int
drive (netprobe_t *p, int lfd, const char *reply, char *req, size_t reqlen, char *msg, size_t len)
{
    int cfd = -1, ok = -1;
    size_t got = 0;
    req[0] = 0;
    for (int i = 0; i < 400; i++) {
        if (netprobe_step (p, mono (), &ok, msg, len))
            break;
        struct pollfd pf = {.fd = cfd >= 0 ? cfd : lfd, .events = POLLIN};
        if (lfd >= 0 && poll (&pf, 1, 5) > 0) {
            if (cfd < 0)
                cfd = accept (lfd, NULL, NULL);
            else {
                ssize_t r = recv (cfd, req + got, reqlen - 1 - got, 0);
                if (r > 0) {
                    got += (size_t) r;
                    req[got] = 0;
                    if (strstr (req, "\r\n\r\n") && reply)
                        send (cfd, reply, strlen (reply), MSG_NOSIGNAL);
                }
            }
        } else
            usleep (5000);
    }
    if (cfd >= 0)
        close (cfd);
    return ok;
}

static void
tcp (void **state)
{
    (void) state;
    int port, lfd = listener (&port);
    char msg[300], req[2048];
    netprobe_t *p = netprobe_start (NULL, "127.0.0.1", port, NULL, NULL, 1000, mono ());
    assert_int_equal (drive (p, lfd, NULL, req, sizeof req, msg, sizeof msg), 1);
    netprobe_free (p);
    close (lfd);
    /* the port is closed now */
    p = netprobe_start (NULL, "127.0.0.1", port, NULL, NULL, 1000, mono ());
    assert_int_equal (drive (p, -1, NULL, req, sizeof req, msg, sizeof msg), 0);
    assert_non_null (strstr (msg, "connection refused"));
    netprobe_free (p);
}

static void
http (void **state)
{
    (void) state;
    int port, lfd = listener (&port);
    char msg[300], req[2048];
    json_t *h = json_pack ("[{s:s,s:s}]", "name", "X-Probe", "value", "yes");
    netprobe_t *p = netprobe_start (NULL, "127.0.0.1", port, "/healthz?x=1", h, 2000, mono ());
    assert_int_equal (drive (p, lfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", req, sizeof req, msg, sizeof msg), 1);
    assert_non_null (strstr (req, "GET /healthz?x=1 HTTP/1.1\r\n"));
    assert_non_null (strstr (req, "\r\nX-Probe: yes\r\n"));
    assert_non_null (strstr (req, "\r\nUser-Agent: kube-probe/"));
    netprobe_free (p);
    /* a path with a line break or a space stays one request line */
    p = netprobe_start (NULL, "127.0.0.1", port, "/a b\r\nX-Evil: 1", NULL, 2000, mono ());
    assert_int_equal (drive (p, lfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", req, sizeof req, msg, sizeof msg), 1);
    assert_non_null (strstr (req, "GET /a%20b%0D%0AX-Evil:%201 HTTP/1.1\r\n"));
    assert_null (strstr (req, "\r\nX-Evil"));
    netprobe_free (p);
    p = netprobe_start (NULL, "127.0.0.1", port, "/", NULL, 2000, mono ());
    assert_int_equal (drive (p, lfd, "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", req, sizeof req, msg, sizeof msg), 1);
    netprobe_free (p);
    p = netprobe_start (NULL, "127.0.0.1", port, "/", NULL, 2000, mono ());
    assert_int_equal (drive (p, lfd, "HTTP/1.0 404 Not Found\r\n\r\n", req, sizeof req, msg, sizeof msg), 0);
    assert_string_equal (msg, "HTTP probe failed with statuscode: 404");
    netprobe_free (p);
    /* a server that accepts and never answers: the timeout */
    int64_t t0 = mono ();
    p = netprobe_start (NULL, "127.0.0.1", port, "/", NULL, 300, t0);
    assert_int_equal (drive (p, lfd, NULL, req, sizeof req, msg, sizeof msg), 0);
    assert_non_null (strstr (msg, "timeout"));
    assert_true (mono () - t0 >= 300);
    netprobe_free (p);
    p = netprobe_start (NULL, "example.com", port, "/", NULL, 300, mono ());
    assert_int_equal (drive (p, -1, NULL, req, sizeof req, msg, sizeof msg), 0);
    assert_non_null (strstr (msg, "not an IP address"));
    netprobe_free (p);
    /* a network namespace that is not there: the check fails saying so */
    p = netprobe_start ("/nonexistent/netns", "127.0.0.1", port, NULL, NULL, 300, mono ());
    assert_int_equal (drive (p, -1, NULL, req, sizeof req, msg, sizeof msg), 0);
    assert_non_null (strstr (msg, "socket in /nonexistent/netns"));
    netprobe_free (p);
    json_decref (h);
    close (lfd);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (tcp),
        cmocka_unit_test (http),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
