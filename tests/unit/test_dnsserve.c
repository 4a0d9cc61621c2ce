/* The cluster DNS's sockets (actors/dns/dnsserve.c) on 127.0.0.1, queried with dig
 * (bind9-dnsutils) as a pod would: A, SRV and PTR answered from Service/EndpointSlice JSON,
 * NXDOMAIN, a big headless answer truncated (TC) over UDP and whole over TCP, other names
 * forwarded to a fake upstream on loopback (its answer relayed; a truncated one relayed to a UDP
 * client and asked again over TCP for a TCP client), an upstream that never answers
 * then one that refuses → SERVFAIL within the timeouts. A burst of 240 UDP queries from 8 sockets
 * (read and answered in recvmmsg/sendmmsg batches): each answered once, to the socket that asked,
 * with its id, its question's letters as sent and the right records; a UDP query over 4096 bytes
 * dropped. Skipped (77) without dig. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/dns/dnsserve.h"

static dns_view_t *view;
static dnsserve_t *srv;
static int fds[2048], nfds;
static int up_fd, up_tcp, up_port, dead_port;
static volatile int stop;
static char upstream_a[64], upstream_b[64];

static void
watch (void *arg, int fd, int on)
{
    (void) arg;
    if (on)
        fds[nfds++] = fd;
    else
        for (int i = 0; i < nfds; i++)
            if (fds[i] == fd) {
                fds[i] = fds[--nfds];
                return;
            }
}

/* The fake upstream's answer to query buf: example.org A → 192.0.2.7; big.example → over UDP
 * truncated (TC, no records), over TCP 50 A records; silent.example: none (NULL). */
static uint8_t *
upstream_reply (const uint8_t *buf, size_t n, int tcp, size_t *wl)
{
    ldns_pkt *q = NULL;
    if (ldns_wire2pkt (&q, buf, n) != LDNS_STATUS_OK)
        return NULL;
    ldns_rr *qr = ldns_rr_list_rr (ldns_pkt_question (q), 0);
    char *name = ldns_rdf2str (ldns_rr_owner (qr));
    uint8_t *w = NULL;
    if (!strcmp (name, "example.org.") || !strcmp (name, "big.example.")) {
        ldns_pkt *r = ldns_pkt_new ();
        ldns_pkt_set_id (r, ldns_pkt_id (q));
        ldns_pkt_set_qr (r, true);
        ldns_pkt_set_rd (r, true);
        ldns_pkt_set_ra (r, true);
        ldns_pkt_push_rr (r, LDNS_SECTION_QUESTION, ldns_rr_clone (qr));
        int big = !strcmp (name, "big.example.");
        if (big && !tcp)
            ldns_pkt_set_tc (r, true);
        for (int i = 0; i < (big ? (tcp ? 50 : 0) : 1); i++) {
            char t[128];
            snprintf (t, sizeof t, "%s 300 IN A %s%d", name, big ? "198.51.100." : "192.0.2.", big ? i + 1 : 7);
            ldns_rr *a = NULL;
            ldns_rr_new_frm_str (&a, t, 0, NULL, NULL);
            ldns_pkt_push_rr (r, LDNS_SECTION_ANSWER, a);
        }
        ldns_pkt2wire (&w, r, wl);
        ldns_pkt_free (r);
    }
    free (name);
    ldns_pkt_free (q);
    return w;
}

static void
upstream_answer (void)
{
    uint8_t buf[4096];
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    ssize_t n = recvfrom (up_fd, buf, sizeof buf, 0, (struct sockaddr *) &peer, &pl);
    size_t wl;
    uint8_t *w = n > 0 ? upstream_reply (buf, (size_t) n, 0, &wl) : NULL;
    if (w)
        sendto (up_fd, w, wl, 0, (struct sockaddr *) &peer, pl);
    free (w);
}

/* one query per connection, read whole (the test's queries are small) */
static void
upstream_tcp (void)
{
    int c = accept (up_tcp, NULL, NULL);
    if (c < 0)
        return;
    uint8_t buf[4096];
    size_t have = 0;
    struct pollfd p = { .fd = c, .events = POLLIN };
    while (poll (&p, 1, 1000) == 1) {
        ssize_t n = recv (c, buf + have, sizeof buf - have, 0);
        if (n <= 0)
            break;
        have += (size_t) n;
        if (have >= 2 && have >= 2 + ((size_t) buf[0] << 8 | buf[1]))
            break;
    }
    size_t wl;
    uint8_t *w = have > 2 ? upstream_reply (buf + 2, have - 2, 1, &wl) : NULL;
    if (w) {
        uint8_t len[2] = { (uint8_t) (wl >> 8), (uint8_t) wl };
        send (c, len, 2, 0);
        send (c, w, wl, 0);
    }
    free (w);
    close (c);
}

