/* client — synchronous request/reply over one DEALER. See client.h. */
#include "core/client.h"

#include <stdlib.h>
#include <string.h>

struct tr_client {
    zsock_t *sock;
    uint64_t next_id;
};

tr_client_t *
tr_client_new (const char *endpoint, const tr_creds_t *creds, char *err, size_t errlen)
{
    zsock_t *s = tr_conn_dealer (endpoint, creds, err, errlen);
    if (!s)
        return NULL;
    tr_client_t *self = calloc (1, sizeof *self);
    self->sock = s;
    self->next_id = 1;
    return self;
}

void
tr_client_destroy (tr_client_t **self_p)
{
    if (!*self_p)
        return;
    zsock_destroy (&(*self_p)->sock);
    free (*self_p);
    *self_p = NULL;
}

int
tr_client_send (tr_client_t *self, tr_env_t *req)
{
    req->id = self->next_id++;
    return tr_conn_send (self->sock, NULL, req);
}

int
tr_client_recv (tr_client_t *self, tr_env_t *msg, int timeout_ms)
{
    tr_env_init (msg);
    zsock_set_rcvtimeo (self->sock, timeout_ms);
    char err[256];
    int rc = tr_conn_recv (self->sock, NULL, msg, err, sizeof err);
    if (rc == TR_UNAVAILABLE)
        return TR_TIMEOUT; /* rcvtimeo expired */
    return rc;
}

/* TooManyRequests is retried after the server's hint (body.details.retryAfterSeconds; none: 1 s), as
 * client-go does, while the caller's deadline allows: a full server delays, it does not fail. A
 * hint of 0 is no retry: the caller sees the 429 at once. */
int
tr_client_call (tr_client_t *self, tr_env_t *req, tr_env_t *reply, int timeout_ms)
{
    tr_env_init (reply);
    int64_t deadline = zclock_mono () + timeout_ms;
    for (int tries = 0;; tries++) {
        if (tr_client_send (self, req))
            return TR_UNAVAILABLE;
        for (;;) {
            int64_t left = deadline - zclock_mono ();
            if (left <= 0)
                return TR_TIMEOUT;
            int rc = tr_client_recv (self, reply, (int) left);
            if (rc == TR_TIMEOUT)
                return TR_TIMEOUT;
            if (rc == TR_OK && reply->id == req->id && reply->verb == TR_VERB_REPLY)
                break;
            tr_env_clear (reply); /* a stray event or an old reply: skip it */
        }
        if (reply->code != TR_TOO_MANY_REQUESTS || tries >= 10)
            return 0;
        json_t *ra = json_object_get (json_object_get (reply->body, "details"), "retryAfterSeconds");
        if (json_is_integer (ra) && json_integer_value (ra) == 0)
            return 0; /* no hint (client-go retries only with a Retry-After): the caller decides, as
                         a drain does on an eviction refused by a disruption budget */
        int64_t wait = json_is_integer (ra) ? json_integer_value (ra) * 1000 : 1000;
        wait = wait < 50 ? 50 : wait > 10000 ? 10000 : wait;
        if (zclock_mono () + wait >= deadline)
            return 0; /* no time left to retry: the caller sees TooManyRequests */
        tr_env_clear (reply);
        zclock_sleep ((int) wait);
    }
}

zsock_t *
tr_client_sock (tr_client_t *self)
{
    return self->sock;
}
