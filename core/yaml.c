/* yaml — see yaml.h. */
#include "core/yaml.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    yaml_parser_t parser;
    char *err;
    size_t errlen;
    long nodes;          /* nodes created, aliases counted at their full size */
    json_t *anchors;     /* name → [value, size] */
} loader_t;

static int
fail (loader_t *L, const yaml_mark_t *m, const char *what)
{
    snprintf (L->err, L->errlen, "yaml: line %zu column %zu: %s", m->line + 1, m->column + 1, what);
    return -1;
}

static int
next (loader_t *L, yaml_event_t *ev)
{
    if (!yaml_parser_parse (&L->parser, ev)) {
        const yaml_mark_t *m = L->parser.problem_mark.line || L->parser.problem_mark.column ? &L->parser.problem_mark
                                                                                            : &L->parser.context_mark;
        char what[256];
        snprintf (what, sizeof what, "%s%s%s", L->parser.problem ? L->parser.problem : "syntax error",
                  L->parser.context ? " " : "", L->parser.context ? L->parser.context : "");
        return fail (L, m, what);
    }
    return 0;
}

static int
is_int (const char *s, long long *out)
{
    const char *p = s;
    int base = 10;
    int neg = 0;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && !neg && s[0] != '+') {
        base = p[1] == 'x' ? 16 : 8;
        p += 2;
    } else if (p[0] == '0' && p[1] && strspn (p, "01234567") == strlen (p))
        base = 8; /* YAML 1.1's octal "0644", as kubectl's decoder reads it (file modes of volumes) */
    if (!*p)
        return 0;
    for (const char *q = p; *q; q++)
        if (!(base == 16 ? isxdigit ((unsigned char) *q) : base == 8 ? (*q >= '0' && *q <= '7') : isdigit ((unsigned char) *q)))
            return 0;
    errno = 0;
    long long v = strtoll (p, NULL, base);
    if (errno == ERANGE)
        return 0;
    *out = neg ? -v : v;
    return 1;
}

