/* ctrl — what the pure controllers decide: a list of writes for the actor to send, plus helpers
 * they share (ownership, readiness, events). Decisions are functions of (objects, now). */
#ifndef TROUPE_CTRL_H
#define TROUPE_CTRL_H

#include <jansson.h>
#include <stdint.h>

#include "core/envelope.h"

typedef struct {
    tr_verb_t verb;           /* CREATE, UPDATE_STATUS, PATCH, DELETE */
    char kind[32];
    char ns[TR_NAME_MAX + 1];
    char name[TR_NAME_MAX + 1];
    uint64_t rv;              /* precondition (0: none) */
    json_t *body;             /* owned */
    json_t *opts;             /* owned, may be NULL: request options (gracePeriodSeconds...) */
    char owner[TR_NAME_MAX + 1]; /* the reconciled object's name, for follow-ups (events) */
} ctrl_action_t;

typedef struct {
    ctrl_action_t *v;
    size_t n, cap;
} ctrl_actions_t;

void ctrl_actions_add (ctrl_actions_t *a, tr_verb_t verb, const char *kind, const char *ns, const char *name,
                       uint64_t rv, json_t *body /* stolen */, const char *owner);
void ctrl_actions_clear (ctrl_actions_t *a);

/* The object's resourceVersion as a number (0 if absent). */
uint64_t ctrl_rv (const json_t *obj);
/* uid of the controller ownerReference, or NULL. */
const char *ctrl_controller_uid (const json_t *obj);
/* True if the pod is Ready; available if Ready for at least min_ready_s at now_ms. */
int ctrl_pod_ready (const json_t *pod);
int ctrl_pod_available (const json_t *pod, int64_t min_ready_s, int64_t now_ms);
/* Terminating or finished pods do not count as active replicas. */
int ctrl_pod_active (const json_t *pod);

/* What the ReplicaSet and Deployment controllers read of a pod, taken once per version of it
 * (podindex keeps one a pod, refreshed by each event), so that a sync over a ReplicaSet of 10,000
 * pods reads flags instead of walking 10,000 objects' ownerReferences and conditions. */
typedef struct {
    const json_t *pod;         /* that version (whoever keeps the facts holds a reference) */
    const char *owner;         /* its controller's uid (a string inside pod), NULL: none */
    int active, ready;         /* ctrl_pod_active, ctrl_pod_ready */
    int64_t ready_since_ms;    /* Ready's lastTransitionTime (ms), -1 when not Ready or unknown */
    /* a memo: whether the labels match the selector of the ReplicaSet of uid match_uid (a
     * ReplicaSet's selector is immutable, and a change of labels comes as a new version, whose
     * facts start with none) */
    char match_uid[48];
    int match;
} ctrl_podfacts_t;

void ctrl_podfacts (ctrl_podfacts_t *f, const json_t *pod);
/* ctrl_pod_available from the facts */
int ctrl_podfacts_available (const ctrl_podfacts_t *f, int64_t min_ready_s, int64_t now_ms);
/* Facts of each pod of a JSON array (for callers holding objects): n pointers to them, in one
 * allocation (one free) */
ctrl_podfacts_t **ctrl_podfacts_of_array (const json_t *pods, size_t *n);

/* A v1 Event about obj from a controller (new reference); see tr_event_new. */
json_t *ctrl_event (const json_t *obj, const char *type, const char *reason, const char *message,
                    const char *component, int64_t now_ms);

#endif
