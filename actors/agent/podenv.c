/* podenv — see podenv.h. */
#include "actors/agent/podenv.h"
#include "core/value.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *s;
    size_t len, cap;
} buf_t;

static void
put (buf_t *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc (b->s, b->cap);
    }
    memcpy (b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

char *
podenv_expand (const char *in, const json_t *vars)
{
    buf_t b = {0};
    put (&b, "", 0);
    size_t n = strlen (in);
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '$' || i + 1 == n) {
            put (&b, in + i, 1);
            continue;
        }
        char next = in[i + 1];
        if (next == '$') { /* "$$" is an escaped "$" */
            put (&b, "$", 1);
            i++;
            continue;
        }
        const char *close = next == '(' ? strchr (in + i + 2, ')') : NULL;
        if (!close) { /* "$x" or an unclosed "$(": as written */
            put (&b, in + i, 2);
            i++;
            continue;
        }
        size_t nl = (size_t) (close - (in + i + 2));
        char *name = strndup (in + i + 2, nl);
        json_t *v = vars ? json_object_get (vars, name) : NULL;
        if (json_is_string (v))
            put (&b, json_string_value (v), json_string_length (v));
        else /* undefined: the reference stays */
            put (&b, in + i, nl + 3);
        free (name);
        i = (size_t) (close - in);
    }
    return b.s;
}

static json_t *
expand_list (const json_t *list, const json_t *vars)
{
    json_t *out = json_array ();
    size_t i;
    json_t *x;
    json_array_foreach (list, i, x) {
        if (!json_is_string (x)) {
            json_array_append (out, x);
            continue;
        }
        char *e = podenv_expand (json_string_value (x), vars);
        json_array_append_new (out, json_string (e));
        free (e);
    }
    return out;
}

json_t *
podenv_container (const json_t *spec)
{
    json_t *out = json_object (), *vars = json_object (), *env = json_array ();
    size_t i;
    json_t *x;
    json_array_foreach (tv_get (spec, "env"), i, x) {
        const char *name = tv_str (x, "name"), *value = tv_str (x, "value");
        if (!name)
            continue;
        char *e = podenv_expand (value ? value : "", vars);
        /* a later duplicate wins, as in Kubernetes (the runtime would see the first one) */
        json_t *item = json_pack ("{s:s,s:s}", "name", name, "value", e);
        size_t j;
        json_t *y;
        int dup = 0;
        json_array_foreach (env, j, y) if (!dup && !strcmp (tv_str (y, "name"), name)) {
            json_array_set (env, j, item);
            dup = 1;
        }
        if (!dup)
            json_array_append (env, item);
        json_decref (item);
        json_object_set_new (vars, name, json_string (e));
        free (e);
    }
    if (tv_get (spec, "env"))
        json_object_set_new (out, "env", env);
    else
        json_decref (env);
    if (tv_get (spec, "command"))
        json_object_set_new (out, "command", expand_list (tv_get (spec, "command"), vars));
    if (tv_get (spec, "args"))
        json_object_set_new (out, "args", expand_list (tv_get (spec, "args"), vars));
    json_decref (vars);
    return out;
}