static int
is_float (const char *s, double *out)
{
    if (!strcmp (s, ".inf") || !strcmp (s, ".Inf") || !strcmp (s, ".INF") || !strcmp (s, "+.inf")) {
        *out = INFINITY;
        return 1;
    }
    if (!strcmp (s, "-.inf") || !strcmp (s, "-.Inf") || !strcmp (s, "-.INF")) {
        *out = -INFINITY;
        return 1;
    }
    if (!strcmp (s, ".nan") || !strcmp (s, ".NaN") || !strcmp (s, ".NAN")) {
        *out = NAN;
        return 1;
    }
    /* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    int digits = 0;
    while (isdigit ((unsigned char) *p))
        p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit ((unsigned char) *p))
            p++, digits++;
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!isdigit ((unsigned char) *p))
            return 0;
        while (isdigit ((unsigned char) *p))
            p++;
    }
    if (*p)
        return 0;
    *out = strtod (s, NULL);
    return 1;
}

/* Resolves a plain scalar per the core schema. New reference. */
static json_t *
resolve_plain (const char *s, size_t len)
{
    if (len == 0 || !strcmp (s, "~") || !strcmp (s, "null") || !strcmp (s, "Null") || !strcmp (s, "NULL"))
        return json_null ();
    if (!strcmp (s, "true") || !strcmp (s, "True") || !strcmp (s, "TRUE"))
        return json_true ();
    if (!strcmp (s, "false") || !strcmp (s, "False") || !strcmp (s, "FALSE"))
        return json_false ();
    long long i;
    if (is_int (s, &i))
        return json_integer (i);
    double d;
    json_t *r;
    /* jansson holds no inf/nan: those stay strings */
    if (is_float (s, &d) && (r = json_real (d)))
        return r;
    return json_stringn (s, len);
}

static json_t *parse_node (loader_t *L, yaml_event_t *ev, int depth, long *size);

static void
anchor_set (loader_t *L, const yaml_char_t *anchor, json_t *v, long size)
{
    if (anchor)
        json_object_set_new (L->anchors, (const char *) anchor, json_pack ("[O,I]", v, (json_int_t) size));
}

/* Parses the node whose first event is ev (consumed). Returns a new reference or NULL. */
static json_t *
parse_node (loader_t *L, yaml_event_t *ev, int depth, long *size)
{
    if (depth > TR_YAML_MAX_DEPTH) {
        fail (L, &ev->start_mark, "nesting deeper than 64");
        yaml_event_delete (ev);
        return NULL;
    }
    json_t *out = NULL;
    *size = 1;
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        json_t *a = json_object_get (L->anchors, (const char *) ev->data.alias.anchor);
        if (!a) {
            fail (L, &ev->start_mark, "unknown alias");
            break;
        }
        *size = (long) json_integer_value (json_array_get (a, 1));
        L->nodes += *size;
        if (L->nodes > TR_YAML_MAX_NODES) {
            fail (L, &ev->start_mark, "document expands to too many nodes (alias bomb?)");
            break;
        }
        out = json_incref (json_array_get (a, 0));
        break;
    }
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *) ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (strlen (v) != len) {
            fail (L, &ev->start_mark, "NUL byte in scalar");
            break;
        }
        const char *tag = (const char *) ev->data.scalar.tag;
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !(tag && !strcmp (tag, YAML_STR_TAG)))
            out = resolve_plain (v, len);
        else
            out = json_stringn (v, len);
        if (!out)
            fail (L, &ev->start_mark, "invalid UTF-8 in scalar");
        L->nodes++;
        if (out)
            anchor_set (L, ev->data.scalar.anchor, out, 1);
        break;
    }
    case YAML_SEQUENCE_START_EVENT: {
        yaml_char_t *anchor = ev->data.sequence_start.anchor ? (yaml_char_t *) strdup ((char *) ev->data.sequence_start.anchor) : NULL;
        out = json_array ();
        L->nodes++;
        for (;;) {
            yaml_event_t e;
            if (next (L, &e)) {
                json_decref (out);
                out = NULL;
                break;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete (&e);
                break;
            }
            long sz;
            json_t *item = parse_node (L, &e, depth + 1, &sz);
            if (!item) {
                json_decref (out);
                out = NULL;
                break;
            }
            *size += sz;
            json_array_append_new (out, item);
        }
        if (out)
            anchor_set (L, anchor, out, *size);
        free (anchor);
        break;
    }
    case YAML_MAPPING_START_EVENT: {
        yaml_char_t *anchor = ev->data.mapping_start.anchor ? (yaml_char_t *) strdup ((char *) ev->data.mapping_start.anchor) : NULL;
        out = json_object ();
        L->nodes++;
        for (;;) {
            yaml_event_t k;
            if (next (L, &k)) {
                json_decref (out);
                out = NULL;
                break;
            }
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete (&k);
                break;
            }
            if (k.type != YAML_SCALAR_EVENT) {
                fail (L, &k.start_mark, "mapping keys must be scalars");
                yaml_event_delete (&k);
                json_decref (out);
                out = NULL;
                break;
            }
            yaml_mark_t km = k.start_mark;
            char *key = strndup ((const char *) k.data.scalar.value, k.data.scalar.length);
            yaml_event_delete (&k);
            yaml_event_t v;
            long sz;
            json_t *val = next (L, &v) ? NULL : parse_node (L, &v, depth + 1, &sz);
            if (!val) {
                free (key);
                json_decref (out);
                out = NULL;
                break;
            }
            if (!strcmp (key, "<<") && json_is_object (val)) { /* merge key: fill what is not set */
                const char *mk;
                json_t *mv;
                json_object_foreach (val, mk, mv) if (!json_object_get (out, mk)) json_object_set (out, mk, mv);
                json_decref (val);
                free (key);
                continue;
            }
            if (json_object_get (out, key)) {
                char what[300];
                snprintf (what, sizeof what, "duplicate key \"%.200s\"", key);
                fail (L, &km, what);
                free (key);
                json_decref (val);
                json_decref (out);
                out = NULL;
                break;
            }
            if (json_object_set_new (out, key, val)) {
                fail (L, &km, "invalid UTF-8 in key");
                free (key);
                json_decref (out);
                out = NULL;
                break;
            }
            *size += sz;
            free (key);
        }
        if (out)
            anchor_set (L, anchor, out, *size);
        free (anchor);
        break;
    }
    default:
        fail (L, &ev->start_mark, "unexpected event");
    }
    yaml_event_delete (ev);
    return out;
}

json_t *
tr_yaml_load (const char *text, size_t len, char *err, size_t errlen)
{
    char dummy[8];
    loader_t L = {0};
    L.err = err ? err : dummy;
    L.errlen = err ? errlen : sizeof dummy;
    L.err[0] = 0;
    if (memchr (text, 0, len)) {
        snprintf (L.err, L.errlen, "yaml: byte %zu: NUL bytes are not allowed",
                  (size_t) ((const char *) memchr (text, 0, len) - text));
        return NULL;
    }
    yaml_parser_initialize (&L.parser);
    yaml_parser_set_input_string (&L.parser, (const unsigned char *) text, len);
    yaml_parser_set_encoding (&L.parser, YAML_UTF8_ENCODING);
    json_t *docs = json_array ();
    int ok = 1;
    for (;;) {
        yaml_event_t ev;
        if (next (&L, &ev)) {
            ok = 0;
            break;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete (&ev);
            break;
        }
        if (ev.type != YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete (&ev);
            continue; /* STREAM_START */
        }
        yaml_event_delete (&ev);
        L.anchors = json_object ();
        yaml_event_t root;
        if (next (&L, &root)) {
            ok = 0;
            json_decref (L.anchors);
            break;
        }
        long sz;
        json_t *doc = parse_node (&L, &root, 0, &sz);
        json_decref (L.anchors);
        L.anchors = NULL;
        if (!doc) {
            ok = 0;
            break;
        }
        yaml_event_t end;
        if (next (&L, &end)) {
            json_decref (doc);
            ok = 0;
            break;
        }
        yaml_event_delete (&end);
        if (json_is_null (doc))
            json_decref (doc); /* an empty document: "---" alone */
        else
            json_array_append_new (docs, doc);
    }
    yaml_parser_delete (&L.parser);
    if (!ok) {
        json_decref (docs);
        return NULL;
    }
    return docs;
}