static void *
loop (void *arg)
{
    (void) arg;
    while (!stop) {
        struct pollfd p[2050];
        int n = nfds;
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
        p[n] = (struct pollfd){ .fd = up_fd, .events = POLLIN };
        p[n + 1] = (struct pollfd){ .fd = up_tcp, .events = POLLIN };
        poll (p, (nfds_t) n + 2, 50);
        if (p[n].revents)
            upstream_answer ();
        if (p[n + 1].revents)
            upstream_tcp ();
        for (int i = 0; i < n; i++)
            if (p[i].revents)
                dnsserve_readable (srv, p[i].fd);
        dnsserve_tick (srv, 0);
    }
    return NULL;
}

static int
udp_bound (int *port)
{
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    bind (fd, (struct sockaddr *) &a, sizeof a);
    socklen_t l = sizeof a;
    getsockname (fd, (struct sockaddr *) &a, &l);
    *port = ntohs (a.sin_port);
    return fd;
}

static void
load (const char *kind, const char *js)
{
    json_t *o = json_loads (js, 0, NULL);
    assert_non_null (o);
    dns_view_put (view, kind, o);
    json_decref (o);
}

static int
setup (void **state)
{
    (void) state;
    view = dns_view_new ("cluster.local");
    load ("Service", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.20\","
                     "\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}}");
    load ("Service", "{\"metadata\":{\"name\":\"big\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\"}}");
    json_t *eps = json_array ();
    for (int i = 0; i < 100; i++) {
        char ip[32];
        snprintf (ip, sizeof ip, "10.1.0.%d", i + 1);
        json_array_append_new (eps, json_pack ("{s:[s]}", "addresses", ip));
    }
    json_t *slice = json_pack ("{s:{s:s,s:s,s:{s:s}},s:s,s:o}", "metadata", "name", "big-1", "namespace", "default", "labels",
                               "kubernetes.io/service-name", "big", "addressType", "IPv4", "endpoints", eps);
    dns_view_put (view, "EndpointSlice", slice);
    json_decref (slice);
    up_fd = udp_bound (&up_port);
    up_tcp = socket (AF_INET, SOCK_STREAM, 0);   /* the fake upstream's TCP, same port */
    struct sockaddr_in ta = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK), .sin_port = htons ((uint16_t) up_port) };
    assert_int_equal (bind (up_tcp, (struct sockaddr *) &ta, sizeof ta), 0);
    assert_int_equal (listen (up_tcp, 8), 0);
    int dead = udp_bound (&dead_port);
    close (dead);   /* nothing listens there: ICMP port unreachable */
    snprintf (upstream_a, sizeof upstream_a, "127.0.0.1:%d", up_port);
    snprintf (upstream_b, sizeof upstream_b, "127.0.0.1:%d", dead_port);
    dnsserve_opts_t o = { .ip = "127.0.0.1", .port = 0, .forward_timeout_ms = 300, .watch = watch };
    o.upstreams[0] = upstream_a;
    o.upstreams[1] = upstream_b;
    char err[256];
    srv = dnsserve_new (view, &o, err, sizeof err);
    if (!srv)
        fail_msg ("%s", err);
    return 0;
}

static char *
dig (const char *args)
{
    char cmd[512];
    snprintf (cmd, sizeof cmd, "dig @127.0.0.1 -p %d +tries=1 +time=3 %s 2>&1", dnsserve_port (srv), args);
    FILE *p = popen (cmd, "r");
    char *out = calloc (1, 65536);
    size_t n = fread (out, 1, 65535, p);
    out[n] = 0;
    pclose (p);
    return out;
}

static void
expect (const char *args, const char *want)
{
    char *out = dig (args);
    if (!strstr (out, want))
        fail_msg ("dig %s: no \"%s\" in:\n%s", args, want, out);
    free (out);
}

static const char *burst_names[] = { "web.default.svc.cluster.local.", "WEB.Default.svc.cluster.local.",
                                     "nope.default.svc.cluster.local.", "example.org." };

