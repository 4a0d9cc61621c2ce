/* raft_faults — how the replicated store reacts to faults that libraft 0.15 handles badly
 * (docs/decisions.md, "libraft 0.15 bugs fixed only later"):
 *   - the Raft log cannot be written (disk full, I/O error): libraft 0.15 keeps a leader whose
 *     write failed in office (canonical/raft#320/#321), and it may later commit another entry at an
 *     index a follower already applied. This server stops at once instead, so that a majority that
 *     can still write elects a leader.
 * See raft_store_int.h for the shared state. */
#include "actors/store/raft_store_int.h"
#include "core/log.h"

#include <sysexits.h>
#include <unistd.h>

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
