/* nodesel — a NodeSelector compiled once, matched against many nodes (nodesel.h). */
#include "actors/scheduler/nodesel.h"
#include "actors/scheduler/nodelabels.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_IN, OP_NOTIN, OP_EXISTS, OP_DOESNOTEXIST, OP_GT, OP_LT } op_t;

typedef struct {
    const char *key;        /* a label key; NULL: metadata.name (matchFields) */
    op_t op;
    uint32_t first, nvalues; /* In/NotIn: values[first .. first+nvalues) */
    long long num;          /* Gt/Lt */
} req_t;

typedef struct {
    uint32_t first, nreqs;  /* reqs[first .. first+nreqs) */
    int bad;                /* malformed: matches nothing, reported when nothing matched */
    int empty;              /* no requirement: matches nothing */
} term_t;

struct nodesel {
    term_t *terms;
    size_t nterms;
    req_t *reqs;
    size_t nreqs;
    const char **values;
    size_t nvalues;
};

static int
parse_ll (const char *s, long long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll (s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

/* Compiles one requirement into self->reqs (room reserved by the caller); -1 when malformed. */
static int
compile_req (nodesel_t *self, const json_t *r, int field)
{
    const char *key = json_string_value (json_object_get (r, "key"));
    const char *op = json_string_value (json_object_get (r, "operator"));
    const json_t *values = json_object_get (r, "values");
    if (!key || !op)
        return -1;
    req_t q = {.key = field ? NULL : key, .first = (uint32_t) self->nvalues};
    if (!strcmp (op, "In"))
        q.op = OP_IN;
    else if (!strcmp (op, "NotIn"))
        q.op = OP_NOTIN;
    else if (field)
        return -1;
    else if (!strcmp (op, "Exists"))
        q.op = OP_EXISTS;
    else if (!strcmp (op, "DoesNotExist"))
        q.op = OP_DOESNOTEXIST;
    else if (!strcmp (op, "Gt") || !strcmp (op, "Lt")) {
        q.op = !strcmp (op, "Gt") ? OP_GT : OP_LT;
        if (json_array_size (values) != 1 || parse_ll (json_string_value (json_array_get (values, 0)), &q.num))
            return -1;
    } else
        return -1;
    if (field && strcmp (key, "metadata.name"))
        return -1;
    if (q.op == OP_IN || q.op == OP_NOTIN) {
        size_t i;
        json_t *v;
        json_array_foreach (values, i, v) {
            if (json_is_string (v))
                self->values[self->nvalues++] = json_string_value (v);
        }
        q.nvalues = (uint32_t) (self->nvalues - q.first);
    }
    self->reqs[self->nreqs++] = q;
    return 0;
}

nodesel_t *
nodesel_new (const json_t *terms)
{
    nodesel_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    size_t nt = json_is_array (terms) ? json_array_size (terms) : 0, nr = 0, nv = 0, i, j;
    json_t *t, *r;
    for (i = 0; i < nt; i++) {
        t = json_array_get (terms, i);
        const char *parts[2] = {"matchExpressions", "matchFields"};
        for (int p = 0; p < 2; p++)
            json_array_foreach (json_object_get (t, parts[p]), j, r) {
                nr++;
                nv += json_array_size (json_object_get (r, "values"));
            }
    }
    self->terms = calloc (nt ? nt : 1, sizeof *self->terms);
    self->reqs = calloc (nr ? nr : 1, sizeof *self->reqs);
    self->values = calloc (nv ? nv : 1, sizeof *self->values);
    if (!self->terms || !self->reqs || !self->values) {
        nodesel_destroy (&self);
        return NULL;
    }
    for (i = 0; i < nt; i++) {
        t = json_array_get (terms, i);
        term_t *term = &self->terms[self->nterms++];
        term->first = (uint32_t) self->nreqs;
        const json_t *exprs = json_object_get (t, "matchExpressions"), *fields = json_object_get (t, "matchFields");
        json_array_foreach (exprs, j, r) if (compile_req (self, r, 0)) term->bad = 1;
        json_array_foreach (fields, j, r) if (compile_req (self, r, 1)) term->bad = 1;
        term->nreqs = (uint32_t) (self->nreqs - term->first);
        term->empty = !json_array_size (exprs) && !json_array_size (fields);
    }
    return self;
}

void
nodesel_destroy (nodesel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    nodesel_t *self = *self_p;
    free (self->terms);
    free (self->reqs);
    free (self->values);
    free (self);
    *self_p = NULL;
}

size_t
nodesel_terms (const nodesel_t *self)
{
    return self ? self->nterms : 0;
}

static int
in_values (const nodesel_t *self, const req_t *q, const char *have)
{
    for (uint32_t i = 0; i < q->nvalues; i++)
        if (!strcmp (self->values[q->first + i], have))
            return 1;
    return 0;
}

static int
req_match (const nodesel_t *self, const req_t *q, const tr_sched_node_t *node)
{
    const char *have = q->key ? fw_node_label (node, q->key) : node->name;
    long long got;
    switch (q->op) {
    case OP_IN: return have && in_values (self, q, have);
    case OP_NOTIN: return !have || !in_values (self, q, have);
    case OP_EXISTS: return have != NULL;
    case OP_DOESNOTEXIST: return have == NULL;
    case OP_GT: return !parse_ll (have, &got) && got > q->num;
    case OP_LT: return !parse_ll (have, &got) && got < q->num;
    }
    return 0;
}

int
nodesel_match (const nodesel_t *self, const tr_sched_node_t *node)
{
    int bad = 0;
    if (!self)
        return 0;
    for (size_t i = 0; i < self->nterms; i++) {
        const term_t *t = &self->terms[i];
        if (t->bad) {
            bad = 1;
            continue;
        }
        if (t->empty)
            continue;
        uint32_t j = 0;
        while (j < t->nreqs && req_match (self, &self->reqs[t->first + j], node))
            j++;
        if (j == t->nreqs)
            return 1;
    }
    return bad ? -1 : 0;
}
