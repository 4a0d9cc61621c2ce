/* selector — Kubernetes label selectors. See selector.h. */
#include "core/selector.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOT_EXISTS } op_t;

typedef struct {
    char *key;
    op_t op;
    char **values;
    size_t nvalues;
} req_t;

struct selector {
    req_t *reqs;
    size_t n;
};

static void
add_value (req_t *r, const char *v, size_t len)
{
    r->values = realloc (r->values, (r->nvalues + 1) * sizeof *r->values);
    r->values[r->nvalues++] = strndup (v, len);
}

static req_t *
add_req (selector_t *s, const char *key, size_t klen, op_t op)
{
    s->reqs = realloc (s->reqs, (s->n + 1) * sizeof *s->reqs);
    req_t *r = &s->reqs[s->n++];
    memset (r, 0, sizeof *r);
    r->key = strndup (key, klen);
    r->op = op;
    return r;
}

static int
keychar (char c)
{
    return isalnum ((unsigned char) c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static void
skip_ws (const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

selector_t *
selector_parse (const char *text, char *err, size_t errlen)
{
    selector_t *s = calloc (1, sizeof *s);
    if (!text)
        return s;
    const char *p = text;
    skip_ws (&p);
    if (!*p)
        return s;
    for (;;) {
        skip_ws (&p);
        int neg = 0;
        if (*p == '!') {
            neg = 1;
            p++;
            skip_ws (&p);
        }
        const char *k = p;
        while (keychar (*p))
            p++;
        size_t klen = (size_t) (p - k);
        if (!klen) {
            snprintf (err, errlen, "label selector: expected a label key at offset %zu", (size_t) (p - text));
            selector_destroy (&s);
            return NULL;
        }
        skip_ws (&p);
        if (neg) {
            add_req (s, k, klen, OP_NOT_EXISTS);
        } else if (*p == '=' || (*p == '!' && p[1] == '=')) {
            op_t op = *p == '!' ? OP_NE : OP_EQ;
            p += (*p == '!' || p[1] == '=') ? 2 : 1;
            skip_ws (&p);
            const char *v = p;
            while (keychar (*p))
                p++;
            add_value (add_req (s, k, klen, op), v, (size_t) (p - v));
        } else if ((!strncmp (p, "notin", 5) && (p[5] == ' ' || p[5] == '(')) ||
                   (!strncmp (p, "in", 2) && (p[2] == ' ' || p[2] == '('))) {
            op_t op = p[0] == 'i' ? OP_IN : OP_NOTIN;
            p += op == OP_IN ? 2 : 5;
            skip_ws (&p);
            if (*p != '(') {
                snprintf (err, errlen, "label selector: expected '(' at offset %zu", (size_t) (p - text));
                selector_destroy (&s);
                return NULL;
            }
            p++;
            req_t *r = add_req (s, k, klen, op);
            for (;;) {
                skip_ws (&p);
                const char *v = p;
                while (keychar (*p))
                    p++;
                add_value (r, v, (size_t) (p - v));
                skip_ws (&p);
                if (*p == ',') {
                    p++;
                    continue;
                }
                if (*p == ')') {
                    p++;
                    break;
                }
                snprintf (err, errlen, "label selector: expected ',' or ')' at offset %zu", (size_t) (p - text));
                selector_destroy (&s);
                return NULL;
            }
        } else {
            add_req (s, k, klen, OP_EXISTS);
        }
        skip_ws (&p);
        if (!*p)
            break;
        if (*p != ',') {
            snprintf (err, errlen, "label selector: unexpected '%c' at offset %zu", *p, (size_t) (p - text));
            selector_destroy (&s);
            return NULL;
        }
        p++;
    }
    return s;
}

selector_t *
selector_from_object (const json_t *ls, char *err, size_t errlen)
{
    selector_t *s = calloc (1, sizeof *s);
    if (!ls || json_is_null (ls))
        return s;
    if (!json_is_object (ls)) {
        snprintf (err, errlen, "selector: must be an object");
        free (s);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get (ls, "matchLabels"), k, v) {
        if (!json_is_string (v)) {
            snprintf (err, errlen, "selector.matchLabels.%s: must be a string", k);
            selector_destroy (&s);
            return NULL;
        }
        add_value (add_req (s, k, strlen (k), OP_EQ), json_string_value (v), json_string_length (v));
    }
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get (ls, "matchExpressions"), i, e) {
        const char *key = json_string_value (json_object_get (e, "key"));
        const char *op = json_string_value (json_object_get (e, "operator"));
        op_t o;
        if (!key || !op) {
            snprintf (err, errlen, "selector.matchExpressions[%zu]: key and operator are required", i);
            selector_destroy (&s);
            return NULL;
        }
        if (!strcmp (op, "In"))
            o = OP_IN;
        else if (!strcmp (op, "NotIn"))
            o = OP_NOTIN;
        else if (!strcmp (op, "Exists"))
            o = OP_EXISTS;
        else if (!strcmp (op, "DoesNotExist"))
            o = OP_NOT_EXISTS;
        else {
            snprintf (err, errlen, "selector.matchExpressions[%zu].operator: Unsupported value: \"%s\"", i, op);
            selector_destroy (&s);
            return NULL;
        }
        req_t *r = add_req (s, key, strlen (key), o);
        size_t j;
        json_t *val;
        json_array_foreach (json_object_get (e, "values"), j, val) if (json_is_string (val))
            add_value (r, json_string_value (val), json_string_length (val));
    }
    return s;
}

bool
selector_matches (const selector_t *s, const json_t *labels)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const req_t *r = &s->reqs[i];
        const char *v = json_string_value (json_object_get (labels, r->key));
        int in = 0;
        for (size_t j = 0; v && j < r->nvalues; j++)
            in |= !strcmp (v, r->values[j]);
        switch (r->op) {
        case OP_EQ:
        case OP_IN:
            if (!v || !in)
                return false;
            break;
        case OP_NE:
        case OP_NOTIN:
            if (v && in)
                return false;
            break;
        case OP_EXISTS:
            if (!v)
                return false;
            break;
        case OP_NOT_EXISTS:
            if (v)
                return false;
            break;
        }
    }
    return true;
}

bool
selector_is_empty (const selector_t *s)
{
    return !s || s->n == 0;
}

void
selector_destroy (selector_t **p)
{
    selector_t *s = *p;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free (s->reqs[i].key);
        for (size_t j = 0; j < s->reqs[i].nvalues; j++)
            free (s->reqs[i].values[j]);
        free (s->reqs[i].values);
    }
    free (s->reqs);
    free (s);
    *p = NULL;
}