/* ---- dump ----------------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

static int
write_handler (void *data, unsigned char *buffer, size_t size)
{
    sbuf_t *b = data;
    if (b->len + size + 1 > b->cap) {
        size_t cap = (b->len + size + 1) * 2;
        char *n = realloc (b->buf, cap);
        if (!n)
            return 0;
        b->buf = n;
        b->cap = cap;
    }
    memcpy (b->buf + b->len, buffer, size);
    b->len += size;
    b->buf[b->len] = 0;
    return 1;
}

static int
emit_scalar (yaml_emitter_t *e, const char *s, size_t len, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize (&ev, NULL, NULL, (yaml_char_t *) s, (int) len, 1, 1, style);
    return yaml_emitter_emit (e, &ev);
}

static int
emit (yaml_emitter_t *e, const json_t *v)
{
    yaml_event_t ev;
    char num[64];
    switch (json_typeof (v)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize (&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit (e, &ev))
            return 0;
        const char *k;
        json_t *x;
        json_object_foreach ((json_t *) v, k, x) {
            json_t *r = resolve_plain (k, strlen (k));
            int plain = json_is_string (r);
            json_decref (r);
            if (!emit_scalar (e, k, strlen (k), plain ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE) ||
                !emit (e, x))
                return 0;
        }
        yaml_mapping_end_event_initialize (&ev);
        return yaml_emitter_emit (e, &ev);
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize (&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit (e, &ev))
            return 0;
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) if (!emit (e, x)) return 0;
        yaml_sequence_end_event_initialize (&ev);
        return yaml_emitter_emit (e, &ev);
    }
    case JSON_STRING: {
        const char *s = json_string_value (v);
        size_t len = json_string_length (v);
        json_t *r = resolve_plain (s, len);
        /* quote what would read back as another type, and anything with line breaks or edge
         * whitespace that plain style would lose */
        int plain = json_is_string (r) && len && !strpbrk (s, "\n\r\t") && s[0] != ' ' && s[len - 1] != ' ';
        json_decref (r);
        return emit_scalar (e, s, len, plain ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    }
    case JSON_INTEGER:
        snprintf (num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value (v));
        return emit_scalar (e, num, strlen (num), YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL: {
        double d = json_real_value (v);
        if (isnan (d))
            snprintf (num, sizeof num, ".nan");
        else if (isinf (d))
            snprintf (num, sizeof num, d > 0 ? ".inf" : "-.inf");
        else {
            snprintf (num, sizeof num, "%.17g", d);
            if (!strpbrk (num, ".eE"))
                strcat (num, ".0"); /* keep it a float when read back */
        }
        return emit_scalar (e, num, strlen (num), YAML_PLAIN_SCALAR_STYLE);
    }
    case JSON_TRUE:
        return emit_scalar (e, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar (e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    case JSON_NULL:
        return emit_scalar (e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    }
    return 0;
}

char *
tr_yaml_dump (const json_t *v)
{
    yaml_emitter_t e;
    sbuf_t b = {0};
    yaml_emitter_initialize (&e);
    yaml_emitter_set_output (&e, write_handler, &b);
    yaml_emitter_set_unicode (&e, 1);
    yaml_emitter_set_width (&e, -1);
    yaml_event_t ev;
    int ok = 1;
    yaml_stream_start_event_initialize (&ev, YAML_UTF8_ENCODING);
    ok = ok && yaml_emitter_emit (&e, &ev);
    yaml_document_start_event_initialize (&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit (&e, &ev);
    ok = ok && emit (&e, v);
    yaml_document_end_event_initialize (&ev, 1);
    ok = ok && yaml_emitter_emit (&e, &ev);
    yaml_stream_end_event_initialize (&ev);
    ok = ok && yaml_emitter_emit (&e, &ev);
    yaml_emitter_delete (&e);
    if (!ok) {
        free (b.buf);
        return NULL;
    }
    return b.buf ? b.buf : strdup ("");
}
