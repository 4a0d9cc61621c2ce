/* proxynft — see proxynft.h */
#include "actors/proxy/proxynft.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* libnftables waits for the kernel's netlink answers with select(), whose fd_set holds only
 * descriptors below FD_SETSIZE (1024): in a process holding thousands of connections (`troupe up`
 * next to 5,000 hollow nodes) its socket is numbered above that and glibc aborts the process
 * ("bit out of range 0 - FD_SETSIZE on fd_set"). So a few low descriptors are kept reserved
 * (taken the first time, while the process is young) and freed for the moment nftables runs: its
 * sockets get the lowest free numbers, which are these. */
#define LOW_FDS 4
static int low_fd[LOW_FDS] = {-1, -1, -1, -1};
static pthread_mutex_t low_mu = PTHREAD_MUTEX_INITIALIZER;

static void
low_take (void)
{
    for (int i = 0; i < LOW_FDS; i++)
        if (low_fd[i] < 0) {
            int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd >= 0 && fd < 512)
                low_fd[i] = fd;
            else if (fd >= 0)
                close (fd);
        }
}

static void
nft_enter (void)
{
    pthread_mutex_lock (&low_mu);
    low_take ();
    for (int i = 0; i < LOW_FDS; i++)
        if (low_fd[i] >= 0) {
            close (low_fd[i]);
            low_fd[i] = -1;
        }
}

static void
nft_leave (void)
{
    low_take ();
    pthread_mutex_unlock (&low_mu);
}

/* Runs buf in a fresh context; out (if given) gets the output. 0, 1 when the error says the
 * object does not exist, -1 on another error (err filled). */
static int
run_low (const char *buf, int json, char **out, char *err, size_t errlen)
{
    struct nft_ctx *nft = nft_ctx_new (NFT_CTX_DEFAULT);
    if (!nft) {
        snprintf (err, errlen, "nftables: cannot make a context");
        return -1;
    }
    if (json)
        nft_ctx_output_set_flags (nft, NFT_CTX_OUTPUT_JSON);
    nft_ctx_buffer_output (nft);
    nft_ctx_buffer_error (nft);
    int rc = nft_run_cmd_from_buffer (nft, buf);
    if (rc) {
        const char *e = nft_ctx_get_error_buffer (nft);
        rc = e && strstr (e, "No such file or directory") ? 1 : -1;
        /* nft's error names the failing command and marks the place: keep it whole, trimmed */
        size_t n = e ? strlen (e) : 0;
        while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
            n--;
        snprintf (err, errlen, "nftables: %.*s", (int) (n ? n : 6), n ? e : "failed");
    } else if (out) {
        const char *o = nft_ctx_get_output_buffer (nft);
        *out = strdup (o ? o : "");
        if (!*out)
            rc = -1;
    }
    nft_ctx_free (nft);
    return rc;
}

static int
run (const char *buf, int json, char **out, char *err, size_t errlen)
{
    nft_enter ();
    int rc = run_low (buf, json, out, err, errlen);
    nft_leave ();
    return rc;
}

/* nft 1.0.6 points at the wrong line of a buffer in its errors; read from a file, it names the
 * line and shows it. The failed script is checked again that way (dry run) for the message. */
static void
locate_error (const char *script, char *err, size_t errlen)
{
    int fd = memfd_create ("troupe-proxy.nft", MFD_CLOEXEC);
    if (fd < 0)
        return;
    size_t len = strlen (script), off = 0;
    while (off < len) {
        ssize_t w = write (fd, script + off, len - off);
        if (w <= 0)
            break;
        off += (size_t) w;
    }
    nft_enter ();
    struct nft_ctx *nft = off == len ? nft_ctx_new (NFT_CTX_DEFAULT) : NULL;
    if (nft) {
        char path[64];
        snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
        nft_ctx_set_dry_run (nft, true);
        nft_ctx_buffer_output (nft);
        nft_ctx_buffer_error (nft);
        const char *e = nft_run_cmd_from_filename (nft, path) ? nft_ctx_get_error_buffer (nft) : NULL;
        size_t n = e ? strlen (e) : 0;
        while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
            n--;
        if (n)
            snprintf (err, errlen, "nftables: %.*s", (int) n, e);
        nft_ctx_free (nft);
    }
    nft_leave ();
    close (fd);
}

int
pn_apply (const char *script, char *err, size_t errlen)
{
    if (!script || !*script)
        return 0;
    if (!run (script, 0, NULL, err, errlen))
        return 0;
    locate_error (script, err, errlen);
    return -1;
}

int
pn_read (pr_model_t **out, char *err, size_t errlen)
{
    char *text = NULL;
    *out = NULL;
    int rc = run ("list table ip " PR_TABLE, 1, &text, err, errlen);
    if (rc == 1)
        return 0;
    if (rc)
        return -1;
    *out = pr_model_from_nft_json (text);
    free (text);
    if (!*out) {
        snprintf (err, errlen, "nftables: the table's listing is not nft's JSON");
        return -1;
    }
    return 0;
}

char *
pn_list (void)
{
    char *text = NULL, err[512];
    return run ("list table ip " PR_TABLE, 0, &text, err, sizeof err) ? NULL : text;
}

int
pn_delete (char *err, size_t errlen)
{
    char *s = pr_delete_script ();
    int rc = s ? pn_apply (s, err, errlen) : -1;
    free (s);
    return rc;
}

int
pn_sync (pr_model_t **current, pr_model_t *desired, int *lines, char *err, size_t errlen)
{
    if (lines)
        *lines = 0;
    if (!*current && pn_read (current, err, errlen)) {
        pr_model_free (&desired);
        return -1;
    }
    char *script = pr_diff (*current, desired);
    int rc = script ? pn_apply (script, err, errlen) : -1;
    if (!script)
        snprintf (err, errlen, "nftables: out of memory");
    if (rc && script && (*current)->readback) {
        /* the table found cannot be reconciled (e.g. a base chain of another priority, left by
         * another version): replaced whole, in one transaction, so traffic is never without rules */
        char *fresh = pr_diff (NULL, desired), *both = NULL;
        if (fresh && asprintf (&both, "add table ip " PR_TABLE "\ndelete table ip " PR_TABLE "\n%s", fresh) >= 0) {
            char err2[256];
            if (!pn_apply (both, err2, sizeof err2)) {
                rc = 0;
                free (script);
                script = both;
                both = NULL;
            }
        }
        free (both);
        free (fresh);
    }
    if (!rc && lines)
        for (const char *p = script; *p; p++)
            *lines += *p == '\n';
    free (script);
    pr_model_free (current);
    if (rc) {
        pr_model_free (&desired);
        return -1;
    }
    *current = desired;
    return 0;
}

int
pn_exists (void)
{
    char err[512];
    int rc = run ("list chain ip " PR_TABLE " nat-prerouting", 0, NULL, err, sizeof err);
    return rc == 0 ? 1 : rc == 1 ? 0 : -1;
}