/* 8 sockets each send 30 queries at once, then read their answers. */
static void
burst (void)
{
    enum { NS = 8, NQ = 30 };
    int s[NS];
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
                              .sin_port = htons ((uint16_t) dnsserve_port (srv)) };
    for (int c = 0; c < NS; c++) {
        s[c] = socket (AF_INET, SOCK_DGRAM, 0);
        int rb = 1 << 20;
        setsockopt (s[c], SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
        assert_int_equal (connect (s[c], (struct sockaddr *) &to, sizeof to), 0);
    }
    for (int i = 0; i < NQ; i++)
        for (int c = 0; c < NS; c++) {
            ldns_rdf *dn = NULL;
            ldns_str2rdf_dname (&dn, burst_names[(c + i) % 4]);
            ldns_pkt *q = ldns_pkt_query_new (dn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
            ldns_pkt_set_id (q, (uint16_t) (c * 1000 + i));
            uint8_t *w;
            size_t wl;
            ldns_pkt2wire (&w, q, &wl);
            assert_int_equal (send (s[c], w, wl, 0), (ssize_t) wl);
            free (w);
            ldns_pkt_free (q);
        }
    for (int c = 0; c < NS; c++) {
        int seen[NQ] = { 0 }, got = 0;
        struct pollfd p = { .fd = s[c], .events = POLLIN };
        while (got < NQ && poll (&p, 1, 5000) == 1) {
            uint8_t buf[4096];
            ssize_t n = recv (s[c], buf, sizeof buf, 0);
            assert_true (n >= 12);
            ldns_pkt *r = NULL;
            assert_int_equal (ldns_wire2pkt (&r, buf, (size_t) n), LDNS_STATUS_OK);
            int id = ldns_pkt_id (r), i = id - c * 1000;
            assert_true (i >= 0 && i < NQ);   /* ours, not another socket's */
            assert_int_equal (seen[i], 0);
            seen[i] = 1;
            got++;
            const char *want = burst_names[(c + i) % 4];
            char *qn = ldns_rdf2str (ldns_rr_owner (ldns_rr_list_rr (ldns_pkt_question (r), 0)));
            assert_string_equal (qn, want);   /* the letters as sent */
            free (qn);
            char *an = ldns_rr_list2str (ldns_pkt_answer (r));
            if ((c + i) % 4 == 2)
                assert_int_equal (ldns_pkt_get_rcode (r), LDNS_RCODE_NXDOMAIN);
            else
                assert_non_null (strstr (an ? an : "", (c + i) % 4 == 3 ? "192.0.2.7" : "10.96.0.20"));
            free (an);
            ldns_pkt_free (r);
        }
        assert_int_equal (got, NQ);
        close (s[c]);
    }
    /* a UDP query too long to be one: dropped, counted */
    uint64_t dropped = dnsserve_stats (srv).dropped;
    int big = socket (AF_INET, SOCK_DGRAM, 0);
    uint8_t *junk = calloc (1, 5000);
    memcpy (junk, "\0\1\1\0\0\1\0\0\0\0\0\0", 12);
    sendto (big, junk, 5000, 0, (struct sockaddr *) &to, sizeof to);
    free (junk);
    for (int k = 0; k < 100 && dnsserve_stats (srv).dropped == dropped; k++)
        usleep (20000);
    assert_int_equal (dnsserve_stats (srv).dropped, dropped + 1);
    close (big);
}

static void
test_dig (void **state)
{
    (void) state;
    pthread_t t;
    pthread_create (&t, NULL, loop, NULL);
    expect ("+short web.default.svc.cluster.local A", "10.96.0.20");
    expect ("+short _http._tcp.web.default.svc.cluster.local SRV", "0 100 80 web.default.svc.cluster.local.");
    expect ("+short -x 10.96.0.20", "web.default.svc.cluster.local.");
    expect ("nope.default.svc.cluster.local A", "status: NXDOMAIN");
    expect ("nope.default.svc.cluster.local A", "cluster.local.\t\t5\tIN\tSOA");
    /* over UDP without EDNS the 100 addresses do not fit: TC; over TCP they all come */
    expect ("+noedns +ignore big.default.svc.cluster.local A", " tc");
    expect ("+tcp big.default.svc.cluster.local A", "ANSWER: 100,");
    /* dig retries a truncated answer over TCP by itself */
    expect ("+noedns big.default.svc.cluster.local A", "ANSWER: 100,");
    /* forwarded */
    expect ("+short example.org A", "192.0.2.7");
    expect ("+tcp +short example.org A", "192.0.2.7");
    /* an upstream's truncated answer: relayed as it is over UDP; asked again over TCP for a TCP client */
    expect ("+noedns +ignore big.example A", " tc");
    expect ("+tcp big.example A", "ANSWER: 50,");
    /* an upstream that never answers, then one that refuses: SERVFAIL */
    expect ("silent.example A", "status: SERVFAIL");
    burst ();
    dnsserve_stats_t st = dnsserve_stats (srv);
    assert_true (st.forwarded >= 3);
    assert_true (st.servfail >= 1);
    assert_true (st.tcp >= 2);
    stop = 1;
    pthread_join (t, NULL);
    dnsserve_destroy (&srv);
    assert_int_equal (nfds, 0);   /* every socket unwatched */
    dns_view_destroy (&view);
    close (up_fd);
    close (up_tcp);
}

static void
test_upstreams_from_resolv (void **state)
{
    (void) state;
    char *ups[DNSSERVE_MAX_UPSTREAMS];
    int n = dnsserve_upstreams_from_resolv ("# c\nnameserver 10.96.0.10\nsearch x\nnameserver 127.0.0.53\n"
                                            "nameserver bogus\nnameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n",
                                            "10.96.0.10", ups);
    assert_int_equal (n, 3);
    assert_string_equal (ups[0], "127.0.0.53");
    assert_string_equal (ups[1], "192.0.2.1");
    assert_string_equal (ups[2], "192.0.2.2");
    for (int i = 0; i < n; i++)
        free (ups[i]);
    assert_int_equal (dnsserve_upstreams_from_resolv (NULL, NULL, ups), 0);
}

int
main (void)
{
    if (system ("dig -v >/dev/null 2>&1")) {
        printf ("skipped: dig (bind9-dnsutils) is not installed\n");
        return 77;
    }
    const struct CMUnitTest tests[] = { cmocka_unit_test_setup (test_dig, setup), cmocka_unit_test (test_upstreams_from_resolv) };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
