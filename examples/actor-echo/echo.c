/* actor-echo — a third-party actor: watches Pods and logs every change.
 * Build: part of the tree (libactor-echo.so), or alone:
 *   cc -shared -fPIC -I<troupe-src> echo.c -o libactor-echo.so
 * Run:   troupe server --actor ./libactor-echo.so    (or troupe up --actor …) */
#include "core/actor.h"
#include "core/log.h"
#include "core/value.h"

#include <stdlib.h>

typedef struct {
    troupe_informer_t *pods;
    long seen;
} echo_t;

static void
log_pod (echo_t *self, const char *what, const json_t *pod)
{
    self->seen++;
    const char *phase = tv_str (pod, "status.phase");
    TR_INFO ("echo", "pod %s ns=%s name=%s node=%s phase=%s", what, tv_str (pod, "metadata.namespace"),
             tv_str (pod, "metadata.name"), tv_str (pod, "spec.nodeName") ? tv_str (pod, "spec.nodeName") : "-",
             phase ? phase : "-");
}

static void
on_add (void *self, troupe_ctx_t *ctx, const json_t *obj)
{
    (void) ctx;
    log_pod (self, "added", obj);
}

static void
on_update (void *self, troupe_ctx_t *ctx, const json_t *old, const json_t *obj)
{
    (void) ctx;
    (void) old;
    log_pod (self, "updated", obj);
}

static void
on_delete (void *self, troupe_ctx_t *ctx, const json_t *obj)
{
    (void) ctx;
    log_pod (self, "deleted", obj);
}

static void *
echo_create (troupe_ctx_t *ctx, const json_t *config)
{
    (void) config;
    echo_t *self = calloc (1, sizeof *self);
    troupe_handlers_t h = {.on_add = on_add, .on_update = on_update, .on_delete = on_delete};
    self->pods = troupe_watch (ctx, "Pod", NULL, NULL, &h);
    TR_INFO ("echo", "watching pods");
    return self;
}

static void
echo_destroy (void **self_p)
{
    echo_t *self = *self_p;
    if (self)
        TR_INFO ("echo", "stopping seen=%ld", self->seen);
    free (self);
    *self_p = NULL;
}

static const troupe_actor_t echo_actor = {
    .abi = TROUPE_ACTOR_ABI,
    .name = "echo",
    .create = echo_create,
    .destroy = echo_destroy,
};

const troupe_actor_t *
troupe_actor_entry (void)
{
    return &echo_actor;
}
