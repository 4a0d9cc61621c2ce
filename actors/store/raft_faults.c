/* raft_faults — how the replicated store reacts to faults that libraft 0.15 handles badly
 * (docs/decisions.md, "libraft 0.15 bugs fixed only later"):
 *   - the Raft log cannot be written (disk full, I/O error): libraft 0.15 keeps a leader whose
 *     write failed in office (canonical/raft#320/#321), and it may later commit another entry at an
 *     index a follower already applied. This server stops at once instead, so that a majority that
 *     can still write elects a leader.
 *   - removal from the cluster: libraft stops replicating to a removed member, which never learns
 *     it was removed. The leader tells it (an "RM" peer message, over the CURVE peer sockets:
 *     only a holder of the cluster key can send it), and a member that finds itself absent from a
 *     committed configuration (a leader that removed itself) knows by itself. Either way it marks
 *     DATA/raft/removed, says so in its status (the server then stops: cmd_cluster.c), and a later
 *     start on that directory is refused.
 * See raft_store_int.h for the shared state. */
#include "actors/store/raft_store_int.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define NOTICE_FOR_MS 20000 /* a removed member is told again every second for this long */

/* libraft 0.15's raft_strerror knows no text for RAFT_NOSPACE */
static const char *
disk_error_name (int status)
{
    switch (status) {
    case RAFT_NOSPACE: return "no space left on the device";
    case RAFT_IOERR: return "I/O error";
    case RAFT_CORRUPT: return "persisted data is corrupted";
    default: return raft_strerror (status);
    }
}

int
rs_is_disk_error (int status)
{
    return status == RAFT_IOERR || status == RAFT_NOSPACE || status == RAFT_CORRUPT;
}

void
rs_check_disk (self_t *s, int status, const char *what)
{
    if (!rs_is_disk_error (status))
        return;
    const char *detail = s->raft_inited ? raft_errmsg (&s->raft) : "";
    TR_ERROR (A, "the Raft log in %s cannot be written (%s: %s, code %d%s%s): stopping this server now, so that "
                 "the members that can still write elect a leader (libraft 0.15 would keep a leader that cannot "
                 "write, canonical/raft#320); free the disk, then start it again",
              s->raft_dir, what, disk_error_name (status), status, detail && *detail ? ": " : "",
              detail ? detail : "");
    /* at once, from this thread: a clean stop would go on running libraft on this loop. What LMDB
     * holds unsynced stays in the page cache; the Raft log on the other members is the truth. */
    _exit (EX_IOERR);
}

/* ---- removal from the cluster --------------------------------------------------------------- */

static void
marker_path (self_t *s, char *buf, size_t len)
{
    snprintf (buf, len, "%s/removed", s->raft_dir);
}

int
rs_refuse_removed (self_t *s, char *err, size_t errlen)
{
    char path[1200], why[512] = "";
    marker_path (s, path, sizeof path);
    FILE *f = fopen (path, "r");
    if (!f)
        return 0;
    if (fgets (why, sizeof why, f))
        why[strcspn (why, "\n")] = 0;
    fclose (f);
    snprintf (err, errlen,
              "this server was removed from the cluster (%s, %s); its data directory cannot serve again. To join "
              "again: stop it, wipe %s (rm -rf %s), then start it with --join tcp://MEMBER:PORT --token TOKEN (the "
              "join token printed by troupe init, also in a member's pki/token)",
              path, why[0] ? why : "no detail", s->data, s->data);
    return -1;
}

void
rs_removed (self_t *s, const char *why)
{
    if (s->removed)
        return;
    s->removed = 1;
    char path[1200], tmp[1300], when[64];
    marker_path (s, path, sizeof path);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    time_t now = time (NULL);
    struct tm tm;
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r (&now, &tm));
    FILE *f = fopen (tmp, "w");
    int ok = f && fprintf (f, "removed %s, id %llu: %s\n", when, (unsigned long long) s->id, why) > 0 &&
             fflush (f) == 0 && fsync (fileno (f)) == 0;
    if (f)
        ok = fclose (f) == 0 && ok;
    if (!ok || rename (tmp, path))
        TR_ERROR (A, "cannot write %s: %s (a restart would not know this server was removed)", path, strerror (errno));
    TR_WARN (A, "removed from the cluster (%s): stopping this server; %s marks its data directory. To join again: "
                "wipe %s and start it with --join tcp://MEMBER:PORT --token TOKEN",
             why, path, s->data);
}

/* The leader's removal of a member committed: tell it, now and every second for a while. */
void
rs_notify_removed (self_t *s, raft_id id, const char *address)
{
    if (id == s->id || !address || !*address)
        return; /* a leader that removed itself finds itself absent from the configuration */
    size_t slot = 0;
    for (size_t i = 0; i < sizeof s->notices / sizeof s->notices[0]; i++)
        if (!s->notices[i].id || s->notices[i].id == id) {
            slot = i;
            break;
        } else if (s->notices[i].until < s->notices[slot].until)
            slot = i; /* all in use: replace the oldest */
    s->notices[slot].id = id;
    snprintf (s->notices[slot].address, sizeof s->notices[slot].address, "%s", address);
    s->notices[slot].until = zclock_mono () + NOTICE_FOR_MS;
    s->notices[slot].next = 0;
    TR_INFO (A, "telling the removed member id=%llu address=%s to stop", (unsigned long long) id, address);
}

void
rs_on_removed_notice (self_t *s, zmsg_t *m)
{
    zframe_t *idf = zmsg_next (m);
    raft_id id = 0;
    if (idf && zframe_size (idf) == 8)
        memcpy (&id, zframe_data (idf), 8);
    if (id != s->id || !s->joined)
        return; /* meant for an earlier server at this address */
    char why[128];
    snprintf (why, sizeof why, "the leader committed the removal of id %llu", (unsigned long long) id);
    rs_removed (s, why);
}

/* Twice the tick's job: resend removal notices; find this server absent from a committed
 * configuration that is newer than the last committed one it was in. A server that has never
 * been in a committed configuration (joining, catching up from old entries or an old snapshot)
 * is not concluded to be removed. */
void
rs_faults_tick (self_t *s)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < sizeof s->notices / sizeof s->notices[0]; i++) {
        if (!s->notices[i].id || now < s->notices[i].next)
            continue;
        if (now >= s->notices[i].until) {
            s->notices[i].id = 0;
            continue;
        }
        zmsg_t *m = zmsg_new ();
        zmsg_addstr (m, "RM");
        zmsg_addmem (m, &s->notices[i].id, 8);
        zbridge_send (s->zb, s->notices[i].address, &m);
        s->notices[i].next = now + 1000;
    }
    if (!s->raft_inited || !s->joined || s->removed || s->stopping)
        return; /* stopping: raft_close frees the configuration while the loop runs to its end */
    const struct raft *r = &s->raft;
    if (r->configuration_uncommitted_index || !r->configuration_index || r->configuration_index > r->commit_index ||
        !r->configuration.n)
        return; /* no committed configuration to judge by */
    int present = 0;
    for (unsigned i = 0; i < r->configuration.n; i++)
        present |= r->configuration.servers[i].id == s->id;
    if (present) {
        s->member_since = r->configuration_index;
        return;
    }
    if (s->member_since && r->configuration_index > s->member_since) {
        char why[128];
        snprintf (why, sizeof why, "absent from the committed configuration at index %llu",
                  (unsigned long long) r->configuration_index);
        rs_removed (s, why);
    }
}
